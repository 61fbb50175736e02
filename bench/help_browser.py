"""Help → first step rendered: in Chromium, on the demo site, from a visitor's question to the
walkthrough's first step drawn on the page.

A real ``tandem serve`` (embedded SQLite store, in-process broker, the demo content) and the real
demo site (``tandem demo-site``, its Content-Security-Policy, its scripts, ``tandem.js`` as a
customer embeds it), headless Chromium. Each sample is a new visitor — a fresh browser context,
signed in to the demo, whose page hands ``tandem.js`` a token signed for a user of their own (as
the demo's backend signs one for each account; the demo has only three, and the same visitor
asking again and again would be a frustration signal) — on the demo's invite page, connected and
idle. Then, timed in the page (``performance.now()``):

- **help**: ``Tandem.help(question)`` — what the widget's question box calls: the server decides
  (where the visitor is, what is published there, the FAQ, their history, the persona) and offers
  the walkthrough — then ``Tandem.start(walkthrough, {session})`` — what the offer's "Show me"
  button calls — until the player's step is on screen (its dialog laid out, and the next frame
  drawn);
- the baseline, **launcher**: ``Tandem.launcher()`` — the widget's list of guides for the page,
  answered from the server's memory — then ``Tandem.start`` of the same walkthrough, until its
  step is on screen.

Visitors alternate between the two; each round compares the help samples' p50 and p99 with the
launcher samples'. The frame is polled with ``requestAnimationFrame`` (one frame is ~17 ms); the
walkthrough's first step on the invite page waits for its target, the name field.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import statistics
import sys
import time
from collections.abc import Iterator
from typing import Any

from bench.harness import Result, quick, result_of, rounds_for
from bench.servers import SIGNING_KEY, Served, free_port, run_server, tandem_server
from server.identity.tokens import sign_visitor_token

QUESTION = "how do I invite a teammate"
WALKTHROUGH = "invite-teammate"
ACCOUNT = ("ada@acme.test", "acme-demo")  # the demo's admin: may invite

#: In the page: one path (help or launcher) until the first step is drawn; its milliseconds.
TIMED = """async ([path, question, walkthrough]) => {
  const shown = () => {
    const host = document.querySelector("tandem-player");
    const dialog = host && host.shadowRoot && host.shadowRoot.querySelector("[role=dialog]");
    if (!dialog || dialog.hidden) return false;
    const box = dialog.getBoundingClientRect();
    return box.width > 0 && box.height > 0 && getComputedStyle(dialog).visibility !== "hidden";
  };
  const began = performance.now();
  let session = "";
  if (path === "help") {
    const reply = await Tandem.help(question);
    if (reply.offer !== "walkthrough" || reply.walkthrough !== walkthrough)
      throw new Error("help offered " + JSON.stringify([reply.offer, reply.walkthrough]));
    session = String(reply.session);
  } else {
    const offers = await Tandem.launcher();
    if (!(offers.walkthroughs || []).some((o) => o.walkthrough === walkthrough))
      throw new Error("the launcher offered " + JSON.stringify(offers));
  }
  const decided = performance.now();
  await Tandem.start(walkthrough, session ? { session } : {});
  await new Promise((resolve, reject) => {
    const until = performance.now() + 20000;
    const check = () => {
      if (shown()) resolve(undefined);
      else if (performance.now() > until) reject(new Error("the step was not shown in 20 s"));
      else requestAnimationFrame(check);
    };
    check();
  });
  await new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
  return { total: performance.now() - began, decided: decided - began };
}"""


def identity_script(user: str) -> str:
    """An init script giving the demo page's ``tandem.js`` a token signed for ``user`` (a new
    visitor): it rewrites the page's config before the demo's deferred script reads it."""
    token = sign_visitor_token(
        user, site="demo", kid="demo-1", secret=SIGNING_KEY, now=int(time.time()),
        traits={"first_name": "Bench", "role": "admin", "plan": "business"},
    )  # fmt: skip
    identity = json.dumps({"id": user, "token": token, "traits": {}})
    return f"""document.addEventListener("readystatechange", () => {{
  const element = document.getElementById("acme-config");
  if (document.readyState !== "interactive" || !element) return;
  const config = JSON.parse(element.textContent);
  config.tandem.identity = {identity};
  element.textContent = JSON.stringify(config);
}});"""


@contextlib.contextmanager
def demo_site(server: Served, port: int) -> Iterator[Served]:
    """``tandem demo-site`` (standard variant) on ``port``, embedding ``server``'s tandem.js."""
    command = [
        sys.executable, "-c", "from server.cli import main; main()", "demo-site",
        "--port", str(port), "--tandem-url", server.url,
    ]  # fmt: skip
    with run_server("demo-site", command, {"TANDEM_DEMO_SIGNING_KEY": SIGNING_KEY}, port) as served:
        yield served


class Visitors:
    """New visitors on the demo's invite page, each in a fresh browser context."""

    def __init__(self, browser: Any, demo: Served, cookies: list[dict[str, Any]]) -> None:
        self.browser, self.demo, self.cookies, self.count = browser, demo, cookies, 0

    async def time(self, path: str) -> dict[str, float]:
        """A new visitor's ``path`` ("help" or "launcher") until the first step is drawn."""
        self.count += 1
        user = f"u-bench-{time.time_ns():x}-{self.count}"
        context = await self.browser.new_context(
            viewport={"width": 1280, "height": 800},
            storage_state={"cookies": self.cookies, "origins": []},
        )
        try:
            page = await context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.on("console", lambda m: errors.append(m.text))
            page.on("requestfailed", lambda r: errors.append(f"failed {r.url} {r.failure}"))

            await page.add_init_script(identity_script(user))
            await page.goto(f"{self.demo.url}/team/invite")
            ready = (
                "window.Tandem && Tandem.status().connected && "
                f"Tandem.status().user === {json.dumps(user)} && Tandem.status().pending === 0"
            )
            deadline = time.monotonic() + 30
            while not await page.evaluate(ready):
                if time.monotonic() > deadline:
                    status = await page.evaluate("window.Tandem && Tandem.status()")
                    raise RuntimeError(f"the visitor's tab did not get ready: {status} {errors}")
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.3)  # idle: what the page load started has settled
            timed: dict[str, float] = await page.evaluate(TIMED, [path, QUESTION, WALKTHROUGH])
            return timed
        finally:
            await context.close()


async def _signed_in_cookies(playwright: Any, demo: Served) -> list[dict[str, Any]]:
    """The demo's session cookie for its admin (the invite page needs a signed-in user)."""
    request = await playwright.request.new_context()
    try:
        response = await request.post(
            f"{demo.url}/signin", form={"email": ACCOUNT[0], "password": ACCOUNT[1]},
            max_redirects=0,
        )  # fmt: skip
        if response.status != 303:
            raise RuntimeError(f"the demo's sign-in answered {response.status}")
        state = await request.storage_state()
        return list(state["cookies"])
    finally:
        await request.dispose()


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


async def measure(rounds: int, visitors: int) -> list[Result]:
    """``rounds`` of ``visitors`` visitors each way, alternating; p50 and p99 of each round."""
    from playwright.async_api import async_playwright

    from recorder.chromium import find_chromium

    port = free_port()
    demo_origin = f"http://127.0.0.1:{port}"
    p50s: list[tuple[float, float]] = []
    p99s: list[tuple[float, float]] = []
    decided: list[float] = []
    cpu = time.process_time()
    with tandem_server(origins=(demo_origin,)) as server, demo_site(server, port) as demo:
        async with async_playwright() as pw:
            launched = await pw.chromium.launch(**find_chromium().launch_kwargs())  # type: ignore[arg-type]
            try:
                people = Visitors(launched, demo, await _signed_in_cookies(pw, demo))
                await people.time("launcher")  # a first visitor warms up the server and Chromium
                for r in range(rounds):
                    helps: list[float] = []
                    launchers: list[float] = []
                    for i in range(2 * visitors):
                        path = "help" if (i + r) % 2 == 0 else "launcher"
                        timed = await people.time(path)
                        (helps if path == "help" else launchers).append(timed["total"])
                        if path == "help":
                            decided.append(timed["decided"])
                    p50s.append((statistics.median(helps), statistics.median(launchers)))
                    p99s.append((_p(helps, 0.99), _p(launchers, 0.99)))
            finally:
                await launched.close()
    spent = time.process_time() - cpu
    note = (
        f"{rounds} × {visitors} new visitors each way on the demo's invite page; of it, the "
        f"answer reached the page in {statistics.median(decided):.0f} ms (p50); target p99 ≤ 400 ms"
    )
    return [
        result_of(
            "help → first step drawn: p50", p50s, "launcher → first step drawn p50", unit="ms",
            better="lower", cpu_s=spent, note=note,
        ),
        result_of(
            "help → first step drawn: p99", p99s, "launcher → first step drawn p99", unit="ms",
            better="lower", cpu_s=spent, note=note,
        ),
    ]  # fmt: skip


def run() -> list[Result]:
    """Help → first step in Chromium (skipped, said, without a browser or a built client)."""
    from bench.client import DIST
    from recorder.chromium import ChromiumNotFound

    if not (DIST / "tandem.js").is_file():
        print("help in the browser: not measured: the client is not built (make client)",
              file=sys.stderr)  # fmt: skip
        return []
    try:
        return asyncio.run(measure(rounds_for(5, quick_rounds=1), 2 if quick() else 12))
    except ChromiumNotFound as exc:  # said, not hidden
        print(f"help in the browser: not measured: {exc}", file=sys.stderr)
        return []
