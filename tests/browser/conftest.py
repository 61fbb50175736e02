"""Browser tests: the real server and demo sites as subprocesses, real Chromium through Playwright.

One Chromium per test worker; a fresh browser context (cookies, storage) per test.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, ConsoleMessage, Page, Playwright, async_playwright

from recorder.chromium import ChromiumNotFound, find_chromium
from tests.conftest import REPO, free_port

TANDEM = str(Path(sys.executable).parent / "tandem")
DEMO_USER = ("ada@acme.test", "acme-demo")


ADMIN_TOKEN = "browser-test-admin-token"
SIGNING_KEY = "browser-test-demo-signing-key-32-bytes"


@dataclass
class Process:
    name: str
    url: str
    args: list[str]
    port: int
    logs: Path
    env: dict[str, str]
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = self.logs / f"{self.name}.log"
        self.popen = subprocess.Popen(
            [TANDEM, *self.args], cwd=REPO, env={**os.environ, **self.env},
            stdout=log.open("ab"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.popen.returncode}:\n{log.read_text()}"
                )
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2):
                    return
            except OSError:
                time.sleep(0.1)
        self.popen.kill()
        raise RuntimeError(
            f"{self.name} did not answer on {self.url} within 60 s:\n{log.read_text()}"
        )

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


def _process(name: str, args: list[str], logs: Path, env: dict[str, str]) -> Process:
    port = free_port()
    return Process(name, f"http://127.0.0.1:{port}", [*args, "--port", str(port)], port, logs, env)


def _content_for(tmp: Path, origins: list[str]) -> Path:
    """The demo content, allowing the demo sites' test origins."""
    content = tmp / "content"
    shutil.copytree(REPO / "walkthroughs", content, dirs_exist_ok=True)
    site = content / "demo" / "site.yaml"
    text = site.read_text()
    listed = "".join(f"  - {o}\n" for o in origins)
    site.write_text(text.replace("allowed_origins:\n", f"allowed_origins:\n{listed}", 1))
    return content


@dataclass
class Stack:
    """The Tandem server and the demo site (in one or both variants), as real processes."""

    server: Process
    demos: dict[str, Process] = field(default_factory=dict)

    def demo(self, variant: str = "standard") -> str:
        return self.demos[variant].url

    def api(self, path: str) -> Any:
        request = urllib.request.Request(
            f"{self.server.url}{path}", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def stop(self) -> None:
        for process in [*self.demos.values(), self.server]:
            process.stop()


WEBHOOK_SECRET = "browser-test-webhook-secret"


def start_stack(
    tmp: Path,
    variants: tuple[str, ...] = ("standard", "mutated"),
    *,
    webhook: str | None = None,
    before_start: Callable[[Path, str], None] | None = None,
) -> Stack:
    """The server and demo sites; with ``webhook``, the demo site sends referrals there;
    ``before_start(content, store_url)`` may change the content and the store first."""
    logs = tmp / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    env = {"TANDEM_DEMO_SIGNING_KEY": SIGNING_KEY, "TANDEM_ADMIN_TOKEN": ADMIN_TOKEN}
    if webhook:
        env["TANDEM_TEST_WEBHOOK_SECRET"] = WEBHOOK_SECRET
    server = _process("server", ["serve", "--store", f"sqlite:///{tmp / 'tandem.db'}"], logs, env)
    demos = {
        v: _process(
            f"demo-{v}", ["demo-site", "--variant", v, "--tandem-url", server.url], logs, env
        )
        for v in variants
    }
    content = _content_for(tmp, [d.url for d in demos.values()])
    if webhook:
        site = content / "demo" / "site.yaml"
        site.write_text(
            site.read_text() + "channels:\n  webhook:\n"
            f"    url: {webhook}\n    secret_env: TANDEM_TEST_WEBHOOK_SECRET\n"
        )
    server.env["TANDEM_CONTENT_DIR"] = str(content)
    if before_start is not None:
        before_start(content, f"sqlite:///{tmp / 'tandem.db'}")
    stack = Stack(server, demos)
    try:
        server.start()
        for demo in demos.values():
            demo.start()
    except BaseException:
        stack.stop()
        raise
    return stack


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = start_stack(tmp_path_factory.mktemp("stack"))
    yield running
    running.stop()


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


async def wait_in_page(page: Page, expression: str, *, within: float = 30.0) -> Any:
    """Poll a JavaScript expression until it is truthy.

    Playwright's ``wait_for_function`` compiles its predicate with ``new Function``,
    which the demo's Content-Security-Policy forbids; ``evaluate`` is not affected.
    """
    deadline = time.monotonic() + within
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = await page.evaluate(expression)
        except Exception as exc:  # navigating: the context is gone for a moment
            last = exc
        else:
            if last:
                return last
        await page.wait_for_timeout(100)
    raise AssertionError(f"{expression} still not true after {within} s (last: {last!r})")


PLAYER_BUNDLE = REPO / "client_js" / "dist" / "player.js"


@pytest.fixture
async def player_page(browser: Browser) -> AsyncIterator[Page]:
    """A page for tests that inject the player bundle; no page error may happen on it.

    Its context bypasses Content-Security-Policy only because Playwright's
    ``add_script_tag(path=...)`` inlines the bundle, which the demo's policy (scripts
    from 'self' only) would block; the player itself uses no inline script or style.
    """
    if not PLAYER_BUNDLE.exists():
        pytest.fail(
            f"{PLAYER_BUNDLE.relative_to(REPO)} is missing: run `node build.mjs` in client_js"
        )
    context = await browser.new_context(viewport={"width": 1280, "height": 800}, bypass_csp=True)
    context.set_default_timeout(15_000)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    await context.close()
    assert errors == [], errors
