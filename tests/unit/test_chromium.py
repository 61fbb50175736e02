"""How Tandem finds Chromium: explicit path, Playwright's own, the system's, or a clear error."""

from __future__ import annotations

from pathlib import Path

import pytest

from recorder import chromium


def test_explicit_path_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = tmp_path / "chrome"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv("TANDEM_CHROMIUM", str(fake))
    launch = chromium.find_chromium()
    assert launch.executable_path == str(fake)
    assert "--no-sandbox" in launch.args and "--disable-background-networking" in launch.args
    assert launch.launch_kwargs()["executable_path"] == str(fake)


def test_explicit_path_that_is_not_executable_is_an_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TANDEM_CHROMIUM", str(tmp_path / "missing"))
    with pytest.raises(chromium.ChromiumNotFound, match="not an executable"):
        chromium.find_chromium()


def test_playwrights_own_browser_is_preferred_to_the_system_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    browser = tmp_path / "chromium-1200" / "chrome-linux" / "chrome"
    browser.parent.mkdir(parents=True)
    browser.write_text("")
    browser.chmod(0o755)
    monkeypatch.delenv("TANDEM_CHROMIUM", raising=False)
    monkeypatch.setenv("PLAYWRIGHT_BROWSERS_PATH", str(tmp_path))
    launch = chromium.find_chromium()
    assert launch.source == "playwright"
    assert "executable_path" not in launch.launch_kwargs()


def test_no_browser_gives_a_message_that_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("TANDEM_CHROMIUM", raising=False)
    monkeypatch.setenv("PLAYWRIGHT_BROWSERS_PATH", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(chromium, "SYSTEM_CANDIDATES", (str(tmp_path / "none"),))
    with pytest.raises(chromium.ChromiumNotFound) as caught:
        chromium.find_chromium()
    assert "apt-get install -y chromium" in str(caught.value)
    assert "TANDEM_CHROMIUM" in str(caught.value)
