"""A visitor's tab and the agent watching it, as the two-node benchmark (``bench.cluster``)
plays them: a tab kept as tandem.js keeps it (numbered messages, what is not acknowledged yet,
connecting again after a drop), referred to an agent, and its page shared."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Origin

from bench.cobrowse_setup import Console, snapshot, until
from bench.relay import Tally
from bench.servers import DEMO_ORIGIN, SIGNING_KEY, Served
from server.identity.tokens import sign_visitor_token
from server.protocol import decode_server, encode
from server.protocol.agent import Join
from server.protocol.messages import (
    Ack,
    Cobrowse,
    Consent,
    Hello,
    Help,
    HelpAnswer,
    Location,
    Mirror,
    TokenIdentity,
    Welcome,
)

#: What tandem.js waits after a connection drops before its first retry (docs/protocol.md).
RECONNECT_S = (0.25, 0.5)


@dataclass
class Clock:
    """When node A was killed (``perf_counter``; 0 until then)."""

    killed_at: float = 0.0

    def since_kill(self) -> float | None:
        return time.perf_counter() - self.killed_at if self.killed_at else None


@dataclass
class Tab:
    """A visitor's tab as tandem.js keeps it — its tab id, numbered messages, what is not
    acknowledged yet, connecting again after a drop — its co-browse session and the agent
    watching it. Both sockets are read all the time (a socket nobody reads would hold the
    server's sends back)."""

    number: int
    clock: Clock
    ws: Any = None  # its socket (ClientConnection) once connected
    open: bool = False  # welcomed on ``ws``, what was not acknowledged sent again
    reconnect_to: Served | None = None  # where to connect again when the socket drops
    session: str = ""
    cseq: int = 0
    acked: int = 0
    outbox: dict[int, bytes] = field(default_factory=dict)
    agent: Any = None  # the agent's live socket (ClientConnection)
    epoch: int = 0  # the mirror's epoch the agent was last shown
    sharing: bool = False  # the page answers the server's requests for a fresh snapshot
    setting_up: bool = True  # what the page and the agent are sent goes to the inboxes
    inbox: asyncio.Queue[object] = field(default_factory=asyncio.Queue)
    agent_inbox: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)
    tally: Tally | None = None  # the agent's deliveries are tallied while it is set
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    caught_up_s: float | None = None  # after the kill: when the agent was shown a new snapshot
    reconnected_s: float | None = None  # after the kill: when the tab was welcomed again
    closes: list[str] = field(default_factory=list)  # each drop: before/after the kill, code
    failures: list[str] = field(default_factory=list)  # why connecting again failed, each time

    @property
    def tab_id(self) -> str:
        return f"bench-cluster-tab-{self.number:06d}"

    @property
    def user(self) -> str:
        return f"u-bench-cluster-{self.number:06d}"

    def hello(self) -> bytes:
        token = sign_visitor_token(
            self.user, site="demo", kid="demo-1", secret=SIGNING_KEY, now=int(time.time())
        )
        return encode(Hello(v=1, site="demo", tab=self.tab_id,
                            identity=TokenIdentity(user=self.user, token=token)))  # fmt: skip

    def location(self) -> bytes:
        """The next location report, kept until acknowledged."""
        self.cseq += 1
        url = f"https://app.acme.test/invoices/{self.number}-{self.cseq}"
        frame = encode(Location(cseq=self.cseq, at=int(time.time() * 1000), url=url))
        self.outbox[self.cseq] = frame
        return frame

    def acknowledged(self, upto: int) -> None:
        self.acked = max(self.acked, upto)
        for cseq in [c for c in self.outbox if c <= upto]:
            del self.outbox[cseq]

    def start_reading(self) -> None:
        self.tasks.append(asyncio.create_task(self._page()))

    def start_watching(self) -> None:
        self.tasks.append(asyncio.create_task(self._watch()))

    async def stop(self) -> None:
        self.reconnect_to = None
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        for ws in (self.ws, self.agent):
            if ws is not None:
                with contextlib.suppress(Exception):
                    await ws.close()

    async def _page(self) -> None:
        """The page's socket: acks kept, fresh snapshots sent when asked; after a drop, connect
        again (to ``reconnect_to``) after tandem.js's delay."""
        delay = random.Random(self.number)
        while True:
            try:
                async for frame in self.ws:
                    await self._heard(decode_server(frame) if isinstance(frame, bytes) else None)
            except ConnectionClosed:
                pass
            self.open = False
            when = "after" if self.clock.killed_at else "before"
            self.closes.append(f"{when} the kill: {self.ws.close_code} {self.ws.close_reason}")
            while self.reconnect_to is not None:
                await asyncio.sleep(delay.uniform(*RECONNECT_S))  # as tandem.js does
                try:
                    await open_tab(self.reconnect_to, self)
                except Exception as exc:  # tried again after the next delay
                    self.failures.append(f"{type(exc).__name__}: {exc}"[:200])
                    continue
                if self.reconnected_s is None:
                    self.reconnected_s = self.clock.since_kill()
                break
            else:
                return

    async def _heard(self, message: object) -> None:
        if isinstance(message, Ack):
            self.acknowledged(message.upto)
        elif isinstance(message, Cobrowse) and message.record and message.snapshot and self.sharing:
            events = snapshot()
            await self.ws.send(encode(Mirror(session=self.session, page=1, full=True, events=events)))  # fmt: skip
        elif self.setting_up:
            self.inbox.put_nowait(message)

    async def _watch(self) -> None:
        """The agent's live socket: deliveries tallied, new snapshots noted."""
        with contextlib.suppress(ConnectionClosed):
            await self._watching()

    async def _watching(self) -> None:
        async for frame in self.agent:
            if self.tally is not None:
                self.tally.received(frame, time.perf_counter())
            body = msgspec.msgpack.decode(frame) if isinstance(frame, bytes) else {}
            if not isinstance(body, dict):
                continue
            if body.get("kind") == "replay" and int(body["epoch"]) > self.epoch:
                self.epoch = int(body["epoch"])
                if self.caught_up_s is None and self.clock.killed_at:
                    self.caught_up_s = self.clock.since_kill()
            if self.setting_up:
                self.agent_inbox.put_nowait(body)


async def open_tab(served: Served, tab: Tab) -> None:
    """Connect ``tab`` to ``served`` as tandem.js does: hello, welcome, then what was not
    acknowledged, in order — only then is the socket the tab's, for new messages."""
    tab.open = False
    ws = await connect(
        f"{served.ws_url}/ws?site=demo", origin=Origin(DEMO_ORIGIN), compression=None,
        max_size=None, open_timeout=30,
    )  # fmt: skip
    await ws.send(tab.hello())
    welcome = await until(ws, lambda m: isinstance(m, Welcome))
    tab.acknowledged(welcome.ack)
    sent = welcome.ack
    while waiting := [c for c in sorted(tab.outbox) if c > sent]:  # new ones may come meanwhile
        for cseq in waiting:
            await ws.send(tab.outbox[cseq])
            sent = cseq
    tab.ws, tab.open = ws, True


async def _next(
    inbox: asyncio.Queue[Any], wanted: Callable[[Any], bool], within: float = 60
) -> Any:
    """The next item of ``inbox`` for which ``wanted`` holds."""
    deadline = time.monotonic() + within
    while True:
        item = await asyncio.wait_for(inbox.get(), max(0.1, deadline - time.monotonic()))
        if wanted(item):
            return item


async def referred(served: Served, console: Console, number: int, clock: Clock) -> Tab:
    """A new tab on ``served`` asks for a person; the agent (``console``) accepts the session."""
    tab = Tab(number, clock)
    await open_tab(served, tab)
    tab.start_reading()
    await tab.ws.send(encode(Help(req=1, question="a person please", person=True)))
    answer = await _next(tab.inbox, lambda m: isinstance(m, HelpAnswer))
    if answer.offer != "person" or answer.channel != "live_agent":
        raise RuntimeError(
            f"tab {number}: no agent was offered it ({answer.offer}, {answer.channel})"
        )
    await console.accept(answer.session)
    tab.session = answer.session
    return tab


async def share(tab: Tab, console: Console) -> Tab:
    """The agent joins the session's live view, the visitor agrees and sends the snapshot; once
    the agent was shown it."""
    tab.agent = await console.live(tab.session)
    tab.start_watching()
    await tab.agent.send(msgspec.msgpack.encode(Join()))
    await _next(tab.inbox, lambda m: isinstance(m, Cobrowse) and m.ask == "view")
    await tab.ws.send(encode(Consent(session=tab.session, what="view", granted=True)))
    await _next(tab.inbox, lambda m: isinstance(m, Cobrowse) and m.record)
    tab.sharing = True
    await tab.ws.send(encode(Mirror(session=tab.session, page=1, full=True, events=snapshot())))  # fmt: skip
    await _next(tab.agent_inbox, lambda m: m.get("kind") == "replay")
    tab.setting_up = False
    tab.inbox, tab.agent_inbox = asyncio.Queue(), asyncio.Queue()
    return tab


async def sessions(
    served: Served, console: Console, numbers: list[int], clock: Clock, at_once: int = 20
) -> list[Tab]:
    """Co-browse sessions whose visitor is on ``served`` and agent on ``console``'s node: referred
    one by one (as visitors come), then shared ``at_once`` at a time."""
    tabs = [await referred(served, console, n, clock) for n in numbers]
    gate = asyncio.Semaphore(at_once)

    async def shared(tab: Tab) -> Tab:
        async with gate:
            return await share(tab, console)

    return list(await asyncio.gather(*(shared(t) for t in tabs)))
