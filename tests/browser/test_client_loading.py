"""The Tandem script tag loads on the demo site under its strict CSP, in both variants."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import PageProblems, Stack, sign_in

pytestmark = pytest.mark.browser

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
def test_client_loads_on_every_page(
    page: Page, stack: Stack, problems: PageProblems, variant: str
) -> None:
    base = stack.demo(variant)
    sign_in(page, base)
    for path in PAGES:
        page.goto(f"{base}{path}")
        page.wait_for_function("window.Tandem !== undefined")
        config = page.evaluate("window.Tandem.config")
        assert config["site"] == "demo"
        assert config["server"] == stack.server.url
        assert config["socketUrl"] == stack.server.url.replace("http://", "ws://") + "/ws"
    assert problems.csp_violations == []
    assert problems.errors == []


def test_ready_event_announces_the_client(page: Page, stack: Stack) -> None:
    base = stack.demo()
    page.add_init_script(
        "document.addEventListener('tandem:ready', e => { window.__tandemReady = e.detail; })"
    )
    page.goto(f"{base}/signin")
    page.wait_for_function("window.__tandemReady !== undefined")
    detail = page.evaluate("window.__tandemReady")
    assert detail["site"] == "demo"
    assert detail["version"] == page.evaluate("window.Tandem.version")


def test_mutated_variant_looks_different_to_a_selector_but_not_to_a_person(
    page: Page, stack: Stack
) -> None:
    standard, mutated = stack.demo("standard"), stack.demo("mutated")
    sign_in(page, standard)
    page.goto(f"{standard}/team")
    expect(page.locator("#invite-open")).to_have_text("Invite a teammate")
    page.goto(f"{standard}/reports")
    assert page.get_by_test_id("export-open").evaluate("b => b.closest('section') === null")

    page.context.clear_cookies()
    sign_in(page, mutated)
    page.goto(f"{mutated}/team")
    assert page.locator("#invite-open").count() == 0
    assert page.locator(".btn").count() == 0
    expect(page.get_by_test_id("invite-open")).to_have_text("Add a team member")
    page.goto(f"{mutated}/reports")
    expect(page.get_by_test_id("export-open")).to_have_text("Download report")
    assert page.get_by_test_id("export-open").evaluate("b => b.closest('section') !== null")
    # Same look: the renamed classes are styled by the renamed stylesheet.
    colour = page.get_by_test_id("export-open").evaluate("b => getComputedStyle(b).backgroundColor")
    assert colour == "rgb(58, 79, 209)"
