"""Help → answer: how long the server takes to decide what to offer a visitor who asks for help,
while it is under load.

A real ``tandem serve`` (``bench.servers``: embedded SQLite store, in-process broker, the demo
content) holds background tabs that each report a new location every few seconds (stored and
acknowledged, as pages that navigate). Meanwhile, in each of a number of asking slots, visitors
come one after another: each opens a tab on the demo's invite page, asks for help once (``help``
→ ``help_answer``: the decision — where the visitor is, what is published for that process, the
FAQ search, their history, the persona — recorded as a support session), then asks for the
page's launcher (``launcher`` → ``offers``: the server's cheapest request, the walkthroughs that
can start where the tab is, answered from memory), and leaves. The baseline is that launcher
round trip, on the same sockets, in the same seconds: the ratio is what deciding costs over a
request the server answers from memory. Latencies are measured by this process (the load
generator); each round's p50 and p99 are compared.

Not measured here: help → first step rendered in the browser (the widget, the player finding its
target), which needs the demo site in Chromium.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from bench.harness import Result, quick, result_of, rounds_for
from bench.memory import open_tandem_tab
from bench.servers import Served, pinned_generator, raise_file_limit, tandem_server
from server.protocol import decode_server, encode
from server.protocol.messages import Help as HelpMessage
from server.protocol.messages import HelpAnswer, Launcher, Location, Offers

QUESTIONS = (
    "how do I invite a teammate",
    "where can I find an old invoice",
    "can I pay by card",
    "the export button does nothing",
)
ASKING_AT = "http://127.0.0.1:8001/team/invite"
EVERY_S = 1.0  # each background tab moves this often: 1,000 tabs, 1,000 requests/s
PAUSE_S = 0.05  # a visitor waits this long after the answer (and before leaving)


@dataclass
class Asker:
    """One visitor after another: each opens a tab on the invite page, asks for help once, then
    for the page's launcher, and leaves (asking again and again would be a frustration signal)."""

    server: Served
    number: int  # this asker's visitors' tabs are numbered from here
    help_ms: list[float] = field(default_factory=list)
    launcher_ms: list[float] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)  # visitors whose socket dropped, and why

    async def run(self, until: float) -> None:
        """Visitors one after another, until ``until``."""

        while time.perf_counter() < until:
            self.number += 1
            try:
                await self.visit()
            except (ConnectionClosed, OSError) as exc:  # counted and said, not the end of the run
                self.dropped.append(f"{type(exc).__name__}: {exc}")
            await asyncio.sleep(PAUSE_S)

    async def visit(self) -> None:
        """One visitor: a tab on the invite page, help once, the launcher once."""
        ws = await open_tandem_tab(self.server, self.number)
        try:
            now = int(time.time() * 1000)
            await ws.send(encode(Location(cseq=3, at=now, url=ASKING_AT, title="Invite a teammate")))  # fmt: skip
            question = QUESTIONS[self.number % len(QUESTIONS)]
            self.help_ms.append(await _ask(ws, HelpMessage(req=1, question=question), HelpAnswer))  # fmt: skip
            await asyncio.sleep(PAUSE_S)
            self.launcher_ms.append(await _ask(ws, Launcher(req=2), Offers))
        finally:
            await ws.close()


async def _ask(ws: ClientConnection, message: HelpMessage | Launcher, answer: type) -> float:
    """Send a request; the milliseconds until its answer."""
    began = time.perf_counter()
    await ws.send(encode(message))
    while True:
        frame = await asyncio.wait_for(ws.recv(), 30)
        if isinstance(frame, bytes) and isinstance(decode_server(frame), answer):
            return (time.perf_counter() - began) * 1000


async def _navigate(tabs: list[ClientConnection], until: float) -> int:
    """Each background tab reports a new location every ``EVERY_S``; how many were sent."""
    cseqs = [2] * len(tabs)
    rate = len(tabs) / EVERY_S
    began, sent = time.perf_counter(), 0
    while (now := time.perf_counter()) < until:
        for _ in range(int((now - began) * rate) - sent):
            i = sent % len(tabs)
            cseqs[i] += 1
            url = f"https://app.acme.test/invoices/{cseqs[i]}"
            await tabs[i].send(encode(Location(cseq=cseqs[i], at=int(time.time() * 1000), url=url)))
            sent += 1
        await asyncio.sleep(0.01)
    return sent


@contextlib.asynccontextmanager
async def draining(tabs: list[ClientConnection]) -> AsyncIterator[None]:
    """Read (and drop) what the server sends background tabs: their acknowledgements."""

    async def drain(ws: ClientConnection) -> None:
        async for _ in ws:
            pass

    tasks = [asyncio.create_task(drain(ws)) for ws in tabs]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _p(values: list[float], q: float) -> float:
    """The ``q`` quantile of ``values``."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


async def run(background: int = 1000, asking: int = 20) -> list[Result]:
    """Rounds of help and launcher requests under load; p50 and p99 of each round."""
    raise_file_limit()
    rounds, seconds = rounds_for(5, quick_rounds=1), 2.0 if quick() else 6.0
    p50s: list[tuple[float, float]] = []
    p99s: list[tuple[float, float]] = []
    cpu = time.process_time()
    with pinned_generator() as pinning, tandem_server() as server:
        gate = asyncio.Semaphore(100)

        async def opened(i: int) -> ClientConnection:
            async with gate:
                return await open_tandem_tab(server, i)

        tabs = list(await asyncio.gather(*(opened(i) for i in range(background))))
        askers = [Asker(server, background + i * 1_000_000) for i in range(asking)]
        sent, busy = 0, server.cpu_s()
        began = time.perf_counter()
        async with draining(tabs):
            for _ in range(rounds):
                until = time.perf_counter() + seconds
                for asker in askers:
                    asker.help_ms.clear()
                    asker.launcher_ms.clear()
                navigating = asyncio.create_task(_navigate(tabs, until))
                await asyncio.gather(*(a.run(until) for a in askers))
                sent += await navigating
                helps = [x for a in askers for x in a.help_ms]
                launchers = [x for a in askers for x in a.launcher_ms]
                p50s.append((statistics.median(helps), statistics.median(launchers)))
                p99s.append((_p(helps, 0.99), _p(launchers, 0.99)))
        busy = (server.cpu_s() - busy) / (time.perf_counter() - began)
        await asyncio.gather(*(ws.close() for ws in tabs))
    spent = time.process_time() - cpu
    load = (
        f"{background:,} tabs moving every {EVERY_S:.0f} s ({sent / (rounds * seconds):,.0f} "
        f"locations/s stored), {asking} visitors asking at a time; server CPU {busy:.0%}; {pinning}"
    )
    dropped = [d for a in askers for d in a.dropped]
    if dropped:  # said: a dropped visitor is not a sample
        load += f"; {len(dropped)} visitors' sockets dropped (first: {dropped[0]})"
    return [
        result_of(
            "help → answer: decision p50", p50s, "launcher → offers p50", unit="ms",
            better="lower", cpu_s=spent, note=load,
        ),
        result_of(
            "help → answer: decision p99", p99s, "launcher → offers p99", unit="ms",
            better="lower", cpu_s=spent, note=load,
        ),
    ]  # fmt: skip
