"""The Tandem script tag loads on the demo site under its strict CSP, in both variants."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from tests.browser.conftest import PageProblems, Stack, sign_in, wait_in_page

pytestmark = [pytest.mark.browser, pytest.mark.anyio]

PAGES = [
    "/home",
    "/invoices",
    "/billing",
    "/billing/payment-methods/new",
    "/team/invite",
    "/reports",
    "/settings",
]


@pytest.mark.parametrize("variant", ["standard", "mutated"])
async def test_client_loads_on_every_page(
    page: Page, stack: Stack, problems: PageProblems, variant: str
) -> None:
    base = stack.demo(variant)
    await sign_in(page, base)
    for path in PAGES:
        await page.goto(f"{base}{path}")
        await wait_in_page(page, "window.Tandem !== undefined")
        config = await page.evaluate("window.Tandem.config")
        assert config["site"] == "demo"
        assert config["server"] == stack.server.url
        assert config["socketUrl"] == stack.server.url.replace("http://", "ws://") + "/ws"
    assert problems.csp_violations == []
    assert problems.errors == []


async def test_ready_event_announces_the_client(page: Page, stack: Stack) -> None:
    base = stack.demo()
    await page.add_init_script(
        "document.addEventListener('tandem:ready', e => { window.__tandemReady = e.detail; })"
    )
    await page.goto(f"{base}/signin")
    await wait_in_page(page, "window.__tandemReady !== undefined")
    detail = await page.evaluate("window.__tandemReady")
    assert detail["site"] == "demo"
    assert detail["version"] == await page.evaluate("window.Tandem.version")


async def test_mutated_variant_looks_different_to_a_selector_but_not_to_a_person(
    page: Page, stack: Stack
) -> None:
    standard, mutated = stack.demo("standard"), stack.demo("mutated")
    await sign_in(page, standard)
    await page.goto(f"{standard}/team")
    await expect(page.locator("#invite-open")).to_have_text("Invite a teammate")
    await page.goto(f"{standard}/reports")
    assert await page.get_by_test_id("export-open").evaluate("b => b.closest('section') === null")

    await page.context.clear_cookies()
    await sign_in(page, mutated)
    await page.goto(f"{mutated}/team")
    assert await page.locator("#invite-open").count() == 0
    assert await page.locator(".btn").count() == 0
    await expect(page.get_by_test_id("invite-open")).to_have_text("Add a team member")
    await page.goto(f"{mutated}/reports")
    await expect(page.get_by_test_id("export-open")).to_have_text("Download report")
    assert await page.get_by_test_id("export-open").evaluate("b => b.closest('section') !== null")
    # Same look: the renamed classes are styled by the renamed stylesheet.
    colour = await page.get_by_test_id("export-open").evaluate(
        "b => getComputedStyle(b).backgroundColor"
    )
    assert colour == "rgb(58, 79, 209)"


async def test_a_page_asks_for_help_and_gets_the_walkthrough_for_its_process(
    page: Page, stack: Stack
) -> None:
    base = stack.demo()
    await sign_in(page, base, email="grace@acme.test")
    await page.goto(f"{base}/team/invite")
    await wait_in_page(
        page,
        "window.Tandem && window.Tandem.status().connected && window.Tandem.status().user === 'u-grace'",
    )
    await wait_in_page(
        page, "window.Tandem.status().pending === 0"
    )  # the server knows where the tab is
    answer = await page.evaluate("Tandem.help('how do I add a colleague?')")

    assert (answer["offer"], answer["walkthrough"], answer["title"]) == (
        "walkthrough",
        "invite-teammate",
        "Invite a teammate",
    )
    assert answer["persona"]["name"]
    run = await page.evaluate(
        "(session) => Tandem.start('invite-teammate', {session})", answer["session"]
    )
    assert (run["walkthrough"], run["step"]) == ("invite-teammate", "open-form")
    assert [s["id"] for s in run["steps"]][:2] == ["open-form", "name"]
    trail = stack.api(f"/api/sites/demo/support-sessions/{answer['session']}")
    assert trail["user"] == "u-grace" and trail["runs"][0]["run"] == run["run"]
