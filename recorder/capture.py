"""The recorder's shell: Chromium (Playwright), the capture script in every page and frame,
and the binding it reports to. ``tandem record`` drives it with a person at the keyboard;
tests and CI drive the same recorder with a Playwright script (``Recorder``), and both
produce the same file.

    async with Recorder.launch("http://localhost:8001/team", walkthrough_id="invite") as rec:
        await rec.page.get_by_test_id("invite-open").click()
        await rec.say("Click **Invite a teammate**.")
        ...
        content = await rec.finish()          # validated walkthrough content
        rec.save(Path("walkthroughs/acme/invite.yaml"))

The steps are made by ``recorder.steps.Composer`` (pure); this module only moves events.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from playwright.async_api import BrowserContext, Frame, Page, ViewportSize, async_playwright

from recorder.chromium import find_chromium
from recorder.steps import Composer
from recorder.walkthrough_file import to_yaml
from server.knowledge.sources import parse_yaml, validate
from server.knowledge.walkthrough import WalkthroughFile

CAPTURE_BUNDLE = Path(__file__).resolve().parent.parent / "client_js" / "dist" / "tandem-capture.js"
BINDING = "__tandemCapture"
#: How long a navigation waits for the page's word that it made it.
NAVIGATION_GRACE_S = 0.25


def _page_address(url: str) -> str:
    """A URL without its query and fragment: what the page announces of a navigation."""
    return url.split("#", 1)[0].split("?", 1)[0]


class RecorderError(RuntimeError):
    """The recording cannot be made (no capture bundle, an invalid result…): says why."""


class Recorder:
    """One recording in a browser context: the author's (or a script's) actions become steps."""

    def __init__(
        self,
        context: BrowserContext,
        *,
        walkthrough_id: str,
        process: str | None = None,
        title: str | None = None,
        test_id_attribute: str = "data-testid",
    ) -> None:
        self.context = context
        self.test_id_attribute = test_id_attribute
        self.composer = Composer(walkthrough_id, process=process, title=title)
        self.finished = asyncio.Event()
        self._page: Page | None = None
        self.content: dict[str, Any] | None = None
        self._page_navigations: list[tuple[float, str]] = []
        self._navigation_known = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def page(self) -> Page:
        if self._page is None:
            raise RecorderError("the recording has no page yet: call open(url) first")
        return self._page

    # -- set-up ------------------------------------------------------------------------------

    async def attach(self) -> None:
        """Put the capture script in every page and frame of the context, and listen to it."""
        if not CAPTURE_BUNDLE.is_file():
            raise RecorderError(
                f"{CAPTURE_BUNDLE.name} is not built: run `make client` (or `npm run build` "
                "in client_js)"
            )
        await self.context.expose_binding(
            BINDING, lambda source, event: self._on_event(source, event)
        )
        if self.test_id_attribute != "data-testid":
            await self.context.add_init_script(
                f"window.__tandemTestIdAttribute = {json.dumps(self.test_id_attribute)};"
            )
        await self.context.add_init_script(path=str(CAPTURE_BUNDLE))

    async def open(self, url: str) -> Page:
        """Open the page the recording starts on."""
        page = await self.context.new_page()
        self._page = page
        self.composer.start(url)
        page.on("framenavigated", self._on_navigation)
        page.on("close", lambda _: self.finished.set())
        await page.goto(url)
        return page

    @classmethod
    @asynccontextmanager
    async def launch(
        cls,
        url: str,
        *,
        walkthrough_id: str,
        process: str | None = None,
        title: str | None = None,
        headless: bool = True,
        storage_state: str | Path | None = None,
        viewport: ViewportSize | None = None,
        test_id_attribute: str = "data-testid",
    ) -> AsyncIterator[Recorder]:
        """Chromium with a recording open at ``url``; closed on leaving the block."""
        async with async_playwright() as pw:
            launch = find_chromium()
            browser = await pw.chromium.launch(**launch.launch_kwargs(headless=headless))  # type: ignore[arg-type]
            try:
                context = await browser.new_context(
                    storage_state=str(storage_state) if storage_state else None,
                    viewport=viewport or ViewportSize(width=1280, height=800),
                    no_viewport=not headless and viewport is None,
                    # The toolbar and the capture are the recorder's, not the page's: a strict
                    # Content-Security-Policy (or Trusted Types) must not break them.
                    bypass_csp=True,
                )
                recorder = cls(
                    context, walkthrough_id=walkthrough_id, process=process, title=title,
                    test_id_attribute=test_id_attribute,
                )  # fmt: skip
                await recorder.attach()
                await recorder.open(url)
                yield recorder
            finally:
                await browser.close()

    # -- events ------------------------------------------------------------------------------

    def _on_event(self, source: dict[str, Any], event: Any) -> dict[str, Any]:
        if self._page is not None and source.get("page") not in (None, self._page):
            # A popup or another tab: its navigations are not followed, so neither are its events.
            note = "events in another window (a popup, a new tab) are not recorded"
            if note not in self.composer.skipped:
                self.composer.skipped.append(note)
            return self.composer.state()
        if isinstance(event, dict) and event.get("type") == "navigating":
            now = asyncio.get_running_loop().time()
            self._page_navigations.append((now, _page_address(str(event.get("url", "")))))
            self._navigation_known.set()
        elif isinstance(event, dict):
            self.composer.event(event)
        else:
            self.composer.skipped.append(f"not an event: {type(event).__name__}")
        if self.composer.finished:
            self.finished.set()
        return self.composer.state()

    def _on_navigation(self, frame: Frame) -> None:
        if frame.parent_frame is None:
            position, at_ms = len(self.composer.drafts), time.time() * 1000
            task = asyncio.get_running_loop().create_task(
                self._navigated(frame.url, position, at_ms)
            )
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _navigated(self, url: str, position: int, at_ms: float) -> None:
        """Credit a navigation to the page (and so to the step before it) when the page
        announced it: an announcement of this URL, or any made before it committed (a form
        posted to /signin may land on /home). One made after it, for another URL, is the next
        navigation's. The announcement may trail the navigation by a moment: wait that moment."""
        loop = asyncio.get_running_loop()
        committed = loop.time()
        key = _page_address(url)
        deadline = committed + NAVIGATION_GRACE_S

        # Announcements from long before are of navigations that never happened (cancelled).
        self._page_navigations = [a for a in self._page_navigations if a[0] > committed - 5]

        def match() -> int:
            for i, (at, announced) in enumerate(self._page_navigations):
                if announced == key or at <= committed:
                    return i
            return -1

        while match() < 0 and loop.time() < deadline:
            self._navigation_known.clear()
            try:
                await asyncio.wait_for(self._navigation_known.wait(), deadline - loop.time())
            except TimeoutError:
                break
        found = match()
        if found >= 0:  # it, and every other word of this one (the same URL, or said before it)
            self._page_navigations = [
                a for a in self._page_navigations[found + 1 :] if a[1] != key and a[0] > committed
            ]
        self.composer.navigated(url, by_page=found >= 0, position=position, at_ms=at_ms)

    async def settle(self) -> None:
        """Wait until every frame's captured events, and the navigations, have reached the recorder."""
        page = self.page
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        for frame in page.frames:
            try:
                await frame.evaluate("() => window.TandemCapture && window.TandemCapture.flush()")
            except Exception:  # a frame going away: its events are in or lost with it
                continue

    async def _refresh_toolbar(self) -> None:
        try:
            await self.page.evaluate(
                "(state) => window.TandemCapture && window.TandemCapture.render(state)",
                self.composer.state(),
            )
        except Exception:  # the page is navigating: the toolbar asks again when it loads
            return

    # -- the author's commands (the toolbar's, for scripts) ---------------------------------------

    async def say(self, text: str) -> None:
        """The last step's sentence, as the visitor will read it."""
        await self.settle()
        self.composer.say(text)
        await self._refresh_toolbar()

    async def mark_destructive(self, on: bool = True) -> None:
        await self.settle()
        self.composer.mark_destructive(on)
        await self._refresh_toolbar()

    async def expect_visible(self, selector: str) -> None:
        """After the last step, the element ``selector`` names should be visible."""
        await self.settle()
        self.composer.expect_visible(selector)
        await self._refresh_toolbar()

    async def undo(self) -> None:
        await self.settle()
        self.composer.undo()
        await self._refresh_toolbar()

    async def finish(self) -> dict[str, Any]:
        """The recorded walkthrough, validated; raises ``RecorderError`` when it is not valid."""
        if self._page is not None and not self._page.is_closed():
            await self.settle()
        self.composer.finished = True
        content = self.composer.walkthrough()
        if not content["steps"]:
            raise RecorderError("nothing was recorded: no step")
        text = to_yaml(content)
        try:
            validate(WalkthroughFile, parse_yaml(text, f"{content['id']}.yaml"))
        except Exception as exc:
            raise RecorderError(f"the recording does not make a valid walkthrough:\n{exc}") from exc
        self.content = content
        self.finished.set()
        return content

    async def save_storage_state(self, path: Path) -> Path:
        """Keep the browser's cookies and storage (signed in, say) for ``tandem verify``."""
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            await self.context.storage_state(path=str(path))
        except Exception as exc:  # the author quit the browser: there is nothing left to keep
            raise RecorderError(f"the browser's session could not be kept: {exc}") from exc
        return path

    def save(self, path: Path) -> Path:
        """Write the finished walkthrough (atomically: a temporary file, then a rename)."""
        if self.content is None:
            raise RecorderError("finish() the recording before saving it")
        when = dt.datetime.now(dt.UTC).date().isoformat()
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(
            dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
        )
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(to_yaml(self.content, when=when))
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # as any file the author makes, not mkstemp's 0600
        os.replace(temporary, path)
        return path

    def save_draft(self, path: Path) -> Path:
        """Write what was recorded, unvalidated, next to ``path`` (``NAME.draft.yaml``): when
        the recording does not make a valid walkthrough, nothing the author did is lost."""
        draft = path.with_name(f"{path.stem}.draft.yaml")
        draft.parent.mkdir(parents=True, exist_ok=True)
        draft.write_text(to_yaml(self.composer.walkthrough()), encoding="utf-8")
        return draft
