"""An admin in the console, in Chromium: a process's threshold changed (written into
processes.yaml) is the one the next support session is scored against; a visitor's data is
exported and erased, leaving nothing of theirs in any table (checked by scanning them all)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from tests.browser.conftest import TANDEM, Stack, sign_in, start_stack, wait_in_page
from tests.browser.test_agents import PASSWORD
from tests.browser.test_support import ask, ready

pytestmark = [pytest.mark.browser, pytest.mark.anyio]


@pytest.fixture(scope="module")
def admin_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = start_stack(tmp_path_factory.mktemp("admin"), variants=("standard",))
    made = subprocess.run(
        [TANDEM, "user", "add", "bob.admin@acme.test", "--site", "demo", "--name", "Bob Admin",
         "--role", "admin", "--password-stdin", "--store", store_of(running)],
        input=PASSWORD + "\n", capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    yield running
    running.stop()


def store_of(stack: Stack) -> str:
    return stack.server.args[stack.server.args.index("--store") + 1]


def read_json(path: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(Path(path).read_text())
    return data


def rows_mentioning(database: Path, text: str) -> list[str]:
    """Every row of every table of the SQLite store that contains ``text``."""
    db = sqlite3.connect(database)
    try:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        found = []
        for table in tables:
            found += [
                f"{table}: {row!r}"
                for row in db.execute(f"SELECT * FROM {table}")
                if text in repr(row)
            ]
        return found
    finally:
        db.close()


async def test_an_admin_tunes_a_threshold_and_exports_and_erases_a_visitor(
    browser: Browser, page: Page, admin_stack: Stack
) -> None:
    server, base = admin_stack.server.url, admin_stack.demo()
    console = await (await browser.new_context(accept_downloads=True)).new_page()
    await console.goto(f"{server}/console/login")
    await console.get_by_label("Email").fill("bob.admin@acme.test")
    await console.get_by_label("Password").fill(PASSWORD)
    await console.get_by_role("button", name="Sign in").click()
    await console.get_by_role("link", name="Admin").click()
    await console.get_by_label("Threshold of Invite a teammate").fill("0.95")
    await (
        console.locator("tr[data-process=invite-teammate]")
        .get_by_role("button", name="Save")
        .click()
    )
    await expect(console.locator("[data-notice]")).to_contain_text("invite-teammate is 0.95")
    content = Path(admin_stack.server.env["TANDEM_CONTENT_DIR"])
    assert "effectiveness_threshold: 0.95" in (content / "demo" / "processes.yaml").read_text()

    # The next support session is scored against it.
    await sign_in(page, base, email="alan@acme.test")
    await page.goto(f"{base}/team/invite")
    await ready(page, "u-alan")
    panel = await ask(page, "how do I add a colleague?")
    await panel.get_by_role("button", name="Show me: Invite a teammate").click()
    await wait_in_page(page, "(Tandem.current() || {}).step === 'name'")
    await page.keyboard.press("Escape")  # gives up: the session is scored
    items = admin_stack.api("/api/users/demo/u-alan/profile")["support_items"]
    opened = next(i["payload"]["session"] for i in items if "offer" in i["payload"])
    deadline = time.monotonic() + 30
    while True:
        score = admin_stack.api(f"/api/sites/demo/support-sessions/{opened}")["effectiveness"]
        if score:
            break
        assert time.monotonic() < deadline, "the session was not scored"
        await page.wait_for_timeout(200)
    assert score["threshold"] == 0.95 and score["below_threshold"]

    # The analytics count that session, as a table and as charts (uPlot).
    await console.get_by_role("link", name="Analytics").click()
    await expect(console.locator("tr[data-group=invite-teammate] [data-sessions]")).to_have_text(
        "1"
    )
    await expect(console.locator("figure[data-chart=sessions]")).to_have_attribute(
        "data-drawn", "2"
    )
    await expect(console.locator("figure[data-chart=score] canvas")).to_have_count(1)
    await console.get_by_role("link", name="Admin").click()

    # Export: everything of theirs, as JSON.
    await console.get_by_label("Visitor id to export").fill("u-alan")
    async with console.expect_download() as downloading:
        await console.get_by_role("button", name="Export").click()
    exported = read_json(str(await (await downloading.value).path()))
    assert exported["user"] == "u-alan" and exported["tables"]["profiles"]
    assert exported["tables"]["support_items"] and exported["tables"]["events"]

    # Erase: nothing of theirs is left in any table.
    database = Path(store_of(admin_stack).removeprefix("sqlite:///"))
    assert rows_mentioning(database, "u-alan")
    await page.close()
    await console.get_by_label("Visitor id to erase").fill("u-alan")
    await console.get_by_label("Yes, erase everything held about them").check()
    await console.get_by_role("button", name="Erase").click()
    await expect(console.locator("[data-notice]")).to_contain_text("Erased u-alan")
    assert rows_mentioning(database, "u-alan") == []
    await console.context.close()
