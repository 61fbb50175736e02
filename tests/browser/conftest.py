"""Browser tests: the real server and demo sites as subprocesses, real Chromium through Playwright.

One Chromium per test worker; a fresh browser context (cookies, storage) per test.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.async_api import Browser, ConsoleMessage, Page, Playwright, async_playwright

from recorder.chromium import ChromiumNotFound, find_chromium
from tests.conftest import REPO, free_port

TANDEM = str(Path(sys.executable).parent / "tandem")
DEMO_USER = ("ada@acme.test", "acme-demo")


@dataclass
class Process:
    name: str
    url: str
    popen: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.popen.kill()


def start_process(
    name: str, args: list[str], port: int, logs: Path, env: dict[str, str]
) -> Process:
    log = logs / f"{name}.log"
    popen = subprocess.Popen(
        [TANDEM, *args], cwd=REPO, env={**os.environ, **env},
        stdout=log.open("wb"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if popen.poll() is not None:
            raise RuntimeError(f"{name} exited with {popen.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2):
                return Process(name, url, popen, log)
        except OSError:
            time.sleep(0.1)
    popen.kill()
    raise RuntimeError(f"{name} did not answer on {url} within 60 s:\n{log.read_text()}")


@dataclass
class Stack:
    """The Tandem server and the demo site in both variants."""

    server: Process
    demos: dict[str, Process] = field(default_factory=dict)

    def demo(self, variant: str = "standard") -> str:
        return self.demos[variant].url


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    logs = tmp_path_factory.mktemp("logs")
    env = {"TANDEM_CONTENT_DIR": str(REPO / "walkthroughs")}
    port = free_port()
    server = start_process(
        "server",
        ["serve", "--port", str(port), "--store", f"sqlite:///{logs / 'tandem.db'}"],
        port,
        logs,
        env,
    )
    stack = Stack(server)
    try:
        for variant in ("standard", "mutated"):
            demo_port = free_port()
            stack.demos[variant] = start_process(
                f"demo-{variant}",
                ["demo-site", "--port", str(demo_port), "--variant", variant, "--tandem-url", server.url],
                demo_port, logs, env,
            )  # fmt: skip
        yield stack
    finally:
        for process in [*stack.demos.values(), server]:
            process.stop()


@pytest.fixture(scope="session")
async def playwright() -> AsyncIterator[Playwright]:
    async with async_playwright() as p:
        yield p


@pytest.fixture(scope="session")
async def browser(playwright: Playwright) -> AsyncIterator[Browser]:
    try:
        launch = find_chromium()
    except ChromiumNotFound as exc:
        pytest.fail(str(exc))
    chromium = await playwright.chromium.launch(**launch.launch_kwargs())  # type: ignore[arg-type]
    yield chromium
    await chromium.close()


@dataclass
class PageProblems:
    """What the page complained about: JS errors and Content-Security-Policy violations."""

    errors: list[str] = field(default_factory=list)
    csp_violations: list[str] = field(default_factory=list)

    def on_console(self, message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            self.csp_violations.append(message.text)


@pytest.fixture
def problems() -> PageProblems:
    return PageProblems()


@pytest.fixture
async def page(browser: Browser, problems: PageProblems) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(15_000)
    page = await context.new_page()
    page.on("console", problems.on_console)
    page.on("pageerror", lambda error: problems.errors.append(str(error)))
    yield page
    await context.close()


async def sign_in(page: Page, base_url: str, email: str = DEMO_USER[0]) -> None:
    await page.goto(f"{base_url}/signin")
    await page.get_by_test_id("signin-email").fill(email)
    await page.get_by_test_id("signin-password").fill(DEMO_USER[1])
    await page.get_by_test_id("signin-submit").click()
    await page.wait_for_url(f"{base_url}/home")
