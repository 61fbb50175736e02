"""The browser client's cost: its size, and the longest main-thread tasks it causes.

- Size: ``client_js/dist/tandem.js`` gzipped (level 9), against the target (40 KiB), and with the
  co-browse recorder (``tandem-mirror.js``, loaded only when a visitor shares their page)
  against ``tandem.js`` alone.
- Start-up, in headless Chromium on a generated page of 10,000 elements served from this process:
  the page loads with its ``<script src=…/tandem.js async>`` from a real ``tandem serve`` and
  runs until the client is connected (``tandem:connected``) and 1 s more, against the same page
  without the script tag. The figures come from Chromium's trace (``devtools.timeline``,
  ``toplevel``): the longest main-thread task of the page, and tandem.js's own share — of each
  task, the time spent compiling and running tandem.js's code (its evaluation, its callbacks:
  timers, events, socket messages) — against the longest task of the page without it.
- Mirror snapshot: on the same page, loaded and idle, ``tandem-mirror.js`` is loaded and starts
  recording (rrweb's full snapshot, masked, scrubbed) until its first batch, against bare rrweb
  (the same version, bundled the same way, default options) doing the same. The figure is the
  longest main-thread task in that window; encoding and sending the batch are not included.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from bench.harness import Result, compare, quick, result_of, rounds_for
from bench.servers import REPO, Served, free_port, tandem_server

DIST = REPO / "client_js" / "dist"
TARGET_BYTES = 40 * 1024
PAGE_ELEMENTS = 10_000
SETTLE_MS = 1000  # after connecting, what start-up still does (300 ms in a smoke run)
CATEGORIES = ["devtools.timeline", "toplevel"]
#: Trace events that are a script's own work on the main thread (compiling, running, callbacks).
SCRIPT_EVENTS = frozenset({"EvaluateScript", "v8.compile", "FunctionCall", "v8.compileModule"})
TASK_EVENTS = frozenset({"RunTask", "ThreadControllerImpl::RunTask"})


def settle_ms() -> int:
    """How long start-up is watched after the client connected."""
    return 300 if quick() else SETTLE_MS


#: What a page loads only once an agent is involved: the consent UI and banner, then the recorder.
ON_DEMAND = ("tandem-cobrowse.js", "tandem-mirror.js")


def gzipped(path: Path) -> int:
    """The size of ``path`` gzipped at level 9, in bytes."""
    return len(gzip.compress(path.read_bytes(), compresslevel=9, mtime=0))


def sizes() -> list[Result]:
    """tandem.js gzipped against the target; with what a page that is shared loads (the co-browse
    consent UI and the recorder) against tandem.js alone."""
    client = DIST / "tandem.js"
    main = gzipped(client) / 1024
    on_demand = {name: gzipped(DIST / name) / 1024 for name in ON_DEMAND if (DIST / name).is_file()}
    shared = main + sum(on_demand.values())
    loaded = ", ".join(f"{name} {size:,.1f} KiB gz" for name, size in on_demand.items())
    return [
        compare(
            "client: tandem.js gzipped", lambda: main, "target 40 KiB", lambda: TARGET_BYTES / 1024,
            unit="KiB", rounds=1, better="lower",
            note=f"{client.stat().st_size / 1024:,.0f} KiB minified; co-browse UI and recorder not included",
        ),
        compare(
            "client: with co-browse recorder gz", lambda: shared, "tandem.js alone",
            lambda: main, unit="KiB", rounds=1, better="lower",
            note=f"{loaded}: loaded only when an agent asks to see the page",
        ),
    ]  # fmt: skip


# --- the page ---------------------------------------------------------------------------------


def page_html(head: str = "", elements: int = PAGE_ELEMENTS) -> str:
    """An app-like page of exactly ``elements`` elements (``head`` not counted): a navigation, a
    form with private fields, and a table of invoices."""
    fixed = [
        '<html lang="en">', "<head>", '<meta charset="utf-8">', '<link rel="icon" href="data:,">',
        "<title>Invoices</title>", "</head>", "<body>",
    ]  # fmt: skip
    count = 6  # html, head, meta, link, title, body
    nav = "".join(f'<li><a href="/section/{i}">Section {i}</a></li>' for i in range(40))
    count += 2 + 80  # nav, ul, 40 x (li, a)
    fields = "".join(
        f'<label>Field {i}<input name="f{i}" type="{kind}" value="secret {i}"></label>'
        for i, kind in enumerate(["text", "email", "password", "tel"] * 5)
    )
    fields += '<input autocomplete="cc-number" value="4242424242424242"><button>Save</button>'
    count += 1 + 40 + 2  # form, 20 x (label, input), card input, button
    count += 3  # main, h1, table
    count += 1  # tbody
    row_cost = 11  # tr, 6 td, input, a, span, button
    rows, pad = divmod(elements - count, row_cost)
    body = "".join(
        f'<tr><td><input type="checkbox" aria-label="select invoice {i}"></td>'
        f'<td><a href="/invoices/{i}">#{1000 + i}</a></td><td>Customer {i % 97}</td>'
        f'<td><span class="badge">{"Paid" if i % 3 else "Due"}</span></td><td>${i * 7 % 900}.00</td>'
        f'<td><button type="button">Download</button></td></tr>'
        for i in range(rows)
    )  # fmt: skip
    padding = "".join(f"<span>{i}</span>" for i in range(pad))
    return (
        f"<!doctype html>{''.join(fixed[:5])}{head}{fixed[5]}{fixed[6]}"
        f"<nav><ul>{nav}</ul></nav><form>{fields}</form>"
        f"<main><h1>Invoices{padding}</h1><table><tbody>{body}</tbody></table></main></body></html>"
    )


@contextlib.contextmanager
def page_server(pages: dict[str, tuple[bytes, str]]) -> Iterator[str]:
    """Serve ``pages`` (path → body, content type) on a free local port; yields the origin."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            found = pages.get(self.path.split("?")[0])
            if found is None:
                self.send_response(404)
                self.end_headers()
                return
            body, kind = found
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    port = free_port()
    httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def bare_rrweb() -> bytes | None:
    """rrweb's ``record`` alone (``window.BareRrweb``), bundled as tandem-mirror.js is; None
    without the client's node_modules."""
    client = REPO / "client_js"
    esbuild = client / "node_modules" / ".bin" / "esbuild"
    if not esbuild.exists():
        return None
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "rrweb.js"
        subprocess.run(
            [str(esbuild), "--bundle", "--minify", "--format=iife", "--target=es2020",
             "--legal-comments=none", "--sourcefile=bare-rrweb.js", f"--outfile={out}"],
            input=b'import { record } from "rrweb"; window.BareRrweb = { record };',
            cwd=client, check=True, capture_output=True,
        )  # fmt: skip
        return out.read_bytes()


# --- the trace ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tasks:
    """What a trace says of the page's main thread."""

    longest_ms: float  # the longest task
    script_ms: float  # of one task, the most time spent in the script's own code
    tasks: int


def main_thread_tasks(raw: bytes, script: str | None = None) -> Tasks:
    """The renderer main thread's longest task, and ``script``'s largest share of one task."""
    document = json.loads(raw)
    events: list[dict[str, Any]] = (
        document["traceEvents"] if isinstance(document, dict) else document
    )
    mains = {
        (e["pid"], e["tid"])
        for e in events
        if e.get("ph") == "M"
        and e.get("name") == "thread_name"
        and e.get("args", {}).get("name") == "CrRendererMain"
    }
    by_thread: dict[tuple[int, int], list[dict[str, Any]]] = {}
    for e in events:
        key = (e.get("pid", 0), e.get("tid", 0))
        if key in mains and e.get("ph") == "X" and "dur" in e:
            by_thread.setdefault(key, []).append(e)
    longest = share = 0.0
    count = 0
    for thread in by_thread.values():
        thread.sort(key=lambda e: (e["ts"], -e["dur"]))
        tasks: list[dict[str, Any]] = []
        for e in thread:  # outermost tasks only (a task event may nest another)
            if e["name"] in TASK_EVENTS and not (
                tasks and e["ts"] < tasks[-1]["ts"] + tasks[-1]["dur"]
            ):
                tasks.append(e)
        count += len(tasks)
        longest = max([longest, *(t["dur"] / 1000 for t in tasks)])
        if script is None:
            continue
        runs = [e for e in thread if e["name"] in SCRIPT_EVENTS and script in _url(e)]
        for task in tasks:
            end = task["ts"] + task["dur"]
            inside = [(e["ts"], min(e["ts"] + e["dur"], end)) for e in runs
                      if task["ts"] <= e["ts"] < end]  # fmt: skip
            share = max(share, _union_us(inside) / 1000)
    return Tasks(longest, share, count)


def _url(event: dict[str, Any]) -> str:
    data = event.get("args", {}).get("data") or {}
    return str(data.get("url") or data.get("scriptName") or "")


def _union_us(spans: list[tuple[float, float]]) -> float:
    total, reach = 0.0, float("-inf")
    for start, end in sorted(spans):
        if end <= reach:
            continue
        total += end - max(start, reach)
        reach = end
    return total


# --- measuring in Chromium ------------------------------------------------------------------


class Browser:
    """One headless Chromium for the benchmark; a fresh context (empty cache) per page load."""

    def __init__(self, browser: Any) -> None:
        self.browser = browser

    async def startup(self, url: str, *, tandem: bool) -> Tasks:
        """Load ``url`` and trace it until the client connected (``tandem``) and a while more."""
        context = await self.browser.new_context()
        try:
            page = await context.new_page()
            await page.add_init_script(
                "document.addEventListener('tandem:connected', () => { window.__connected = true; })"
            )
            await self.browser.start_tracing(page=page, categories=CATEGORIES)
            await page.goto(url, wait_until="load")
            if tandem:
                await page.wait_for_function("window.__connected === true", timeout=30_000)
            await page.wait_for_timeout(settle_ms())
            raw = await self.browser.stop_tracing()
            return main_thread_tasks(raw, "/tandem.js" if tandem else None)
        finally:
            await context.close()

    async def snapshot(self, url: str, script: str, start: str) -> tuple[Tasks, int]:
        """Load ``url``, wait until idle, then load ``script`` and run ``start`` (which sets
        ``window.__batch`` to the first batch's events): the trace of that, and their size."""
        context = await self.browser.new_context()
        try:
            page = await context.new_page()
            await page.goto(url, wait_until="load")
            await page.wait_for_timeout(500)
            await self.browser.start_tracing(page=page, categories=CATEGORIES)
            await page.evaluate(
                """([src, start]) => {
                  const script = document.createElement("script");
                  script.src = src;
                  script.onload = () => (0, eval)(start);
                  document.head.appendChild(script);
                }""",
                [script, start],
            )
            await page.wait_for_function("window.__batch !== undefined", timeout=30_000)
            await page.wait_for_timeout(300)
            raw = await self.browser.stop_tracing()
            size = await page.evaluate("JSON.stringify(window.__batch).length")
            return main_thread_tasks(raw), int(size)
        finally:
            await context.close()


TANDEM_RECORDING = """
window.TandemMirror.startRecording({
  onBatch: (batch) => { if (batch.full && window.__batch === undefined) window.__batch = batch.events; },
});
"""
BARE_RECORDING = """
(() => {
  const events = [];
  let scheduled = false;
  window.BareRrweb.record({
    emit(event) {
      events.push(event);
      if (scheduled) return;
      scheduled = true;
      requestAnimationFrame(() => { window.__batch = events.slice(); });
    },
  });
})();
"""


async def measure(rounds: int) -> list[Result]:
    """Start-up and snapshot in Chromium, on the generated page, with a real ``tandem serve``."""
    from playwright.async_api import async_playwright

    from recorder.chromium import find_chromium

    rrweb = bare_rrweb()
    pages: dict[str, tuple[bytes, str]] = {}
    with page_server(pages) as origin, tandem_server(origins=(origin,)) as server:
        pages["/plain"] = (page_html().encode(), "text/html; charset=utf-8")
        tag = f'<script src="{server.url}/tandem.js" data-site="demo" async></script>'
        pages["/with-tandem"] = (page_html(tag).encode(), "text/html; charset=utf-8")
        if rrweb is not None:
            pages["/rrweb.js"] = (rrweb, "text/javascript")
        async with async_playwright() as pw:
            launched = await pw.chromium.launch(**find_chromium().launch_kwargs())  # type: ignore[arg-type]
            try:
                browser = Browser(launched)
                results = await _startup(browser, origin, rounds)
                if rrweb is not None:
                    results.append(await _snapshot(browser, origin, server, rounds))
                else:  # said, not hidden
                    print("mirror snapshot: not measured: no client_js/node_modules (esbuild, rrweb)",
                          file=sys.stderr)  # fmt: skip
                return results
            finally:
                await launched.close()


async def _startup(browser: Browser, origin: str, rounds: int) -> list[Result]:
    """The page with and without tandem.js, alternately: its longest task, and tandem.js's share."""

    whole: list[tuple[float, float]] = []
    own: list[tuple[float, float]] = []
    cpu = time.process_time()
    for i in range(rounds):
        if i % 2 == 0:
            c = await browser.startup(f"{origin}/with-tandem", tandem=True)
            b = await browser.startup(f"{origin}/plain", tandem=False)
        else:
            b = await browser.startup(f"{origin}/plain", tandem=False)
            c = await browser.startup(f"{origin}/with-tandem", tandem=True)
        whole.append((c.longest_ms, b.longest_ms))
        own.append((c.script_ms, b.longest_ms))
    spent = time.process_time() - cpu
    page = f"{PAGE_ELEMENTS:,}-element page"
    return [
        result_of(
            "client start-up: longest task", whole, "same page without tandem.js", unit="ms",
            better="lower", cpu_s=spent, note=f"{page}, until connected + {settle_ms()} ms",
        ),
        result_of(
            "client start-up: tandem.js's share", own, "page's own longest task", unit="ms",
            better="lower", cpu_s=spent,
            note=f"{page}: the most one task spent in tandem.js's code; target ≤ 50 ms",
        ),
    ]  # fmt: skip


async def _snapshot(browser: Browser, origin: str, server: Served, rounds: int) -> Result:
    """tandem-mirror.js and bare rrweb taking the page's full snapshot, alternately."""

    pairs: list[tuple[float, float]] = []
    size = 0
    cpu = time.process_time()

    async def tandem() -> float:
        nonlocal size
        tasks, size = await browser.snapshot(
            f"{origin}/plain", f"{server.url}/tandem-mirror.js", TANDEM_RECORDING
        )
        return tasks.longest_ms

    async def bare() -> float:
        tasks, _ = await browser.snapshot(f"{origin}/plain", f"{origin}/rrweb.js", BARE_RECORDING)
        return tasks.longest_ms

    for i in range(rounds):
        if i % 2 == 0:
            c, b = await tandem(), await bare()
        else:
            b, c = await bare(), await tandem()
        pairs.append((c, b))
    return result_of(
        "mirror snapshot: longest task", pairs, "bare rrweb record()", unit="ms", better="lower",
        cpu_s=time.process_time() - cpu,
        note=f"{PAGE_ELEMENTS:,}-element page; load + full snapshot, {size / 1024:,.0f} KiB of JSON",
    )  # fmt: skip


def run() -> list[Result]:
    """The sizes, then start-up and snapshot in Chromium (skipped, said, without a browser)."""
    from recorder.chromium import ChromiumNotFound

    if not (DIST / "tandem.js").is_file() or not (DIST / "tandem-mirror.js").is_file():
        print("client: not measured: the client is not built (make client)", file=sys.stderr)
        return []
    results = sizes()
    try:
        results.extend(asyncio.run(measure(rounds_for(7, quick_rounds=1))))
    except ChromiumNotFound as exc:  # said, not hidden
        print(f"client start-up, mirror snapshot: not measured: {exc}", file=sys.stderr)
    return results
