"""Idle memory per connection: how much a server's resident memory grows per open, idle tab.

A real ``tandem serve`` (``bench.servers``: embedded SQLite store, in-process broker, the demo
content) gets thousands of WebSocket connections, each a visitor tab as tandem.js opens it: the
protocol's ``hello`` (answered by ``welcome``, an anonymous visitor issued), then the page's
``location`` and ``focus`` (stored and acknowledged). The baselines get the same frames, echoed:
a bare uvicorn + Starlette WebSocket app and a bare ``websockets`` server (``bench.bare``), each
in its own process. Nobody compresses (the client offers no ``permessage-deflate``).

The figure is (RSS after the connections - RSS before) / connections, the server process's RSS
read from ``/proc`` once it has settled, after a warm-up of connections opened first (so what
the first connection loads once is not counted). Lower is better.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager

from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Origin

from bench.harness import Result, result_of, rounds_for
from bench.servers import DEMO_ORIGIN, Served, bare_server, raise_file_limit, tandem_server
from server.protocol import decode_server, encode
from server.protocol.messages import Ack, Focus, Hello, Location, Welcome

WARM_UP = 50
TARGET_KIB = 24
AT_ONCE = 100  # connections being opened at the same time


def tab_frames(i: int) -> list[bytes]:
    """What tandem.js sends when a page opens: hello, then where it is and whether it has focus."""
    now = int(time.time() * 1000)
    return [
        encode(Hello(v=1, site="demo", tab=f"bench-tab-{i:08d}", client="bench")),
        encode(Location(cseq=1, at=now, url=f"https://app.acme.test/invoices/{i}", title="Invoices")),
        encode(Focus(cseq=2, at=now, focused=False, visible=True)),
    ]  # fmt: skip


async def open_tandem_tab(server: Served, i: int) -> ClientConnection:
    """A visitor tab on Tandem: hello, location and focus, all acknowledged."""
    ws = await connect(
        f"{server.ws_url}/ws?site=demo", origin=Origin(DEMO_ORIGIN), compression=None, max_size=None
    )
    hello, *data = tab_frames(i)
    await ws.send(hello)
    if not isinstance(decode_server(await _frame(ws)), Welcome):
        raise RuntimeError("tandem did not welcome the tab")
    for frame in data:
        await ws.send(frame)
    while True:  # acknowledged: both are stored
        message = decode_server(await _frame(ws))
        if isinstance(message, Ack) and message.upto >= 2:
            return ws


async def open_echo_tab(server: Served, i: int) -> ClientConnection:
    """The same frames to an echo baseline, each echoed back."""
    ws = await connect(f"{server.ws_url}/ws", compression=None, max_size=None)
    for frame in tab_frames(i):
        await ws.send(frame)
        await _frame(ws)
    return ws


async def _frame(ws: ClientConnection) -> bytes:
    frame = await asyncio.wait_for(ws.recv(), 30)
    if not isinstance(frame, bytes):
        raise RuntimeError("expected a binary frame")
    return frame


async def _settled_rss(server: Served) -> int:
    """The server's RSS once two reads 0.3 s apart agree within 1% (at most ~3 s)."""
    previous = server.rss_bytes()
    for _ in range(10):
        await asyncio.sleep(0.3)
        current = server.rss_bytes()
        if abs(current - previous) <= previous / 100:
            return current
        previous = current
    return previous


Opener = Callable[[Served, int], Awaitable[ClientConnection]]


async def per_connection_kib(server: Served, opener: Opener, connections: int) -> float:
    """RSS growth of ``server`` per connection opened by ``opener``, in KiB."""
    opened: list[ClientConnection] = []
    gate = asyncio.Semaphore(AT_ONCE)

    async def one(i: int) -> None:
        async with gate:
            ws = await opener(server, i)
            opened.append(ws)

    try:
        await asyncio.gather(*(one(i) for i in range(WARM_UP)))
        before = await _settled_rss(server)
        await asyncio.gather(*(one(i) for i in range(WARM_UP, WARM_UP + connections)))
        after = await _settled_rss(server)
    finally:
        await asyncio.gather(*(ws.close() for ws in opened), return_exceptions=True)
    return (after - before) / connections / 1024


async def run(connections: int = 4000) -> list[Result]:
    """RSS growth per idle connection of Tandem and of both baselines, in rotating order."""
    raise_file_limit()
    servers: dict[str, tuple[Callable[[], AbstractContextManager[Served]], Opener]] = {
        "tandem": (tandem_server, open_tandem_tab),
        "starlette": (lambda: bare_server("starlette", "echo"), open_echo_tab),
        "websockets": (lambda: bare_server("websockets", "echo"), open_echo_tab),
    }  # fmt: skip
    figures: dict[str, list[float]] = {name: [] for name in servers}
    names = list(servers)
    cpu = time.process_time()
    for round_ in range(rounds_for(3, quick_rounds=1)):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:  # who goes first turns round
            start, opener = servers[name]
            with start() as server:
                figures[name].append(await per_connection_kib(server, opener, connections))
    spent = time.process_time() - cpu
    note = f"{connections:,} idle tabs (hello, location, focus); target ≤ {TARGET_KIB} KiB"
    results = []
    for name, label in (
        ("starlette", "uvicorn + Starlette echo"),
        ("websockets", "websockets echo"),
    ):
        pairs = list(zip(figures["tandem"], figures[name], strict=True))
        base = statistics.median(figures[name])
        results.append(result_of(
            "idle memory per connection", pairs, label, unit="KiB", better="lower", cpu_s=spent,
            note=f"{note}; {label}: {base:,.1f} KiB",
        ))  # fmt: skip
    return results
