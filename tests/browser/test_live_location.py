"""Live location per tab, in Chromium on the demo site, through the real server and client."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page

from tests.browser.conftest import PageProblems, Stack, sign_in, start_stack, wait_in_page

pytestmark = [pytest.mark.browser, pytest.mark.anyio]


async def eventually(
    check: Callable[[], Any], *, within: float = 20.0, what: str = "condition"
) -> Any:
    """Poll ``check`` until it returns something truthy; generous deadline, no timing asserted."""
    deadline = time.monotonic() + within
    last: Any = None
    while time.monotonic() < deadline:
        last = await asyncio.to_thread(check)
        if last:
            return last
        await asyncio.sleep(0.2)
    raise AssertionError(f"{what} not reached within {within} s (last: {last!r})")


def tab_at(stack: Stack, user: str, url: str, process: str | None) -> Callable[[], Any]:
    def check() -> Any:
        live = stack.api(f"/api/users/demo/{user}/location")
        return next((t for t in live["tabs"] if t["url"] == url and t["process"] == process), None)

    return check


async def test_location_api_follows_the_visitor_across_pages_and_spa_routes(
    page: Page, stack: Stack, problems: PageProblems
) -> None:
    base = stack.demo()
    await sign_in(page, base)
    await eventually(tab_at(stack, "u-ada", f"{base}/home", None), what="home")

    await page.get_by_test_id("nav-invoices").click()
    await eventually(
        tab_at(stack, "u-ada", f"{base}/invoices", "find-invoice"), what="invoices list"
    )
    await page.get_by_test_id("invoice-link-INV-1012").click()  # an SPA route (pushState)
    state = await eventually(
        tab_at(stack, "u-ada", f"{base}/invoices/INV-1012", "find-invoice"), what="invoice"
    )
    assert state["nav"] == "push"
    assert state["title"] == "INV-1012 · Acme Billing"
    await page.go_back()  # popstate
    await eventually(
        tab_at(stack, "u-ada", f"{base}/invoices", "find-invoice"), what="back to the list"
    )

    await page.get_by_test_id("nav-team").click()
    await page.get_by_test_id("invite-open").click()
    await eventually(
        tab_at(stack, "u-ada", f"{base}/team/invite", "invite-teammate"), what="invite page"
    )

    profile = stack.api("/api/users/demo/u-ada/profile")
    assert profile["traits"]["first_name"] == "Ada"
    assert profile["traits"]["email"] == "ada@acme.test"
    assert problems.errors == [] and problems.csp_violations == []


async def test_two_tabs_of_one_visitor_are_both_listed(browser: Browser, stack: Stack) -> None:
    base = stack.demo()
    context = await browser.new_context()
    try:
        first = await context.new_page()
        await sign_in(first, base, email="grace@acme.test")
        second = await context.new_page()
        await second.goto(f"{base}/reports")
        await first.goto(f"{base}/billing")

        def both() -> Any:
            live = stack.api("/api/users/demo/u-grace/location")
            urls = sorted(t["url"] for t in live["tabs"])
            return live if urls == [f"{base}/billing", f"{base}/reports"] else None

        live = await eventually(both, what="two tabs")
        tabs = {t["url"]: t for t in live["tabs"]}
        assert tabs[f"{base}/reports"]["process"] == "export-report"
        assert tabs[f"{base}/billing"]["process"] == "add-payment-method"
        assert tabs[f"{base}/reports"]["tab"] != tabs[f"{base}/billing"]["tab"]

        await second.close()
        await eventually(
            lambda: (
                [t["url"] for t in stack.api("/api/users/demo/u-grace/location")["tabs"]]
                == [f"{base}/billing"]
            ),
            what="the closed tab to disappear",
        )
    finally:
        await context.close()


@pytest.fixture
async def own_stack(tmp_path: Path) -> AsyncIterator[Stack]:
    """A server and demo site of this test's own, so it can stop and restart the server."""
    stack = await asyncio.to_thread(start_stack, tmp_path, ("standard",))
    yield stack
    await asyncio.to_thread(stack.stop)


async def test_events_sent_while_the_server_is_down_arrive_exactly_once(
    browser: Browser, own_stack: Stack
) -> None:
    stack = own_stack
    base = stack.demo()
    context = await browser.new_context()
    page = await context.new_page()
    try:
        await sign_in(page, base, email="alan@acme.test")
        await page.get_by_test_id("nav-invoices").click()
        await eventually(
            tab_at(stack, "u-alan", f"{base}/invoices", "find-invoice"), what="invoices"
        )
        tab = await page.evaluate("window.Tandem.status().tab")

        await asyncio.to_thread(stack.server.stop)
        visited: list[str] = []
        # SPA routes, then full page loads (tandem.js comes from the browser's cache), then SPA again.
        for number in ("INV-1003", "INV-1004"):
            await page.get_by_test_id(f"invoice-link-{number}").click()
            await page.get_by_test_id("invoice-detail").wait_for()
            visited.append(f"{base}/invoices/{number}")
            await page.get_by_test_id("invoice-back").click()
            await page.get_by_test_id("invoice-scroll").wait_for()
            visited.append(f"{base}/invoices")
        for path in ("/reports", "/billing", "/invoices"):
            await page.goto(f"{base}{path}")
            await wait_in_page(page, "window.Tandem !== undefined")
            visited.append(f"{base}{path}")
        await page.get_by_test_id("invoice-link-INV-1005").click()
        await page.get_by_test_id("invoice-detail").wait_for()
        visited.append(f"{base}/invoices/INV-1005")
        await page.wait_for_timeout(500)  # let the last route settle into the outbox
        pending = await page.evaluate("window.Tandem.status().pending")
        assert pending >= len(visited), (
            "everything sent while the server was down waits in the outbox"
        )

        await asyncio.to_thread(stack.server.start)
        await wait_in_page(page, "window.Tandem.status().pending === 0", within=90)

        events = stack.api(f"/api/users/demo/u-alan/events?tab={tab}&kind=location&limit=1000")[
            "events"
        ]
        cseqs = [e["cseq"] for e in events]
        assert len(cseqs) == len(set(cseqs)), "no event is stored twice"
        urls = [e["payload"]["url"] for e in events]
        tail = urls[-len(visited) :]
        assert tail == visited, "every location sent while the server was down arrived, in order"
        # The tab's first messages (on the sign-in page) belong to the anonymous visitor it was then.
        stored = stack.api(f"/api/users/demo/u-alan/events?tab={tab}&limit=1000")["events"]
        numbers = [e["cseq"] for e in stored]
        assert numbers == list(range(numbers[0], numbers[0] + len(numbers))), "no gap, no duplicate"
    finally:
        await context.close()
