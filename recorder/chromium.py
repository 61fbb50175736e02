"""Find and launch Chromium for the recorder, ``tandem verify`` and browser tests.

Order of preference:

1. ``TANDEM_CHROMIUM``: an explicit executable path.
2. Playwright's own Chromium, when the user has installed one
   (``playwright install chromium`` on a machine that can download it).
3. The distribution's ``chromium`` package (``/usr/bin/chromium`` on Debian).

``python -m recorder.chromium --ensure`` is what ``make`` runs: it reports the
browser it found, or installs Debian's package when running as root on a
Debian-like system, or explains what to do.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

# Flags for a system Chromium in a container or CI: no sandbox (root), no GPU,
# and no calls home (they would be refused on a closed network and slow start-up).
SYSTEM_CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)

SYSTEM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")


class ChromiumNotFound(RuntimeError):
    """No usable Chromium: the message says how to get one."""


@dataclass(frozen=True)
class ChromiumLaunch:
    """What to hand to Playwright's ``chromium.launch``."""

    executable_path: str | None  # None: Playwright's own browser
    args: tuple[str, ...]
    source: str

    def launch_kwargs(self, *, headless: bool = True) -> dict[str, object]:
        kwargs: dict[str, object] = {"headless": headless, "args": list(self.args)}
        if self.executable_path:
            kwargs["executable_path"] = self.executable_path
        return kwargs


def _playwright_own_browser() -> str | None:
    """Path of Playwright's downloaded Chromium, if one is installed."""
    root = Path(os.environ.get("PLAYWRIGHT_BROWSERS_PATH") or Path.home() / ".cache/ms-playwright")
    if not root.is_dir():
        return None
    for pattern in (
        "chromium-*/chrome-linux*/chrome",
        "chromium_headless_shell-*/*/chrome-headless-shell",
    ):
        for candidate in sorted(root.glob(pattern), reverse=True):
            if os.access(candidate, os.X_OK):
                return str(candidate)
    return None


def _system_browser() -> str | None:
    for candidate in SYSTEM_CANDIDATES:
        if os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("chromium")
    return found


def find_chromium() -> ChromiumLaunch:
    """Return how to launch Chromium here, or raise ``ChromiumNotFound``."""
    explicit = os.environ.get("TANDEM_CHROMIUM")
    if explicit:
        if not os.access(explicit, os.X_OK):
            raise ChromiumNotFound(f"TANDEM_CHROMIUM={explicit} is not an executable file")
        return ChromiumLaunch(explicit, SYSTEM_CHROMIUM_ARGS, "TANDEM_CHROMIUM")
    if _playwright_own_browser():
        # Playwright knows its own browser's path; sandbox flags still help as root.
        args = ("--no-sandbox",) if os.geteuid() == 0 else ()
        return ChromiumLaunch(None, args, "playwright")
    system = _system_browser()
    if system:
        return ChromiumLaunch(system, SYSTEM_CHROMIUM_ARGS, "system")
    raise ChromiumNotFound(
        "No Chromium found. Install one of: Debian/Ubuntu `apt-get install -y chromium` "
        "(make does this when run as root), `playwright install chromium` where downloads "
        "are allowed, or point TANDEM_CHROMIUM at a Chromium or Chrome executable."
    )


def _can_apt_install() -> bool:
    return os.geteuid() == 0 and shutil.which("apt-get") is not None


def ensure_chromium() -> ChromiumLaunch:
    """Find Chromium, installing Debian's package when that is possible."""
    try:
        return find_chromium()
    except ChromiumNotFound:
        if not _can_apt_install():
            raise
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    print("Chromium not found: installing Debian's chromium package…", flush=True)
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env)
    subprocess.run(
        [
            "apt-get",
            "install",
            "-y",
            "-q",
            "--no-install-recommends",
            "chromium",
            "fonts-liberation",
        ],
        check=True,
        env=env,
    )
    return find_chromium()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ensure", action="store_true", help="install Chromium when missing")
    options = parser.parse_args(argv)
    try:
        launch = ensure_chromium() if options.ensure else find_chromium()
    except (ChromiumNotFound, subprocess.CalledProcessError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"chromium: {launch.executable_path or 'Playwright-managed'} ({launch.source})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
