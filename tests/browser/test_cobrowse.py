"""An agent takes over the visitor's page with consent, in real Chromium: the visitor shares their
page, the agent sees it live (masked), is given control, fills the React-controlled invite form
and sends it for them, the visitor takes control back with Esc; a second agent joins and the
first one's connection drops and comes back — and the page took exactly one snapshot. Canary
strings typed into masked, private, placeholder, title and hidden fields appear in no frame,
log line or stored row."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from playwright.async_api import Browser, Page, WebSocket, expect

from tests.browser.conftest import TANDEM, Stack, sign_in, start_stack, wait_in_page
from tests.browser.test_agents import PASSWORD, SKILLS

pytestmark = [pytest.mark.browser, pytest.mark.anyio]

CANARIES = {
    "masked": "CANARY-MASKED-7d1",
    "private": "CANARY-PRIVATE-8e2",
    "password": "CANARY-PASSWORD-9f3",
    "placeholder": "CANARY-PLACEHOLDER-a04",
    "title": "CANARY-TITLE-b15",
    "hidden": "CANARY-HIDDEN-c26",
}


@pytest.fixture(scope="module")
def cobrowse_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = start_stack(tmp_path_factory.mktemp("cobrowse-stack"), variants=("standard",))
    store = running.server.args[running.server.args.index("--store") + 1]
    for email, name, role in (
        ("ada.agent@acme.test", "Ada Agent", "agent"),
        ("bob.lead@acme.test", "Bob Lead", "admin"),
    ):
        made = subprocess.run(
            [TANDEM, "user", "add", email, "--site", "demo", "--name", name, "--role", role,
             "--skills", SKILLS, "--password-stdin", "--store", store],
            input=PASSWORD + "\n", capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert made.returncode == 0, made.stderr
    yield running
    running.stop()


class Frames:
    """Every WebSocket frame a page sends and receives."""

    def __init__(self, page: Page) -> None:
        self.sent: list[bytes] = []
        self.received: list[bytes] = []
        page.on("websocket", self._watch)

    def _watch(self, ws: WebSocket) -> None:
        ws.on("framesent", lambda payload: self.sent.append(_bytes(payload)))
        ws.on("framereceived", lambda payload: self.received.append(_bytes(payload)))

    def sent_messages(self) -> list[dict[str, Any]]:
        """What the page sent, chunked messages put back together."""
        messages: list[dict[str, Any]] = []
        parts: dict[str, list[bytes]] = {}
        for frame in self.sent:
            message = msgspec.msgpack.decode(frame)
            if message.get("kind") == "chunk":
                parts.setdefault(message["id"], []).append(message["data"])
                if len(parts[message["id"]]) == message["total"]:
                    messages.append(msgspec.msgpack.decode(b"".join(parts.pop(message["id"]))))
            else:
                messages.append(message)
        return messages


def _bytes(payload: str | bytes) -> bytes:
    return payload if isinstance(payload, bytes) else payload.encode()


async def console_for(browser: Browser, server: str, email: str) -> tuple[Page, Frames]:
    console = await (await browser.new_context()).new_page()
    frames = Frames(console)
    await console.goto(f"{server}/console/login")
    await console.get_by_label("Email").fill(email)
    await console.get_by_label("Password").fill(PASSWORD)
    await console.get_by_role("button", name="Sign in").click()
    await expect(console.get_by_role("heading", name="Referred visitors")).to_be_visible()
    return console, frames


def written_by(stack: Stack) -> list[bytes]:
    """Every log line and stored byte of the server: its logs and its SQLite files (WAL included)."""
    files = [*Path(stack.server.logs).glob("*.log")]
    store = stack.server.args[stack.server.args.index("--store") + 1]
    database = Path(store.removeprefix("sqlite:///"))
    files += list(database.parent.glob(database.name + "*"))
    assert len(files) >= 2
    return [f.read_bytes() for f in files]


async def click_in_mirror(console: Page, selector: str) -> None:
    """Click the overlay where the mirror shows the element ``selector`` of the visitor's page."""
    point = await console.evaluate(
        """(selector) => {
          const frame = document.querySelector("[data-live-stage] iframe");
          const element = frame.contentDocument.querySelector(selector);
          const box = element.getBoundingClientRect();
          const outer = frame.getBoundingClientRect();
          const scale = outer.width / frame.offsetWidth;
          const overlay = document.querySelector("[data-live-overlay]").getBoundingClientRect();
          return {x: outer.left + (box.left + box.width / 2) * scale - overlay.left,
                  y: outer.top + (box.top + box.height / 2) * scale - overlay.top};
        }""",
        selector,
    )
    await console.locator("[data-live-overlay]").click(position=point)


async def test_an_agent_takes_over_with_consent_and_nothing_private_leaves_the_page(
    browser: Browser, page: Page, cobrowse_stack: Stack
) -> None:
    server = cobrowse_stack.server.url
    visitor = Frames(page)
    ada, ada_frames = await console_for(browser, server, "ada.agent@acme.test")
    await ada.get_by_role("button", name="Go online").click()

    base = cobrowse_stack.demo()
    await sign_in(page, base, email="grace@acme.test")
    await page.goto(f"{base}/team/invite")
    await wait_in_page(page, "window.Tandem && Tandem.status().connected")
    await page.get_by_test_id("invite-name").wait_for()
    # Canaries: a placeholder, a title, a hidden input, a private field and a password field.
    await page.evaluate(
        """(c) => {
          document.querySelector("[data-testid=invite-email]").placeholder = c.placeholder;
          document.querySelector("[data-testid=invite-name]").title = c.title;
          const form = document.querySelector("[data-testid=invite-form]");
          form.insertAdjacentHTML("beforeend",
            `<input type="hidden" name="ref" value="${c.hidden}">
             <label>Secret code <input data-tandem-private data-testid="canary-private"></label>
             <label>Password <input type="password" data-testid="canary-password"></label>`);
        }""",
        CANARIES,
    )
    await page.get_by_test_id("invite-message").fill(CANARIES["masked"])  # before the agent looks

    await page.get_by_role("button", name="Help", exact=True).click()
    panel = page.get_by_role("dialog", name="Need a hand?")
    await panel.get_by_role("button", name="Talk to a person").click()
    await ada.reload()
    await ada.get_by_role("button", name="Accept").click()
    live = ada.locator("#live")
    await expect(live.locator("[data-live-status]")).to_contain_text(
        "Waiting for the visitor to agree"
    )

    # The visitor is asked first; once they share, the agent sees their page, masked.
    question = page.get_by_role("alertdialog", name="Share this page with support?")
    await question.get_by_role("button", name="Share this page").click()
    await expect(
        page.get_by_role("status").filter(has_text="from support can see this page")
    ).to_be_visible()
    mirror = ada.frame_locator("[data-live-stage] iframe")
    await expect(mirror.get_by_role("heading", name="Invite a teammate")).to_be_visible()
    await page.get_by_test_id("canary-private").fill(CANARIES["private"])
    await page.get_by_test_id("canary-password").fill(CANARIES["password"])
    await page.get_by_test_id("invite-message").fill(CANARIES["masked"] + "-again")
    await expect(mirror.locator("[data-testid=invite-message]")).to_have_value("********")

    # Control: asked, allowed; the agent fills the Preact-controlled form and sends it.
    await ada.get_by_role("button", name="Ask for control").click()
    control = page.get_by_role("alertdialog", name="Let support click and type for you?")
    await control.get_by_role("button", name="Allow", exact=True).click()
    await expect(
        page.get_by_role("status").filter(has_text="can click and type for you")
    ).to_be_visible()
    await expect(live.locator("[data-live-status]")).to_contain_text("You have control")
    await ada.get_by_label("chooses a field to type into").check()
    await click_in_mirror(ada, "[data-testid=invite-name]")
    await ada.get_by_label("Text to type for the visitor").fill("Linus Agent")
    await ada.get_by_role("button", name="Type it").click()
    await expect(page.get_by_test_id("invite-name")).to_have_value("Linus Agent")
    await click_in_mirror(ada, "[data-testid=invite-email]")
    await ada.get_by_label("Text to type for the visitor").fill("linus@acme.test")
    await ada.get_by_role("button", name="Type it").click()
    await expect(page.get_by_test_id("invite-email")).to_have_value("linus@acme.test")
    await ada.get_by_label("clicks it for them").check()
    await click_in_mirror(ada, "[data-testid=invite-submit]")
    await expect(page.get_by_test_id("invite-sent")).to_contain_text("linus@acme.test")

    # Esc takes control back; the agent's clicks are refused from then on.
    await page.keyboard.press("Escape")
    await expect(
        page.get_by_role("status").filter(has_text="from support can see this page")
    ).to_be_visible()
    await expect(live.locator("[data-live-status]")).not_to_contain_text("You have control")
    await click_in_mirror(ada, "[data-testid=invite-submit]")
    await expect(live.locator("[data-live-result]")).to_contain_text("has not given control")

    # A second agent joins, and the first one's connection drops and comes back.
    bob, bob_frames = await console_for(browser, server, "bob.lead@acme.test")
    session = ada.url.rsplit("/", 1)[1]
    await bob.goto(f"{server}/console/demo/sessions/{session}")
    await expect(
        bob.frame_locator("[data-live-stage] iframe").get_by_test_id("invite-sent")
    ).to_be_visible()
    await expect(
        page.get_by_role("status").filter(has_text="Ada Agent and Bob Lead")
    ).to_be_visible()
    await ada.evaluate("tandemLive.drop()")
    await expect(live).to_have_attribute("data-connected", "false")
    await page.get_by_test_id("invite-message").fill("after the drop")
    await expect(live).to_have_attribute("data-connected", "true")
    await expect(mirror.locator("[data-testid=invite-message]")).to_have_value("********")
    await expect(live).to_have_attribute("data-replays", "1")  # the gap only: no new replay

    full = [m for m in visitor.sent_messages() if m.get("kind") == "mirror" and m.get("full")]
    assert len(full) == 1, "the page took one full snapshot across both joins and a reconnect"

    # No canary in any frame, log line or stored row.
    haystacks = [*visitor.sent, *visitor.received, *ada_frames.received, *ada_frames.sent]
    haystacks += [*bob_frames.received, *written_by(cobrowse_stack)]
    for name, canary in CANARIES.items():
        for haystack in haystacks:
            assert canary.encode() not in haystack, f"the {name} canary left the page"
    await ada.context.close()
    await bob.context.close()


async def test_the_visitor_can_say_no_be_asked_again_and_stop_sharing(
    browser: Browser, cobrowse_stack: Stack
) -> None:
    from tests.browser.test_widget import AXE, AXE_RUN

    context = await browser.new_context(viewport={"width": 1280, "height": 800}, bypass_csp=True)
    page = await context.new_page()  # axe-core is injected: this page bypasses the demo's CSP
    server = cobrowse_stack.server.url
    ada, _ = await console_for(browser, server, "ada.agent@acme.test")
    if await ada.get_by_role(
        "button", name="Go online"
    ).count():  # not yet, if this test runs alone
        await ada.get_by_role("button", name="Go online").click()
    base = cobrowse_stack.demo()
    await sign_in(page, base, email="alan@acme.test")
    await page.goto(f"{base}/billing")
    await wait_in_page(page, "window.Tandem && Tandem.status().connected")
    await page.get_by_role("button", name="Help", exact=True).click()
    await (
        page.get_by_role("dialog", name="Need a hand?")
        .get_by_role("button", name="Talk to a person")
        .click()
    )
    await ada.reload()
    await ada.get_by_role("button", name="Accept").click()
    live = ada.locator("#live")

    question = page.get_by_role("alertdialog", name="Share this page with support?")
    await expect(question).to_be_visible()
    await page.add_script_tag(path=str(AXE))
    assert await page.evaluate(AXE_RUN, "tandem-cobrowse") == []
    await question.get_by_role("button", name="Not now").click()
    await expect(live.locator("[data-live-status]")).to_contain_text("did not share their page")
    await expect(question).to_be_hidden()

    await ada.get_by_role("button", name="Ask again to see the page").click()
    await question.get_by_role("button", name="Share this page").click()
    banner = page.get_by_role("status").filter(has_text="from support can see this page")
    await expect(banner).to_be_visible()
    assert await page.evaluate(AXE_RUN, "tandem-cobrowse") == []
    await expect(
        ada.frame_locator("[data-live-stage] iframe").get_by_role(
            "heading", name="Billing", exact=True
        )
    ).to_be_visible()

    await banner.get_by_role("button", name="Stop sharing").click()
    await expect(banner).to_be_hidden()
    await expect(live.locator("[data-live-status]")).to_contain_text("did not share their page")
    await ada.context.close()
    await context.close()


async def test_the_consent_question_loads_only_when_asked_and_never_shares_without_it(
    browser: Browser, cobrowse_stack: Stack
) -> None:
    """tandem.js holds no co-browse UI: an ordinary page view never loads tandem-cobrowse.js, an
    agent asking does. When it cannot be loaded the page is not shared: it says no for the
    visitor, and the agent sees that; asked again, the question shows."""
    context = await browser.new_context()
    page = await context.new_page()
    visitor = Frames(page)
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url.rsplit("/", 1)[-1]))
    server = cobrowse_stack.server.url
    ada, _ = await console_for(browser, server, "ada.agent@acme.test")
    if await ada.get_by_role("button", name="Go online").count():  # not yet, if run alone
        await ada.get_by_role("button", name="Go online").click()

    base = cobrowse_stack.demo()
    await sign_in(page, base, email="ada@acme.test")
    await page.goto(f"{base}/billing")
    await wait_in_page(page, "window.Tandem && Tandem.status().connected")
    assert "tandem.js" in requested
    assert "tandem-cobrowse.js" not in requested
    assert await page.evaluate("typeof window.TandemCobrowse") == "undefined"

    await context.route("**/tandem-cobrowse.js", lambda route: route.abort())
    await page.get_by_role("button", name="Help", exact=True).click()
    await (
        page.get_by_role("dialog", name="Need a hand?")
        .get_by_role("button", name="Talk to a person")
        .click()
    )
    await ada.reload()
    await ada.get_by_role("button", name="Accept").click()
    live = ada.locator("#live")
    await expect(live.locator("[data-live-status]")).to_contain_text("did not share their page")
    question = page.get_by_role("alertdialog", name="Share this page with support?")
    assert await question.count() == 0
    assert "tandem-cobrowse.js" in requested  # tried, and failed
    assert "tandem-mirror.js" not in requested
    sent = [m for m in visitor.sent_messages() if m.get("kind") in ("consent", "mirror")]
    assert [(m["kind"], m.get("what"), m.get("granted")) for m in sent] == [
        ("consent", "view", False)
    ]

    await context.unroute("**/tandem-cobrowse.js")
    await ada.get_by_role("button", name="Ask again to see the page").click()
    await expect(question).to_be_visible()
    assert await page.evaluate("typeof window.TandemCobrowse") == "object"
    await question.get_by_role("button", name="Not now").click()
    await expect(question).to_be_hidden()
    assert "tandem-mirror.js" not in requested  # the recorder only after a yes
    await ada.context.close()
    await context.close()
