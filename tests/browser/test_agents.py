"""A visitor asks for a person on the demo site and an agent takes them in the console: two
Chromium pages, one stack of their own."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest
from playwright.async_api import Browser, Page, expect

from tests.browser.conftest import TANDEM, Stack, sign_in, start_stack, wait_in_page

pytestmark = [pytest.mark.browser, pytest.mark.anyio]

PASSWORD = "correct horse battery staple"
# Every role and skill of the demo personae: this agent can take anyone they refer.
SKILLS = "onboarding-guide,billing-specialist,support-coach,assistant,general,team-admin,payments,invoices,reporting"


@pytest.fixture(scope="module")
def agent_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = start_stack(tmp_path_factory.mktemp("agent-stack"), variants=("standard",))
    store = running.server.args[running.server.args.index("--store") + 1]
    made = subprocess.run(
        [TANDEM, "user", "add", "ada.agent@acme.test", "--site", "demo", "--name", "Ada Agent",
         "--role", "agent", "--skills", SKILLS, "--password-stdin", "--store", store],
        input=PASSWORD + "\n", capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    yield running
    running.stop()


async def test_an_agent_takes_the_visitor_who_asked_closes_and_the_visitor_rates_it(
    browser: Browser, page: Page, agent_stack: Stack
) -> None:
    console = await (await browser.new_context()).new_page()
    server = agent_stack.server.url
    await console.goto(f"{server}/console/login")
    await console.get_by_label("Email").fill("ada.agent@acme.test")
    await console.get_by_label("Password").fill(PASSWORD)
    await console.get_by_role("button", name="Sign in").click()
    await expect(console.get_by_role("heading", name="Referred visitors")).to_be_visible()
    await console.get_by_role("button", name="Go online").click()
    await expect(console.locator("[data-presence]")).to_have_text("online")

    base = agent_stack.demo()
    await sign_in(page, base, email="grace@acme.test")
    await page.goto(f"{base}/billing")
    await wait_in_page(
        page, "window.Tandem && Tandem.status().connected && Tandem.status().user === 'u-grace'"
    )
    await page.get_by_role("button", name="Help", exact=True).click()
    panel = page.get_by_role("dialog", name="Need a hand?")
    await panel.get_by_role("button", name="Talk to a person").click()
    await expect(panel.locator(".answer")).to_contain_text("joining you here in a moment")

    await console.reload()
    await console.get_by_role("button", name="Accept").click()
    await expect(console.get_by_role("heading", name="Support session")).to_be_visible()
    await expect(panel.locator(".answer")).to_contain_text(
        "Ada Agent from the team is with you now."
    )
    await expect(panel.locator(".who")).to_have_text("A Ada Agent")

    # They chat: the agent from the console, the visitor from the widget; typing shows.
    await expect(panel.get_by_role("heading", name="Chat")).to_be_visible()
    await console.get_by_label("Message").fill("Hello Grace, let me look at your card.")
    await expect(panel.get_by_role("status").filter(has_text="is typing")).to_be_visible()
    await console.get_by_role("button", name="Send").click()
    await expect(panel.locator(".chat-log")).to_contain_text(
        "Ada Agent: Hello Grace, let me look at your card."
    )
    await page.get_by_label("Your message").fill("Thanks! It says expired.")
    await expect(console.get_by_text("The visitor is typing…")).to_be_visible()
    await page.get_by_label("Your message").press("Enter")
    await expect(console.locator("[data-chat-log]")).to_contain_text(
        "Visitor: Thanks! It says expired."
    )

    # The agent shows the visitor a walkthrough: it plays on the visitor's page.
    await console.get_by_label("Walkthrough").select_option("invite-teammate")
    await console.get_by_role("button", name="Show it to the visitor").click()
    await wait_in_page(page, "(Tandem.current() || {}).step === 'open-form'")
    # Its first step is on the Team page: it shows there, and the run goes with the visitor.
    await page.get_by_test_id("nav-team").click()
    await expect(page.locator("tandem-player [role=dialog]")).to_contain_text("Invite a teammate")
    await page.evaluate("Tandem.stop()")
    await page.get_by_role("button", name="Help", exact=True).click()

    await console.get_by_label("Outcome").select_option("resolved")
    await console.get_by_role("button", name="Close the session").click()
    await expect(panel.locator(".answer")).to_contain_text("How did we do?")
    await panel.get_by_role("button", name="4 of 5").click()
    await expect(panel.locator(".answer")).to_contain_text("Thank you")
    await wait_in_page(page, "Tandem.status().pending === 0")
    items = agent_stack.api("/api/users/demo/u-grace/profile")["support_items"]
    assert [i["payload"]["csat"]["score"] for i in items if "csat" in i["payload"]] == [4]
    assert [
        i["payload"]["agent_outcome"]["outcome"] for i in items if "agent_outcome" in i["payload"]
    ] == ["resolved"]
    await console.context.close()
