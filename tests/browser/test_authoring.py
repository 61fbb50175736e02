"""An author in the console, in Chromium: the walkthrough library, versions side by side with
their differences, roll back and publish again — a visitor's new run gets the published version
while a run under way stays on its own — the funnel counting the runs, and the preview link."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from tests.browser.conftest import TANDEM, Stack, sign_in, start_stack, wait_in_page
from tests.browser.test_agents import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.anyio]

V2_TEXT = "Version two: open the invitation form with **Invite a teammate**."


def two_versions(content: Path, store_url: str) -> None:
    """Version 1 is loaded into the store; the content folder then holds version 2."""
    env = {**os.environ, "TANDEM_DEMO_SIGNING_KEY": "x"}
    loaded = subprocess.run(
        [TANDEM, "load", str(content), "--store", store_url], env=env, capture_output=True,
        text=True, check=False,
    )  # fmt: skip
    assert loaded.returncode == 0, loaded.stderr
    walkthrough = content / "demo" / "invite-teammate.yaml"
    first_step = (
        "    text: Click **Invite a teammate** to open the invitation form.\n"
        "    persona_text:\n"
        '      guide: "Let\'s invite someone! Click **Invite a teammate** to start."\n'
    )
    text = walkthrough.read_text()
    assert first_step in text and "version: 1\n" in text
    text = text.replace("version: 1\n", "version: 2\n", 1)
    walkthrough.write_text(text.replace(first_step, f'    text: "{V2_TEXT}"\n', 1))


@pytest.fixture(scope="module")
def authoring_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = start_stack(
        tmp_path_factory.mktemp("authoring"), variants=("standard",), before_start=two_versions
    )
    store = running.server.args[running.server.args.index("--store") + 1]
    made = subprocess.run(
        [TANDEM, "user", "add", "ann.author@acme.test", "--site", "demo", "--name", "Ann Author",
         "--role", "author", "--password-stdin", "--store", store],
        input=PASSWORD + "\n", capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    yield running
    running.stop()


async def start_invite(page: Page, base: str, email: str) -> int:
    """The visitor starts the invite walkthrough on the Team page; the version their run is on."""
    await sign_in(page, base, email=email)
    await page.goto(f"{base}/team")
    await wait_in_page(page, "window.Tandem && Tandem.status().connected")
    run = await page.evaluate("Tandem.start('invite-teammate')")
    await wait_in_page(page, "(Tandem.current() || {}).step === 'open-form'")
    return int(run["version"])


async def test_an_author_rolls_back_and_publishes_again_and_runs_stay_pinned(
    browser: Browser, page: Page, authoring_stack: Stack
) -> None:
    server, base = authoring_stack.server.url, authoring_stack.demo()
    console = await (await browser.new_context()).new_page()
    await console.goto(f"{server}/console/login")
    await console.get_by_label("Email").fill("ann.author@acme.test")
    await console.get_by_label("Password").fill(PASSWORD)
    await console.get_by_role("button", name="Sign in").click()
    await console.get_by_role("link", name="Walkthroughs").click()
    await expect(console.locator("[data-walkthrough=invite-teammate]")).to_contain_text("version 2")
    await console.get_by_role("link", name="Invite a teammate").click()
    await expect(console.locator("[data-published]")).to_contain_text("Visitors get version 2")

    # A visitor starts it: version 2, its new text.
    assert await start_invite(page, base, "grace@acme.test") == 2
    await expect(page.locator("tandem-player [role=dialog]")).to_contain_text("Version two")

    # What changed, side by side; then the author rolls back.
    await console.get_by_role("link", name="Compare with version 2").click()
    await expect(console.locator("table.diff")).to_contain_text("Version two")
    await console.get_by_role("button", name="Roll back to version 1").click()
    await expect(console.locator("[data-published]")).to_contain_text("Visitors get version 1")

    # A new run gets version 1; the run under way stays on version 2, across a reload.
    other = await (await browser.new_context()).new_page()
    assert await start_invite(other, base, "alan@acme.test") == 1
    await expect(other.locator("tandem-player [role=dialog]")).not_to_contain_text("Version two")
    await page.reload()
    await wait_in_page(page, "(Tandem.current() || {}).step === 'open-form'")
    await expect(page.locator("tandem-player [role=dialog]")).to_contain_text("Version two")

    # The funnel of version 2 counts the run that showed its first step.
    await console.goto(f"{server}/console/demo/walkthroughs/invite-teammate?version=2")
    row = console.locator("tr[data-step=open-form]")
    await expect(row.locator("[data-shown]")).to_have_text("1")
    await console.goto(f"{server}/console/demo/walkthroughs/invite-teammate?version=1")
    await expect(console.locator("tr[data-step=open-form] [data-shown]")).to_have_text("1")

    # Publish version 2 again; the preview link opens the page with it started.
    await console.get_by_role("button", name="Publish version 2").click()
    await expect(console.locator("[data-published]")).to_contain_text("Visitors get version 2")
    preview = await console.get_by_role("link", name="Preview version 2").get_attribute("href")
    assert preview == f"{base}/team#tandem-start=invite-teammate"
    viewer = await (await browser.new_context()).new_page()
    await sign_in(viewer, base, email="ada@acme.test")
    await viewer.goto(preview)
    await wait_in_page(viewer, "(Tandem.current() || {}).step === 'open-form'")
    await expect(viewer.locator("tandem-player [role=dialog]")).to_contain_text("Version two")
    assert "tandem-start" not in viewer.url
    for opened in (console, other, viewer):
        await opened.context.close()
