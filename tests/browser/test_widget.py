"""The help widget and the player together, as a visitor uses them: ask, get an answer from a
persona, start the walkthrough it offers, or pick a guide for the page; checked with axe-core.

These tests run on a stack of their own, so the visitors' history (which decides the
persona and the offer) is exactly what the tests did.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from tests.browser.conftest import Stack, sign_in, start_stack, wait_in_page
from tests.conftest import REPO

pytestmark = [pytest.mark.browser, pytest.mark.anyio]

AXE = REPO / "client_js" / "node_modules" / "axe-core" / "axe.min.js"
TOOLTIP = "tandem-player [role=dialog]"


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = start_stack(tmp_path_factory.mktemp("widget-stack"), variants=("standard",))
    yield running
    running.stop()


async def ready(page: Page, user: str) -> None:
    await wait_in_page(
        page,
        f"window.Tandem && Tandem.status().connected && Tandem.status().user === '{user}'",
    )


async def test_the_widget_answers_as_a_persona_and_starts_the_walkthrough_it_offers(
    page: Page, own_stack: Stack
) -> None:
    base = own_stack.demo()
    await sign_in(page, base, email="ada@acme.test")
    await page.goto(f"{base}/team")
    await ready(page, "u-ada")

    launch = page.get_by_role("button", name="Help", exact=True)
    await expect(launch).to_have_attribute("aria-expanded", "false")
    await launch.click()
    panel = page.get_by_role("dialog", name="Need a hand?")
    await expect(panel).to_be_visible()
    await expect(launch).to_have_attribute("aria-expanded", "true")
    await expect(page.get_by_label("Ask a question")).to_be_focused()
    # The guides for this page: the launcher.
    await expect(panel.get_by_role("button", name="Invite a teammate")).to_be_visible()

    await page.get_by_label("Ask a question").fill("how do I add a colleague?")
    await page.keyboard.press("Enter")
    await expect(panel.locator(".who")).to_have_text("🧭 Robin")  # a new visitor meets the guide
    await expect(panel.locator(".answer")).to_contain_text("step by step")
    await panel.get_by_role("button", name="Show me: Invite a teammate").click()

    await expect(panel).to_be_hidden()
    await expect(page.locator(TOOLTIP)).to_be_visible()
    # The same persona guides the walkthrough, in its own words.
    await expect(page.locator(f"{TOOLTIP} .who")).to_have_text("🧭 Robin")
    await expect(page.locator(TOOLTIP)).to_contain_text("Let's invite someone!")
    current: dict[str, Any] = await page.evaluate("Tandem.current()")
    session = own_stack.api(f"/api/sites/demo/support-sessions/{_session_of(own_stack)}")
    assert session["runs"][0]["run"] == current["run"]

    # Escape in the panel closes it and gives the focus back to the button.
    await launch.click()
    await expect(panel).to_be_visible()
    await page.keyboard.press("Escape")
    await expect(panel).to_be_hidden()
    await expect(launch).to_be_focused()


def _session_of(stack: Stack) -> str:
    items = stack.api("/api/users/demo/u-ada/profile")["support_items"]
    session: str = items[-1]["payload"]["session"]
    return session


async def test_a_question_the_faq_answers_shows_the_answer_where_the_visitor_is(
    page: Page, own_stack: Stack
) -> None:
    base = own_stack.demo()
    await sign_in(page, base, email="grace@acme.test")
    await page.goto(f"{base}/settings")
    await ready(page, "u-grace")
    await page.get_by_role("button", name="Help", exact=True).click()
    panel = page.get_by_role("dialog", name="Need a hand?")
    await expect(panel.locator(".guides")).to_contain_text("No guides for this page.")
    await page.get_by_label("Ask a question").fill("How do I export my invoices?")
    await panel.get_by_role("button", name="Ask").click()
    faq = panel.locator("details.faq").first
    await expect(faq).to_have_attribute("open", "")
    await expect(faq.locator("summary")).to_have_text("How do I export my invoices?")
    await expect(faq).to_contain_text("Reports")
    assert await panel.get_by_role("button", name="Show me", exact=False).count() == 0


@pytest.fixture
async def axe_page(browser: Browser) -> AsyncIterator[Page]:
    """A page where axe-core can be injected: Playwright inlines the script, which the
    demo's policy would refuse, so this context bypasses Content-Security-Policy."""
    if not AXE.exists():
        pytest.fail("axe-core is missing: run `npm ci` in client_js")
    context = await browser.new_context(viewport={"width": 1280, "height": 800}, bypass_csp=True)
    context.set_default_timeout(15_000)
    yield await context.new_page()
    await context.close()


async def test_the_widget_and_the_player_pass_axe(axe_page: Page, own_stack: Stack) -> None:
    page = axe_page
    base = own_stack.demo()
    await sign_in(page, base, email="alan@acme.test")
    await page.goto(f"{base}/team")
    await ready(page, "u-alan")
    await page.get_by_role("button", name="Help", exact=True).click()
    panel = page.get_by_role("dialog", name="Need a hand?")
    await page.get_by_label("Ask a question").fill("how do I add a colleague?")
    await page.keyboard.press("Enter")
    await expect(panel.locator(".answer .text")).not_to_be_empty()
    await page.add_script_tag(path=str(AXE))
    widget = await page.evaluate(AXE_RUN, "tandem-widget")
    assert widget == [], widget

    await panel.get_by_role("button", name="Invite a teammate", exact=True).click()
    await expect(page.locator(TOOLTIP)).to_be_visible()
    player = await page.evaluate(AXE_RUN, "tandem-player")
    assert player == [], player


# Run axe on one of Tandem's elements (and its shadow root); the violations, briefly.
AXE_RUN = """async (selector) => {
  const result = await axe.run({ include: [[selector]] }, { resultTypes: ['violations'] });
  return result.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target) }));
}"""


async def test_talk_to_a_person_refers_the_visitor_at_once(page: Page, own_stack: Stack) -> None:
    base = own_stack.demo()
    await sign_in(page, base, email="grace@acme.test")
    await page.goto(f"{base}/billing")
    await ready(page, "u-grace")
    await page.get_by_role("button", name="Help", exact=True).click()
    panel = page.get_by_role("dialog", name="Need a hand?")
    await page.get_by_label("Ask a question").fill("my card keeps being refused")
    await panel.get_by_role("button", name="Talk to a person").click()
    await expect(panel.locator(".answer")).to_contain_text("will get in touch")
    items = own_stack.api("/api/users/demo/u-grace/profile")["support_items"]
    referred = [i for i in items if "referral" in i["payload"]]
    assert referred and referred[-1]["payload"]["referral"]["triggers"] == ["asked_for_human"]
    assert referred[-1]["failure_reason"] == "user_asked_for_human"
