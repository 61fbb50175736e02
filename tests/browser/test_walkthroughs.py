"""Walkthroughs end to end: tandem.js on the demo site plays runs the server starts, reports
every step, goes on across full page loads, SPA routes and reloads, and the profile and the
funnel show what happened.

Each test uses its own demo visitor, so runs of other tests never get in the way.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from tests.browser.conftest import Stack, sign_in, wait_in_page

pytestmark = [pytest.mark.browser, pytest.mark.anyio]

TOOLTIP = "tandem-player [role=dialog]"
INVITE_STEPS = ["open-form", "name", "email", "role", "message", "send"]


async def ready(page: Page, user: str) -> None:
    await wait_in_page(
        page,
        f"window.Tandem && Tandem.status().connected && Tandem.status().user === '{user}'",
    )


async def showing(page: Page, step: str) -> dict[str, Any]:
    """Wait until the player shows `step`, with its tooltip on screen."""
    current: dict[str, Any] = await wait_in_page(
        page, f"(window.Tandem && Tandem.current() || {{}}).step === '{step}' && Tandem.current()"
    )
    await expect(page.locator(TOOLTIP)).to_be_visible()
    return current


async def drive(page: Page) -> None:
    await page.locator("tandem-player [data-part=drive]").click()


async def stored(page: Page) -> None:
    """Everything the tab reported is acknowledged: stored by the server."""
    await wait_in_page(page, "Tandem.status().pending === 0")


def step_events(stack: Stack, user: str, run: str) -> list[tuple[str, str]]:
    events = stack.api(f"/api/users/demo/{user}/events?kind=step&limit=1000")["events"]
    return [
        (e["payload"]["step"], e["payload"]["event"]) for e in events if e["payload"]["run"] == run
    ]


def run_in_profile(stack: Stack, user: str, run: str) -> dict[str, Any]:
    profile = stack.api(f"/api/users/demo/{user}/profile")
    found: dict[str, Any] = next(r for r in profile["runs"] if r["run"] == run)
    return found


async def test_a_visitor_follows_a_walkthrough_across_a_page_load_and_tandem_does_the_steps_asked(
    page: Page, stack: Stack
) -> None:
    base = stack.demo()
    await sign_in(page, base, email="ada@acme.test")
    await page.goto(f"{base}/team")
    await ready(page, "u-ada")
    run = await page.evaluate("Tandem.start('invite-teammate').then((r) => r.run)")

    await showing(page, "open-form")
    await expect(page.locator(TOOLTIP)).to_contain_text("Invite a teammate")
    await expect(page.locator(TOOLTIP)).to_contain_text("Step 1 of 6")
    # The visitor clicks the highlighted link themselves: a full page load.
    await page.get_by_test_id("invite-open").click()
    await page.wait_for_url(f"{base}/team/invite")
    current = await showing(page, "name")
    assert current["run"] == run, "the same run goes on in the new page"

    await page.get_by_test_id("invite-name").fill("Katherine Johnson")
    await showing(page, "email")
    await page.get_by_test_id("invite-email").fill("katherine@example.com")
    await showing(page, "role")
    await drive(page)  # select
    await showing(page, "message")
    await drive(page)  # fill, with the visitor's first name from their signed traits
    await expect(page.get_by_test_id("invite-message")).to_have_value(
        "Hi! Ada here: join me on Acme Billing."
    )
    await showing(page, "send")
    await drive(page)  # click, then the confirmation is expected
    await expect(page.get_by_test_id("invite-sent")).to_be_visible()
    await wait_in_page(page, "Tandem.current() === null")
    await expect(page.locator("tandem-player")).to_have_count(0)
    await stored(page)

    mine = run_in_profile(stack, "u-ada", run)
    assert (mine["status"], mine["completed_steps"]) == ("completed", INVITE_STEPS)
    assert (
        step_events(stack, "u-ada", run)
        == [
            ("open-form", "shown"),
            ("open-form", "completed"),  # reported by the new page: its URL is the step's result
            *[(s, e) for s in INVITE_STEPS[1:] for e in ("shown", "completed")],
        ]
    )
    funnel = stack.api("/api/sites/demo/walkthroughs/invite-teammate/funnel")
    rows = {row["step"]: row for row in funnel["steps"]}
    assert all(rows[s]["shown"] >= 1 and rows[s]["completed"] >= 1 for s in INVITE_STEPS)
    assert rows["name"]["strategies"].get("testid", 0) >= 1


async def test_a_reload_resumes_the_step_and_escape_ends_the_run_for_good(
    page: Page, stack: Stack
) -> None:
    base = stack.demo()
    await sign_in(page, base, email="grace@acme.test")
    await page.goto(f"{base}/team/invite")
    await ready(page, "u-grace")
    run = await page.evaluate("Tandem.start('invite-teammate').then((r) => r.run)")
    # Already on the form: the first step's result is there, so the walkthrough goes on.
    await showing(page, "name")
    await stored(page)

    await page.reload()
    current = await showing(page, "name")
    assert current["run"] == run
    await expect(page.locator(TOOLTIP)).to_contain_text("Step 2 of 6")
    # The tooltip has the focus; Escape closes the walkthrough and removes all of its UI.
    await expect(page.locator(TOOLTIP)).to_be_focused()
    await page.keyboard.press("Escape")
    await wait_in_page(page, "Tandem.current() === null")
    await expect(page.locator("tandem-player")).to_have_count(0)
    assert await page.evaluate("sessionStorage.getItem('tandem.run')") is None
    await stored(page)
    mine = run_in_profile(stack, "u-grace", run)
    assert (mine["status"], mine["step"]) == ("abandoned", "name")
    assert step_events(stack, "u-grace", run)[-1] == ("name", "abandoned")

    # An ended run is not picked up again by the next page by itself...
    await page.reload()
    await ready(page, "u-grace")
    await stored(page)
    assert await page.evaluate("Tandem.current()") is None
    # ...only when the visitor asks to continue it: then it reopens at its step.
    answer = await page.evaluate(f"Tandem.resume('{run}')")
    assert (answer["status"], answer["step"]) == ("active", "name")
    await showing(page, "name")


async def test_a_walkthrough_follows_client_side_routes_and_a_list_that_loads_late(
    page: Page, stack: Stack
) -> None:
    base = stack.demo()
    await sign_in(page, base, email="alan@acme.test")
    await page.goto(f"{base}/invoices")
    await ready(page, "u-alan")
    run = await page.evaluate("Tandem.start('find-invoice').then((r) => r.run)")

    await showing(page, "open-invoice")
    link = page.get_by_test_id("invoice-link-INV-1001")
    await expect(link).to_be_visible()
    await drive(page)  # a click the router handles: pushState, no page load
    await page.wait_for_url(f"{base}/invoices/INV-1001")
    await showing(page, "amount")
    await expect(page.locator(TOOLTIP)).to_contain_text("what the invoice asks you to pay")
    # The highlight sits on the amount the router drew after the route change.
    box = await page.get_by_test_id("invoice-amount").bounding_box()
    ring = await page.locator("tandem-player .highlight").bounding_box()
    assert box is not None and ring is not None
    assert abs(ring["x"] + 4 - box["x"]) < 2 and abs(ring["y"] + 4 - box["y"]) < 2
    await page.locator("tandem-player [data-part=next]").click()
    await showing(page, "back")
    await page.get_by_test_id("invoice-back").click()
    await wait_in_page(page, "Tandem.current() === null")
    await stored(page)
    assert run_in_profile(stack, "u-alan", run)["status"] == "completed"
    assert ("open-invoice", "shown") in step_events(stack, "u-alan", run)


async def test_the_walkthrough_finds_its_targets_on_the_restyled_site(
    page: Page, stack: Stack
) -> None:
    mutated = stack.demo("mutated")
    await sign_in(page, mutated, email="grace@acme.test")
    await page.goto(f"{mutated}/team")
    await ready(page, "u-grace")
    await page.evaluate("Tandem.start('invite-teammate')")
    await showing(page, "open-form")
    box = await page.get_by_test_id("invite-open").bounding_box()
    ring = await page.locator("tandem-player .highlight").bounding_box()
    assert box is not None and ring is not None
    assert abs(ring["x"] + 4 - box["x"]) < 2 and abs(ring["width"] - 8 - box["width"]) < 2
    await drive(page)
    await page.wait_for_url(f"{mutated}/team/invite")
    await showing(page, "name")
    await page.evaluate("Tandem.stop()")
    await wait_in_page(page, "Tandem.current() === null")


async def test_a_visitor_who_comes_back_in_a_new_tab_continues_from_the_launcher(
    browser: Browser, stack: Stack
) -> None:
    base = stack.demo()
    first = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await first.new_page()
    await sign_in(page, base, email="grace@acme.test")
    await page.goto(f"{base}/team/invite")
    await ready(page, "u-grace")
    run = await page.evaluate("Tandem.start('invite-teammate').then((r) => r.run)")
    await showing(page, "name")
    await stored(page)
    await first.close()  # the tab is gone; the run is not over

    later = await browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = await later.new_page()
        await sign_in(page, base, email="grace@acme.test")
        await page.goto(f"{base}/team")
        await ready(page, "u-grace")
        assert await page.evaluate("Tandem.current()") is None  # a new tab plays nothing by itself
        await page.get_by_role("button", name="Help", exact=True).click()
        await page.get_by_role("button", name="Continue where you left off").click()
        # The run continues at its step, which is on the next page: the walkthrough waits for it.
        current = await wait_in_page(page, "Tandem.current()")
        assert (current["run"], current["step"]) == (run, "name")
    finally:
        await later.close()
