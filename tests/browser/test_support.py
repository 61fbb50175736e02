"""Automated support as visitors meet it on the demo site: help that remembers what they did,
and a person offered without asking when Tandem sees them struggle — with the evidence in the
decision trail and a signed handoff to the site's webhook.

These tests run on a stack of their own (the visitors' history decides what they are offered),
whose demo site sends referrals to a webhook receiver in this process.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
from playwright.async_api import Page, expect

from server.channels.webhook import SIGNATURE_HEADER, verify
from tests.browser.conftest import WEBHOOK_SECRET, Stack, sign_in, start_stack, wait_in_page
from tests.conftest import REPO
from tests.webhook_receiver import Receiver, webhook_receiver

pytestmark = [pytest.mark.browser, pytest.mark.anyio]

TOOLTIP = "tandem-player [role=dialog]"


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with webhook_receiver() as running:
        yield running


@pytest.fixture(scope="module")
def support_stack(tmp_path_factory: pytest.TempPathFactory, receiver: Receiver) -> Iterator[Stack]:
    running = start_stack(
        tmp_path_factory.mktemp("support-stack"), variants=("standard",), webhook=receiver.url
    )
    yield running
    running.stop()


async def ready(page: Page, user: str) -> None:
    await wait_in_page(
        page,
        f"window.Tandem && Tandem.status().connected && Tandem.status().user === '{user}'",
    )


async def ask(page: Page, question: str) -> Any:
    panel = page.get_by_role("dialog", name="Need a hand?")
    if not await panel.is_visible():
        await page.get_by_role("button", name="Help", exact=True).click()
    await page.get_by_label("Ask a question").fill(question)
    await page.keyboard.press("Enter")
    return panel


async def test_help_remembers_a_walkthrough_the_visitor_abandoned_and_resumes_it_at_its_step(
    page: Page, support_stack: Stack
) -> None:
    base = support_stack.demo()
    await sign_in(page, base, email="alan@acme.test")
    await page.goto(f"{base}/team/invite")
    await ready(page, "u-alan")

    panel = await ask(page, "how do I add a colleague?")
    await expect(panel.locator(".who")).to_have_text("🧭 Robin")  # the persona for a new visitor
    await panel.get_by_role("button", name="Show me: Invite a teammate").click()
    await wait_in_page(page, "(Tandem.current() || {}).step === 'name'")
    await page.get_by_test_id("invite-name").fill("Joan Clarke")
    await wait_in_page(page, "(Tandem.current() || {}).step === 'email'")
    run = (await page.evaluate("Tandem.current()"))["run"]
    # The visitor gives up: Escape closes the walkthrough.
    await page.locator(TOOLTIP).focus()
    await page.keyboard.press("Escape")
    await wait_in_page(page, "Tandem.current() === null")
    await wait_in_page(page, "Tandem.status().pending === 0")

    panel = await ask(page, "how do I add a colleague?")
    await expect(panel.locator(".answer")).to_contain_text("continue where you left off")
    await panel.get_by_role("button", name="Continue", exact=True).click()
    current = await wait_in_page(
        page, "(Tandem.current() || {}).step === 'email' && Tandem.current()"
    )
    assert current["run"] == run, "the same run, at the step it was left on"
    await expect(page.locator(TOOLTIP)).to_contain_text("Step 3 of 6")

    items = support_stack.api("/api/users/demo/u-alan/profile")["support_items"]
    asked = [i for i in items if i["kind"] == "support_session" and "offer" in i["payload"]]
    second = asked[-1]["payload"]
    assert (second["offer"], second["walkthrough"], second["step"]) == (
        "resume",
        "invite-teammate",
        "email",
    )


async def test_rage_clicks_on_a_dead_button_bring_a_person_without_asking(
    page: Page, support_stack: Stack, receiver: Receiver
) -> None:
    base = support_stack.demo()
    await sign_in(page, base, email="grace@acme.test")
    await page.goto(f"{base}/settings")
    await ready(page, "u-grace")
    dead = page.get_by_test_id("dead-button")
    for _ in range(3):  # three clicks in well under a second, on the same spot
        await dead.click(delay=20)

    panel = page.get_by_role("dialog", name="Need a hand?")
    await expect(panel).to_be_visible()  # opened by Tandem: the visitor did not ask
    await expect(panel.locator(".answer")).to_contain_text("will get in touch")
    await expect(dead).to_be_focused()  # the visitor's focus stays where it was
    items = support_stack.api("/api/users/demo/u-grace/profile")["support_items"]
    session = next(
        i["payload"]["session"]
        for i in reversed(items)
        if i["kind"] == "support_session" and i["payload"]["channel"] == "frustration"
    )
    trail = support_stack.api(f"/api/sites/demo/support-sessions/{session}")
    assert trail["offer"]["kind"] == "person"
    assert trail["referral"]["triggers"] == ["frustration"]
    [why] = [r for r in trail["reasons"] if r["code"] == "frustration"]
    rage = next(s for s in why["detail"]["signals"] if s["kind"] == "rage_click")
    assert rage["clicks"] >= 3 and "dead-button" in rage["target"]

    [hook] = [r for r in await receiver.wait_for(1) if session.encode() in r.body]
    now = int(time.time())
    assert verify(WEBHOOK_SECRET.encode(), hook.headers[SIGNATURE_HEADER], hook.body, now_s=now)
    tampered = hook.body.replace(b'"u-grace"', b'"u-mallory"')
    assert not verify(WEBHOOK_SECRET.encode(), hook.headers[SIGNATURE_HEADER], tampered, now_s=now)
    schema = json.loads((REPO / "docs" / "schemas" / "handoff.json").read_text())
    packet = json.loads(hook.body)
    jsonschema.Draft202012Validator(schema).validate(packet)
    assert packet["location"]["url"].endswith("/settings")
    assert any(s["kind"] == "rage_click" for s in packet["frustration"]["signals"])


async def test_a_walkthrough_that_reached_its_goal_asks_if_it_helped_and_scores_the_session(
    page: Page, support_stack: Stack
) -> None:
    base = support_stack.demo()
    await sign_in(page, base, email="ada@acme.test")
    await page.goto(f"{base}/team/invite")
    await ready(page, "u-ada")
    panel = await ask(page, "how do I add a colleague?")
    await panel.get_by_role("button", name="Show me: Invite a teammate").click()
    await wait_in_page(page, "(Tandem.current() || {}).step === 'name'")
    session = await page.evaluate("Tandem.current() && Tandem.current().run")
    await page.get_by_test_id("invite-name").fill("Mary Kenneth Keller")
    await wait_in_page(page, "(Tandem.current() || {}).step === 'email'")
    await page.get_by_test_id("invite-email").fill("mary@acme.test")
    for step in ("role", "message", "send"):
        await wait_in_page(page, f"(Tandem.current() || {{}}).step === '{step}'")
        await page.locator("tandem-player [data-part=drive]").click()
    await expect(page.get_by_test_id("invite-sent")).to_be_visible()

    # The run is over: the widget asks, without taking the focus.
    await expect(panel).to_be_visible()
    await expect(panel.locator(".answer")).to_contain_text("Did this help?")
    await panel.get_by_role("button", name="Yes").click()
    await expect(panel.locator(".answer")).to_contain_text("Thanks!")

    run = session  # the run id; its support session is the one the widget's answer started
    items = support_stack.api("/api/users/demo/u-ada/profile")["support_items"]
    opened = next(i["payload"]["session"] for i in items if "offer" in i["payload"])
    deadline = time.monotonic() + 30
    while True:
        trail = support_stack.api(f"/api/sites/demo/support-sessions/{opened}")
        score = trail["effectiveness"]
        if score and score["score"] == 1.0:
            break
        assert time.monotonic() < deadline, f"the session was not scored 1.0: {score}"
        await page.wait_for_timeout(200)
    parts = {c["name"]: (c["value"], c["basis"]) for c in score["components"]}
    assert parts["goal_reached"] == (1.0, "confirmed")  # the run completed and the goal showed
    assert parts["visitor_confirmation"] == (1.0, "confirmed")
    assert trail["runs"][0]["run"] == run and trail["runs"][0]["status"] == "completed"
