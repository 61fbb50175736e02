"""The recorder in headless Chromium: a scripted recording on the demo site (an SPA route, a
field in a shadow root, a button in an iframe, the invite form) validates and verifies on both
variants; typed secrets never leave the page (every event the recorder received, the file and
the store are scanned); hover menus, ticks, keys, uploads and captchas become the right steps;
the toolbar writes, marks, expects, undoes and finishes; a step whose element was removed
fails verification; ``tandem record --script`` makes the same file as the ``Recorder`` API."""

from __future__ import annotations

import asyncio
import functools
import http.server
import json
import re
import shutil
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from playwright.async_api import Browser, FilePayload, Locator, Page, expect

from recorder.capture import Recorder
from server.knowledge.sources import parse_yaml, validate
from server.knowledge.walkthrough import WalkthroughFile
from tests.browser.conftest import TANDEM, Stack, sign_in, start_stack, wait_in_page
from tests.browser.test_widget import AXE, AXE_RUN
from tests.conftest import REPO

pytestmark = [pytest.mark.browser, pytest.mark.anyio]

PAGES = Path(__file__).parent / "recorder_pages"


@pytest.fixture(scope="module")
def record_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = start_stack(tmp_path_factory.mktemp("record"))
    yield running
    running.stop()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture(scope="module")
def fixture_sites() -> Iterator[dict[str, str]]:
    """The recorder's fixture pages, as two static sites: v1, and v2 after a change."""
    servers = {}
    for version in ("v1", "v2"):
        handler = functools.partial(_Quiet, directory=str(PAGES / version))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers[version] = server
    yield {v: f"http://127.0.0.1:{s.server_address[1]}" for v, s in servers.items()}
    for server in servers.values():
        server.shutdown()


def spy_on_events(recorder: Recorder) -> list[str]:
    """Everything the page sends the recorder through its binding, as JSON (to scan for
    secrets): element events, commands and the navigations it announces."""
    seen: list[str] = []
    original = recorder._on_event

    def on_event(source: dict[str, Any], event: Any) -> dict[str, Any]:
        seen.append(json.dumps(event))
        return original(source, event)

    recorder._on_event = on_event  # type: ignore[method-assign]
    return seen


async def storage_state(browser: Browser, base: str, path: Path) -> Path:
    context = await browser.new_context()
    page = await context.new_page()
    await sign_in(page, base, email="ada@acme.test")
    await context.storage_state(path=str(path))
    await context.close()
    return path


def stored_bytes(folder: Path, pattern: str) -> bytes:
    """Every byte of the store's files (the database, its journal and WAL)."""
    return b"".join(p.read_bytes() for p in sorted(folder.glob(pattern)))


def first_testid(step: dict[str, Any]) -> str | None:
    """The test id a recorded step's target has as its first candidate."""
    candidates = step.get("target", {}).get("candidates", [])
    return candidates[0]["value"] if candidates and candidates[0]["kind"] == "testid" else None


async def toolbar_open(page: Page) -> Locator:
    """The recorder's toolbar, unfolded (it folds back after each command)."""
    toolbar = page.locator("tandem-recorder")
    pill = toolbar.get_by_role("button", name=re.compile("^Recording"))
    if await pill.get_attribute("aria-expanded") != "true":
        await pill.click()
    return toolbar


def run(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, check=False, timeout=300)


def verify(
    file: Path, base: str, state: Path | None = None, *extra: str
) -> subprocess.CompletedProcess[str]:
    signed_in = ["--storage-state", str(state)] if state else []
    return run([TANDEM, "verify", str(file), "--base-url", base, *signed_in, *extra])


def load_walkthrough(path: Path) -> WalkthroughFile:
    return validate(WalkthroughFile, parse_yaml(path.read_text(), str(path)))


# Every id and class name in the page, shadow roots included.
NAMES_IN_PAGE = """() => {
  const names = [];
  const walk = (root) => root.querySelectorAll("*").forEach((e) => {
    names.push(e.id, ...e.classList);
    if (e.shadowRoot) walk(e.shadowRoot);
  });
  walk(document);
  return names.filter(Boolean);
}"""


async def record_invite_tour(recorder: Recorder, base: str) -> None:
    """The scripted recording of the demo: an invoice opened on the SPA route, the billing
    address in its shadow root, the notifications button in its iframe, then inviting a teammate."""
    page = recorder.page
    await page.get_by_test_id("invoice-link-INV-1001").click()
    await page.wait_for_url("**/invoices/INV-1001")
    await recorder.say("Open invoice **INV-1001**.")
    await page.goto(f"{base}/billing")
    await page.get_by_test_id("address-line1").fill("1 Main Street")
    await page.get_by_test_id("address-save").click()
    await page.goto(f"{base}/settings")
    await (
        page.frame_locator("[data-testid=notifications-frame]")
        .get_by_test_id("iframe-save")
        .click()
    )
    await page.goto(f"{base}/team")
    await page.get_by_test_id("invite-open").click()
    await page.wait_for_url("**/team/invite")
    await page.get_by_test_id("invite-name").press_sequentially("Grace Hopper")
    await page.get_by_test_id("invite-email").fill("grace@example.com")
    await page.get_by_test_id("invite-role").select_option("member")
    await page.get_by_test_id("invite-submit").click()
    await page.get_by_test_id("invite-sent").wait_for()
    await recorder.expect_visible("[data-testid=invite-sent]")


async def test_a_scripted_recording_of_the_demo_validates_and_verifies_on_both_variants(
    browser: Browser, record_stack: Stack, tmp_path: Path
) -> None:
    base = record_stack.demo()
    state = await storage_state(browser, base, tmp_path / "state.json")
    async with Recorder.launch(
        f"{base}/invoices", walkthrough_id="invite-tour", storage_state=state
    ) as recorder:
        await record_invite_tour(recorder, base)
        await recorder.finish()
        out = recorder.save(tmp_path / "invite-tour.yaml")

    walkthrough = load_walkthrough(out)
    assert walkthrough.process == "find-invoice"  # the first page's process marker
    assert walkthrough.applies.urls == ["/invoices"]
    steps = {s.id: s for s in walkthrough.steps}
    assert [s.id for s in walkthrough.steps] == [
        "click-inv-1001", "go-to-billing", "enter-street-address", "click-save-address",
        "go-to-settings", "click-save-notification-settings", "go-to-team",
        "click-invite-a-teammate", "enter-full-name", "enter-work-email", "choose-role",
        "click-send-invitation",
    ]  # fmt: skip
    # The SPA route and the full navigation are what their clicks lead to.
    assert steps["click-inv-1001"].advance.url == "/invoices/*"  # the invoice is the author's
    assert steps["click-inv-1001"].text == "Open invoice **INV-1001**."
    assert steps["click-invite-a-teammate"].expect is not None
    assert steps["click-invite-a-teammate"].expect.url == "/team/invite"
    # Typing is one step however many keys it took; the choice keeps its value.
    name = steps["enter-full-name"]
    assert name.action is not None and name.action.value == "Grace Hopper"
    assert steps["choose-role"].action is not None
    assert steps["choose-role"].action.value == "member"
    # The shadow-root field has a shadow chain; the iframe button its frame path.
    street = steps["enter-street-address"].target
    assert street is not None and street.fingerprint is not None
    assert street.fingerprint.shadow_hosts == ['acme-address-form[data-testid="address-form"]']
    assert any(c.kind == "shadow" for c in street.candidates)
    framed = steps["click-save-notification-settings"].target
    assert framed is not None and framed.fingerprint is not None
    assert framed.fingerprint.frame == ['iframe[data-testid="notifications-frame"]']
    sent = steps["click-send-invitation"]
    assert sent.expect is not None and sent.expect.appears == "[data-testid=invite-sent]"
    # Every target has fallbacks: at least two candidates.
    for step in walkthrough.steps:
        kinds = [c.kind.value for c in step.target.candidates] if step.target else []
        assert len(kinds) >= (2 if step.target else 0), step.id

    for variant in ("standard", "mutated"):
        base = record_stack.demo(variant)
        state = await storage_state(browser, base, tmp_path / f"{variant}.json")
        done = verify(out, base, state)
        assert done.returncode == 0, f"{variant}:\n{done.stdout}{done.stderr}"
        assert "PASS  invite-tour v1" in done.stdout

    # Recorded on the mutated variant, whose ids and classes are all generated ("e3fa9c1"):
    # none of them is written, though the elements have them.
    mutated = record_stack.demo("mutated")
    state = tmp_path / "mutated.json"
    async with Recorder.launch(
        f"{mutated}/billing", walkthrough_id="mutated", storage_state=state
    ) as recorder:
        generated = await recorder.page.evaluate(NAMES_IN_PAGE)
        await recorder.page.get_by_test_id("address-line1").fill("2 Side Street")
        await recorder.page.get_by_test_id("address-save").click()
        content = await recorder.finish()
    assert len(generated) > 10
    written = json.dumps(content)
    assert not [name for name in generated if re.search(rf"[#.\"']{re.escape(name)}\b", written)]


async def test_typed_secrets_never_leave_the_page_nor_reach_the_file_or_the_store(
    browser: Browser, record_stack: Stack, tmp_path: Path
) -> None:
    base = record_stack.demo()
    wrong_password = "CANARY-pass-7731"
    card = "4242424242424242"
    cvc = "8642"
    async with Recorder.launch(f"{base}/signin", walkthrough_id="add-card") as recorder:
        seen = spy_on_events(recorder)
        page = recorder.page
        await page.get_by_test_id("signin-email").fill("ada@acme.test")
        await page.get_by_test_id("signin-password").fill(wrong_password)
        await page.get_by_test_id("signin-submit").click()
        await page.get_by_test_id("signin-error").wait_for()
        await page.get_by_test_id("signin-email").fill("ada@acme.test")
        await page.get_by_test_id("signin-password").fill("acme-demo")
        await page.get_by_test_id("signin-submit").click()
        await page.wait_for_url("**/home")
        await page.goto(f"{base}/billing/payment-methods/new")
        await page.get_by_test_id("card-name").fill("Ada Lovelace")
        await page.get_by_test_id("card-number").fill(card)
        await page.get_by_test_id("card-expiry").fill("12/30")
        await page.get_by_test_id("card-cvc").fill(cvc)
        content = await recorder.finish()
        site = tmp_path / "content" / "demo"
        shutil.copytree(REPO / "walkthroughs" / "demo", site)
        out = recorder.save(site / "add-card.yaml")

    text = out.read_text()
    for secret in (wrong_password, "acme-demo", card, "4242 4242", cvc, "12/30"):
        assert secret not in text, secret
        assert not any(secret in event for event in seen), f"{secret} left the page"
    steps = content["steps"]
    password = next(s for s in steps if first_testid(s) == "signin-password")
    assert "action" not in password and password["advance"] == {"after": "input"}
    assert password["text"].startswith("Enter your password")
    number = next(s for s in steps if first_testid(s) == "card-number")
    assert "action" not in number and number["text"].startswith("Enter your card details")
    holder = next(s for s in steps if first_testid(s) == "card-name")
    assert "action" not in holder  # cc-name is a card field too
    # Consecutive typing in the password field, twice with a click between: two steps.
    typed = [s for s in steps if first_testid(s) == "signin-password"]
    assert len(typed) == 2

    store = tmp_path / "store.db"
    loaded = run([TANDEM, "load", str(tmp_path / "content"), "--store", f"sqlite:///{store}"])
    assert loaded.returncode == 0, loaded.stdout + loaded.stderr
    rows = sqlite3.connect(store).execute("SELECT count(*) FROM walkthrough_versions").fetchone()
    assert rows[0] >= 3  # the demo's two and the recording
    stored = stored_bytes(tmp_path, "store.db*")
    assert b"add-card" in stored
    for secret in (wrong_password, "acme-demo", card, cvc, "12/30"):
        assert secret.encode() not in stored, secret


async def test_hover_menus_ticks_keys_uploads_captchas_and_private_fields_become_the_right_steps(
    fixture_sites: dict[str, str], tmp_path: Path
) -> None:
    base = fixture_sites["v1"]
    secrets = {
        "get-form password": "CANARY-get-7731",
        "shown password": "CANARY-shown-5519",
        "shadow-root password shown": "CANARY-vault-3391",
        "one-time code": "493817",
        "card number": "4242 4242 4242 4242",
        "author-marked": "CANARY-maiden-2207",
        "author-marked, after a reload": "CANARY-maiden-again-8812",
        "private region": "PRIVATE-CE-9911",
        "file name": "CANARY-FILE",
        "link token": "CANARY-link-4410",
        "typed token": "CANARY-token-6610",
    }
    async with Recorder.launch(
        f"{base}/account.html", walkthrough_id="account", process="account"
    ) as recorder:
        seen = spy_on_events(recorder)
        page = recorder.page
        await page.add_script_tag(path=str(AXE))  # the toolbar is accessible, folded and open
        assert await page.evaluate(AXE_RUN, "tandem-recorder") == []
        toolbar = await toolbar_open(page)
        assert await page.evaluate(AXE_RUN, "tandem-recorder") == []
        await page.keyboard.press("Escape")  # folds it
        # A menu that opens on hover, and a click inside it.
        await page.get_by_role("button", name="Account").hover()
        await page.get_by_test_id("menu-sessions").click()
        await recorder.expect_visible("[data-testid=sessions-done]")
        # A password field shown as text before typing stays private, in a shadow root too.
        await page.get_by_test_id("show-password").click()
        await page.get_by_test_id("new-password").fill(secrets["shown password"])
        await page.get_by_test_id("vault-show").click()
        await page.get_by_test_id("vault-pin").fill(secrets["shadow-root password shown"])
        await page.get_by_test_id("otp").fill(secrets["one-time code"])
        await page.get_by_test_id("reference").fill(secrets["card number"])
        await page.get_by_test_id("exp-month").select_option("11")
        await page.get_by_test_id("note").fill(secrets["private region"])
        await page.get_by_test_id("reset-link").click()
        # The author marks a field private in the toolbar (clicking its label), then types in it.
        await (await toolbar_open(page)).get_by_role("button", name="Private field…").click()
        await page.get_by_text("Mother's maiden name").click()
        await page.get_by_test_id("maiden").fill(secrets["author-marked"])
        await page.get_by_test_id("nickname").fill("Ace")
        await (
            (await toolbar_open(page))
            .get_by_label("What the visitor does in this step")
            .fill("Choose a **nickname** your team will see.")
        )
        await toolbar.get_by_role("button", name="Save text").click()
        await page.get_by_test_id("newsletter").check()
        await page.get_by_test_id("plan-pro").check()
        await page.get_by_test_id("search").fill("refunds")
        await page.get_by_test_id("search").press("Enter")
        await page.get_by_test_id("document").set_input_files(
            files=[FilePayload(name=f"{secrets['file name']}.pdf", mimeType="application/pdf",
                               buffer=b"%PDF-1.4")]
        )  # fmt: skip
        await page.get_by_test_id("captcha").click()
        await page.get_by_test_id("nickname").fill("oops")
        await (await toolbar_open(page)).get_by_role("button", name="Undo last step").click()
        # The mark holds after the page is loaded again (the same address: not a step).
        await page.reload()
        await page.get_by_test_id("maiden").fill(secrets["author-marked, after a reload"])
        # A GET form carrying a password, sent with Enter: the step is its button's click.
        await page.get_by_test_id("login-user").fill("ada")
        await page.get_by_test_id("login-pass").fill(secrets["get-form password"])
        await page.get_by_test_id("login-pass").press("Enter")
        await page.wait_for_url("**/account.html?**")
        # An address typed with a token in it.
        await page.goto(f"{base}/archive.html?view=old&token={secrets['typed token']}")
        await page.get_by_role("button", name="Delete all").click()
        await (await toolbar_open(page)).get_by_label("Destructive").check()
        await (await toolbar_open(page)).get_by_role("button", name="Expect…").click()
        await page.get_by_test_id("done").click()
        await (await toolbar_open(page)).get_by_role("button", name="Finish").click()
        await recorder.finished.wait()
        content = await recorder.finish()
        out = recorder.save(tmp_path / "account.yaml")
        summary = toolbar.locator("[data-part=summary]")
        await expect(summary).to_contain_text("Finished")

    text = out.read_text()
    for what, secret in secrets.items():
        assert secret not in text, what
        if what != "typed token":  # the address bar's URL is the browser's, not the page's
            assert not any(secret in event for event in seen), f"{what} left the page"
    assert "4242" not in text
    load_walkthrough(out)
    steps = content["steps"]
    by_id = {s["id"]: s for s in steps}
    assert [s["id"] for s in steps] == [
        "open-account", "click-sign-out-other-devices", "click-show-password",
        "enter-new-password", "click-show-pin", "enter-vault-pin", "enter-code-from-your-phone",
        "enter-payment-reference", "choose-expiry-month", "enter-private-note",
        "click-reset-your-password", "enter-mother-s-maiden-name", "enter-nickname",
        "tick-send-me-the-newsletter", "tick-pro", "enter-search-help", "press-enter",
        "upload-your-id-document", "captcha", "enter-mother-s-maiden-name-2", "enter-username", "enter-password", "click-continue",
        "go-to-archive-html", "click-delete-all",
    ]  # fmt: skip
    month = by_id["choose-expiry-month"]
    assert "action" not in month and "expect" not in month
    assert month["text"] == "Choose your option in **Expiry month**."
    note = by_id["enter-private-note"]
    assert "action" not in note and "text" not in note["target"]["fingerprint"]
    reset = by_id["click-reset-your-password"]["target"]
    assert reset["fingerprint"]["attributes"]["href"] == "/account.html?token=redacted"
    hover = by_id["open-account"]
    assert hover["action"] == {"kind": "hover"}
    assert hover["advance"] == {"after": "appears", "selector": "#account-menu"}
    assert by_id["click-sign-out-other-devices"]["expect"] == {
        "appears": "[data-testid=sessions-done]"
    }
    for private in (
        "enter-new-password", "enter-vault-pin", "enter-code-from-your-phone",
        "enter-payment-reference", "enter-mother-s-maiden-name", "enter-mother-s-maiden-name-2",
        "enter-password",
    ):  # fmt: skip
        assert "action" not in by_id[private], private
        assert by_id[private]["advance"] == {"after": "input"}
    assert by_id["enter-code-from-your-phone"]["text"].startswith("Enter the one-time code")
    nickname = by_id["enter-nickname"]
    assert nickname["action"] == {"kind": "fill", "value": "Ace"}
    assert nickname["text"] == "Choose a **nickname** your team will see."
    assert by_id["tick-send-me-the-newsletter"]["action"] == {"kind": "check", "checked": True}
    assert by_id["tick-pro"]["text"] == "Choose **Pro**."
    assert by_id["press-enter"]["action"] == {"kind": "press", "key": "Enter"}
    assert "action" not in by_id["upload-your-id-document"]
    assert "action" not in by_id["captcha"] and "robot" in by_id["captcha"]["text"]
    assert by_id["go-to-archive-html"]["action"] == {
        "kind": "navigate", "url": "/archive.html?view=old&token=redacted"
    }  # fmt: skip
    delete = by_id["click-delete-all"]
    assert delete["destructive"] is True
    assert delete["expect"] == {"appears": '[data-testid="done"]'}


async def test_a_step_whose_element_was_removed_fails_verification(
    fixture_sites: dict[str, str], tmp_path: Path
) -> None:
    async with Recorder.launch(
        f"{fixture_sites['v1']}/archive.html", walkthrough_id="purge", process="archive"
    ) as recorder:
        await recorder.page.get_by_role("button", name="Delete all").click()
        await recorder.finish()
        out = recorder.save(tmp_path / "purge.yaml")
    passed = verify(out, fixture_sites["v1"])
    assert passed.returncode == 0, passed.stdout + passed.stderr
    # v2 removed "Delete all"; a button of the same kind ("Export all") now sits in its place.
    failed = verify(out, fixture_sites["v2"], None, "--timeout-ms", "1500")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    line = next(x for x in failed.stdout.splitlines() if "click-delete-all" in x)
    assert "FAIL" in line and ("not_found" in line or "below_threshold" in line), line


SCRIPT = """
async def record(page, recorder):
    await page.get_by_role("button", name="Archive all").click()
    await recorder.say("Archive **every** old invoice.")
    await recorder.expect_visible("[data-testid=done]")
"""


async def test_tandem_record_with_a_script_makes_the_same_file_as_the_recorder_api(
    fixture_sites: dict[str, str], tmp_path: Path
) -> None:
    url = f"{fixture_sites['v1']}/archive.html"
    script = tmp_path / "script.py"
    script.write_text(SCRIPT)
    out = tmp_path / "by-cli" / "archive-all.yaml"
    made = run([TANDEM, "record", url, "--out", str(out), "--process", "archive", "--script", str(script)])  # fmt: skip
    assert made.returncode == 0, made.stdout + made.stderr
    assert "wrote" in made.stdout and "1 steps" in made.stdout

    async with Recorder.launch(url, walkthrough_id="archive-all", process="archive") as recorder:
        namespace: dict[str, Any] = {}
        exec(SCRIPT, namespace)
        await namespace["record"](recorder.page, recorder)
        by_api = await recorder.finish()
    assert yaml.safe_load(out.read_text()) == by_api
    assert by_api["steps"][0]["text"] == "Archive **every** old invoice."


async def test_recorded_as_the_readme_says_then_verified_and_played_to_a_visitor(
    browser: Browser, record_stack: Stack, tmp_path: Path
) -> None:
    """The README's way: open the recorder on a page that needs signing in, sign in, press
    Start here, do the task, Finish; verify with the kept session; the server plays it."""
    base = record_stack.demo()
    async with Recorder.launch(f"{base}/team", walkthrough_id="invite-colleague") as recorder:
        page = recorder.page
        await sign_in(page, base)  # the demo sent the author to sign in first
        await page.goto(f"{base}/team")
        await (await toolbar_open(page)).get_by_role("button", name="Start here").click()
        await page.get_by_test_id("invite-open").click()
        await page.wait_for_url("**/team/invite")
        # As an author does: the sentence is written once the toolbar shows the step (the click
        # left with the page it was made on, and reaches the recorder a moment later).
        deadline = time.monotonic() + 15
        while not any(d.kind == "click" for d in recorder.composer.drafts):
            assert time.monotonic() < deadline, "the click never reached the recorder"
            await asyncio.sleep(0.05)
        toolbar = await toolbar_open(page)
        await toolbar.get_by_label("What the visitor does in this step").fill(
            "Click **Invite a teammate**: the form opens."
        )
        # The toolbar redrawn (a navigation reaching the recorder) as the author goes to Save:
        # the sentence they wrote stays.
        await toolbar.get_by_role("button", name="Save text").focus()
        await recorder._refresh_toolbar()
        await toolbar.get_by_role("button", name="Save text").click()
        await page.get_by_test_id("invite-name").fill("Alan Turing")
        await page.get_by_test_id("invite-email").fill("alan@example.com")
        await page.get_by_test_id("invite-submit").click()
        await page.get_by_test_id("invite-sent").wait_for()
        await (await toolbar_open(page)).get_by_role("button", name="Finish").click()
        await recorder.finished.wait()
        content = await recorder.finish()
        site = tmp_path / "content"
        out = recorder.save(site / "invite-colleague.yaml")
        state = await recorder.save_storage_state(tmp_path / "ada.json")

    assert content["applies"] == {"urls": ["/team"]}
    assert content["process"] == "invite-teammate"
    first = content["steps"][0]
    assert first["id"] == "click-invite-a-teammate"
    assert first["text"] == "Click **Invite a teammate**: the form opens."
    done = verify(out, base, state)
    assert done.returncode == 0, done.stdout + done.stderr

    def add_recording(content_dir: Path, store_url: str) -> None:
        shutil.copy(out, content_dir / "demo" / out.name)

    played = start_stack(tmp_path / "played", ("standard",), before_start=add_recording)
    try:
        visitor = await (await browser.new_context()).new_page()
        await sign_in(visitor, played.demo())
        await visitor.goto(f"{played.demo()}/team#tandem-start=invite-colleague")
        await wait_in_page(visitor, "(Tandem.current() || {}).step === 'click-invite-a-teammate'")
        dialog = visitor.locator("tandem-player [role=dialog]")
        await expect(dialog).to_contain_text("the form opens")
        await visitor.context.close()
    finally:
        played.stop()
