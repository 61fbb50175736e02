"""``tandem verify`` in headless Chromium against the demo site: the demo's walkthroughs verify
on both variants (ids, classes and texts changed), a step whose element is gone fails rather
than matching a wrong element, and JUnit XML says the same."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree

import pytest
from playwright.async_api import Browser

from tests.browser.conftest import TANDEM, Stack, sign_in, start_stack
from tests.conftest import REPO

pytestmark = [pytest.mark.browser, pytest.mark.anyio]


@pytest.fixture(scope="module")
def verify_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = start_stack(tmp_path_factory.mktemp("verify"))
    yield running
    running.stop()


async def signed_in_state(browser: Browser, base: str, path: Path) -> Path:
    context = await browser.new_context()
    page = await context.new_page()
    await sign_in(page, base, email="ada@acme.test")
    await context.storage_state(path=str(path))
    await context.close()
    return path


def run_command(
    args: list[str], env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        args, env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=180, check=False
    )  # fmt: skip


def verify(target: Path, base: str, state: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [TANDEM, "verify", str(target), "--base-url", base, "--storage-state", str(state), *extra],
        capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip


async def test_the_demo_walkthroughs_verify_on_both_variants_and_a_missing_element_fails(
    browser: Browser, verify_stack: Stack, tmp_path: Path
) -> None:
    for variant in ("standard", "mutated"):
        base = verify_stack.demo(variant)
        state = await signed_in_state(browser, base, tmp_path / f"{variant}.json")
        report = tmp_path / f"{variant}.xml"
        done = verify(REPO / "walkthroughs" / "demo", base, state, "--junit", str(report))
        assert done.returncode == 0, done.stdout + done.stderr
        assert "PASS  invite-teammate v1" in done.stdout and "PASS  find-invoice" in done.stdout
        assert "2 of 2 walkthroughs verified" in done.stdout
        cases = ElementTree.parse(report).getroot().iter("testcase")
        assert [c.get("name") for c in cases if c.get("classname") == "invite-teammate"] == [
            "open-form", "name", "email", "role", "message", "send"
        ]  # fmt: skip

    # The send button is gone from this copy's point of view: nothing on the page is it.
    broken = tmp_path / "broken.yaml"
    shutil.copy(REPO / "walkthroughs" / "demo" / "invite-teammate.yaml", broken)
    text = broken.read_text()
    start = text.index("  - id: send")
    send = text[start:]
    send = send.replace("invite-submit", "invite-launch-rocket").replace(
        "Send invitation", "Launch the rocket"
    )
    send = send.replace("tag: button", "tag: video").replace("type: submit", "type: rocket")
    broken.write_text(text[:start] + send)
    base = verify_stack.demo()
    state = await signed_in_state(browser, base, tmp_path / "again.json")
    report = tmp_path / "broken.xml"
    done = verify(broken, base, state, "--junit", str(report), "--timeout-ms", "2000")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FAIL  invite-teammate v1" in done.stdout
    send_line = next(line for line in done.stdout.splitlines() if " send " in line)
    assert "FAIL" in send_line and "not_found" in send_line
    failed = [
        c.get("name")
        for c in ElementTree.parse(report).getroot().iter("testcase")
        if c.find("failure") is not None
    ]
    assert failed == ["send"]

    # Kept for the site's console when asked.
    store = verify_stack.server.args[verify_stack.server.args.index("--store") + 1]
    kept = verify(broken, base, state, "--timeout-ms", "2000", "--site", "demo", "--store", store)
    assert kept.returncode == 1
    rows = (
        sqlite3.connect(store.removeprefix("sqlite:///"))
        .execute("SELECT walkthrough, ok, steps FROM verifications WHERE site = 'demo'")
        .fetchall()
    )
    assert [(w, ok) for w, ok, _ in rows] == [("invite-teammate", 0)]
    assert json.loads(rows[0][2])[-1]["status"] == "not_found"


async def test_an_exported_playwright_test_runs_and_passes(
    browser: Browser, verify_stack: Stack, tmp_path: Path
) -> None:
    import sys

    from recorder.chromium import find_chromium

    exported = tmp_path / "test_invite_teammate.py"
    walkthrough = str(REPO / "walkthroughs" / "demo" / "invite-teammate.yaml")
    made = run_command([TANDEM, "export", "playwright", walkthrough, "--out", str(exported)])
    assert made.returncode == 0, made.stderr
    assert "page.get_by_test_id('invite-submit').click()" in exported.read_text()
    base = verify_stack.demo("mutated")  # ids, classes and texts changed: the test ids hold
    state = await signed_in_state(browser, base, tmp_path / "state.json")
    chromium = find_chromium().executable_path or ""
    env = {"TANDEM_BASE_URL": base, "TANDEM_STORAGE_STATE": str(state), "TANDEM_CHROMIUM": chromium}
    ran = run_command([sys.executable, str(exported)], env=env)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "passed: invite-teammate" in ran.stdout


CHROME_RECORDING = {
    "title": "Invite a colleague",
    "steps": [
        {"type": "setViewport", "width": 1280, "height": 800, "deviceScaleFactor": 1, "isMobile": False,
         "hasTouch": False, "isLandscape": False},
        {"type": "navigate", "url": "http://127.0.0.1:8001/team", "assertedEvents": [{"type": "navigation"}]},
        {"type": "click", "offsetX": 40, "offsetY": 12, "target": "main",
         "selectors": [["aria/Invite a teammate[role=\"link\"]"], ["[data-testid=invite-open]"],
                       ["xpath///*[@id=\"invite-open\"]"], ["pierce/[data-testid=invite-open]"], ["text/Invite a teammate"]]},
        {"type": "change", "value": "CANARY-TYPED-NAME", "target": "main",
         "selectors": [["aria/Full name"], ["[data-testid=invite-name]"], ["pierce/[data-testid=invite-name]"]]},
        {"type": "change", "value": "canary-secret@acme.test", "target": "main",
         "selectors": [["aria/Work email"], ["[data-testid=invite-email]"]]},
        {"type": "click", "offsetX": 10, "offsetY": 10, "target": "main",
         "selectors": [["aria/Send invitation[role=\"button\"]"], ["[data-testid=invite-submit]"], ["text/Send invitation"]]},
    ],
}  # fmt: skip


async def test_a_chrome_recorder_recording_imports_without_its_typed_values_and_verifies(
    browser: Browser, verify_stack: Stack, tmp_path: Path
) -> None:
    recording = tmp_path / "recording.json"
    recording.write_text(json.dumps(CHROME_RECORDING))
    imported = tmp_path / "invite-imported.yaml"
    made = run_command([TANDEM, "import", "chrome", str(recording), "--id", "invite-imported",
                        "--process", "invite-teammate", "--out", str(imported)])  # fmt: skip
    assert made.returncode == 0, made.stderr
    text = imported.read_text()
    assert "CANARY-TYPED-NAME" not in text and "canary-secret" not in text
    assert "{kind: testid, value: invite-open}" in text or "kind: testid" in text
    base = verify_stack.demo()
    state = await signed_in_state(browser, base, tmp_path / "state.json")
    done = verify(imported, base, state)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "PASS  invite-imported v1" in done.stdout
