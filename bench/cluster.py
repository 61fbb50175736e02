"""Two nodes on Redis and PostgreSQL: what crossing nodes adds to a co-browse delivery, and what a
node's sudden death (``kill -9``) costs the sessions it held.

Two real ``tandem serve`` processes (A and B) share a PostgreSQL schema and a Redis key prefix of
their own (dropped after). Co-browse sessions are set up end to end as in ``bench.relay``: a
visitor's tab says hello with a signed identity and asks for a person, the agent (online in the
console, on B) accepts, opens the console's live socket on B and joins, the visitor agrees and
sends a full snapshot, and the agent is shown it.

- **Added cross-node latency.** Sessions whose visitor is on A (the agent on B: every event
  crosses nodes through Redis) and sessions whose visitor is on B too (the baseline: the same
  Redis stream, one node) take turns sending mirror batches at the same rate; each delivery's
  latency is measured from the visitor's send to the agent's receipt, on this process's clock.
  The figure is the cross-node p99 minus the same-node p99 (median of the rounds), the ratio
  the cross-node p99 over the same-node p99.
- **Recovery after kill -9.** Every tab of A reports a location every few seconds (stored and
  acknowledged, each tab keeping what is not acknowledged yet, as ``tandem.js`` does); then A is
  killed with SIGKILL. Each tab connects again — to B, after the delay ``tandem.js`` waits
  after a connection drops (250 to 500 ms) — with its tab id and what A had not acknowledged; B
  asks the page for a fresh snapshot and the agent is shown it. A share is caught up when its
  agent is shown the new snapshot; figures: the share of sessions caught up within 2 s of the
  kill, the p99 time to catch up, and the acknowledged messages not in the store afterwards.

Indicative only: two CPUs cannot isolate two nodes, Redis, PostgreSQL and the load generator.
The nodes share one CPU, the generator has the other (``bench.servers.pinned_generator``).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import os
import random
import statistics
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import msgspec
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Origin

from bench import relay
from bench.harness import Result, quick, result_of, rounds_for
from bench.servers import (
    DEMO_ORIGIN,
    POSTGRES,
    REDIS,
    REPO,
    SIGNING_KEY,
    Served,
    drop_schema,
    free_port,
    pinned_generator,
    purge_prefix,
    raise_file_limit,
    run_server,
)
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

#: Each session's mirror batches per second while latency is measured.
LATENCY_RATE = 4.0
#: How often each of A's tabs reports a location (stored and acknowledged) around the kill.
LOCATION_EVERY_S = 2.0
#: What tandem.js waits after a connection drops before its first retry (docs/protocol.md).
RECONNECT_S = (0.25, 0.5)
CAUGHT_UP_S = 2.0
TARGET_CAUGHT_UP = 0.99
SECRET = "bench-cluster-secret-not-for-production"


@contextlib.asynccontextmanager
async def backends() -> AsyncIterator[tuple[str, str]]:
    """(store URL, broker URL): a PostgreSQL schema and a Redis key prefix of this run's own."""
    tag = f"{os.getpid()}_{uuid.uuid4().hex[:10]}"
    schema, prefix = f"bench_cluster_{tag}", f"bench-cluster-{tag}:"
    try:
        yield f"{POSTGRES}?schema={schema}", f"{REDIS}?prefix={prefix}"
    finally:
        await drop_schema(schema)
        await purge_prefix(prefix)


@contextlib.contextmanager
def node(name: str, store: str, broker: str) -> Iterator[Served]:
    """A ``tandem serve`` node on the shared store and broker, the demo content."""
    port = free_port()
    command = [
        sys.executable, "-c", "from server.cli import main; main()", "serve", "--port", str(port),
        "--store", store, "--content", str(REPO / "walkthroughs"), "--log-level", "warning",
    ]  # fmt: skip
    env = {
        "TANDEM_DEMO_SIGNING_KEY": SIGNING_KEY,
        "TANDEM_BROKER_URL": broker,
        "TANDEM_SECRET": SECRET,
    }
    with run_server(name, command, env, port) as served:
        yield served


# --- a visitor's tab and its agent ----------------------------------------------------------------


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
    tally: relay.Tally | None = None  # the agent's deliveries are tallied while it is set
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
            events = relay.snapshot()
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
    welcome = await relay._until(ws, lambda m: isinstance(m, Welcome))
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


async def referred(served: Served, console: relay.Console, number: int, clock: Clock) -> Tab:
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


async def share(tab: Tab, console: relay.Console) -> Tab:
    """The agent joins the session's live view, the visitor agrees and sends the snapshot; once
    the agent was shown it."""
    tab.agent = await console.live(tab.session)
    tab.start_watching()
    await tab.agent.send(msgspec.msgpack.encode(Join()))
    await _next(tab.inbox, lambda m: isinstance(m, Cobrowse) and m.ask == "view")
    await tab.ws.send(encode(Consent(session=tab.session, what="view", granted=True)))
    await _next(tab.inbox, lambda m: isinstance(m, Cobrowse) and m.record)
    tab.sharing = True
    await tab.ws.send(encode(Mirror(session=tab.session, page=1, full=True, events=relay.snapshot())))  # fmt: skip
    await _next(tab.agent_inbox, lambda m: m.get("kind") == "replay")
    tab.setting_up = False
    tab.inbox, tab.agent_inbox = asyncio.Queue(), asyncio.Queue()
    return tab


async def sessions(
    served: Served, console: relay.Console, numbers: list[int], clock: Clock, at_once: int = 20
) -> list[Tab]:
    """Co-browse sessions whose visitor is on ``served`` and agent on ``console``'s node: referred
    one by one (as visitors come), then shared ``at_once`` at a time."""
    tabs = [await referred(served, console, n, clock) for n in numbers]
    gate = asyncio.Semaphore(at_once)

    async def shared(tab: Tab) -> Tab:
        async with gate:
            return await share(tab, console)

    return list(await asyncio.gather(*(shared(t) for t in tabs)))


# --- added cross-node latency ---------------------------------------------------------------------


async def p99_of(tabs: list[Tab], tally: relay.Tally, seconds: float, counter: list[int]) -> float:
    """Each session of ``tabs`` sends ``LATENCY_RATE`` batches/s for ``seconds``: their p99 (ms)."""
    total_rate = LATENCY_RATE * len(tabs)
    first, sent = counter[0] + 1, 0
    began = time.perf_counter()
    while (now := time.perf_counter()) - began < seconds:
        for _ in range(int((now - began) * total_rate) - sent):
            tab = tabs[sent % len(tabs)]
            counter[0] += 1
            tally.sent[counter[0]] = time.perf_counter()
            tally.expect(1)
            await tab.ws.send(relay.batch(tab.session, counter[0]))
            sent += 1
        await asyncio.sleep(0.002)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(tally.all_in.wait(), 5)
    last = counter[0]
    latencies = sorted(x for s in range(first, last + 1) for x in tally.latencies.get(s, ()))
    p99 = relay._p99_ms(latencies, (last - first + 1) - len(latencies))
    for s in range(first, last + 1):
        tally.sent.pop(s, None)
        tally.latencies.pop(s, None)
    tally.awaited = 0
    return p99


async def cross_node_latency(
    cross: list[Tab], local: list[Tab], rounds: int, seconds: float
) -> Result:
    """Rounds of the cross-node sessions and the same-node ones, in turn (who goes first turns)."""
    tally = relay.Tally()
    counter = [0]
    pairs: list[tuple[float, float]] = []
    cpu = time.process_time()
    for tab in (*cross, *local):
        tab.tally = tally
    try:
        for i in range(rounds):
            if i % 2 == 0:
                c = await p99_of(cross, tally, seconds, counter)
                b = await p99_of(local, tally, seconds, counter)
            else:
                b = await p99_of(local, tally, seconds, counter)
                c = await p99_of(cross, tally, seconds, counter)
            pairs.append((c, b))
    finally:
        for tab in (*cross, *local):
            tab.tally = None
    result = result_of(
        "two nodes: added cross-node p99", pairs, "same-node p99", unit="ms", better="lower",
        cpu_s=time.process_time() - cpu,
        note=f"{len(cross)} sessions whose visitor and agent are on different nodes (half each "
        f"way), against {len(local)} on one node (half on each); {LATENCY_RATE:g} batches/s each; cross-node p99 {statistics.median(c for c, _ in pairs):.1f} ms, "
        f"same-node {statistics.median(b for _, b in pairs):.1f} ms; target added ≤ 2 ms",
    )  # fmt: skip
    return dataclasses.replace(result, figure=statistics.median(c - b for c, b in pairs))


# --- recovery after kill -9 -----------------------------------------------------------------------


@dataclass
class Recovery:
    sessions: int
    caught_up: list[float]  # seconds after the kill, of the sessions caught up
    reconnected: list[float]  # seconds after the kill, of the tabs welcomed again
    acknowledged: int  # messages acknowledged, in all
    lost: int  # of them, not in the store
    closes: collections.Counter[str]  # the tabs' drops, by when and code
    failures: collections.Counter[str]  # attempts to connect again that failed, by error
    example: str  # one of them, whole


async def recovery(
    a: Served, b: Served, tabs: list[Tab], clock: Clock, store_url: str, settle_s: float
) -> Recovery:
    """Locations from every tab of A, A killed, every tab back on B: how soon, what was lost."""
    stop = asyncio.Event()

    async def report() -> None:
        """Each tab reports a location every ``LOCATION_EVERY_S`` (spread evenly)."""
        rate, sent, began = len(tabs) / LOCATION_EVERY_S, 0, time.perf_counter()
        while not stop.is_set():
            for _ in range(int((time.perf_counter() - began) * rate) - sent):
                tab = tabs[sent % len(tabs)]
                frame = tab.location()
                if tab.open:  # else kept, and sent once connected again
                    with contextlib.suppress(Exception):
                        await tab.ws.send(frame)
                sent += 1
            await asyncio.sleep(0.01)

    for tab in tabs:
        tab.reconnect_to = b
    reporting = asyncio.create_task(report())
    try:
        await asyncio.sleep(settle_s)  # reports stored and acknowledged, as usual
        clock.killed_at = time.perf_counter()
        a.process.kill()  # SIGKILL: no goodbye
        await asyncio.to_thread(a.process.wait, 30)
        await _polled(lambda: all(t.caught_up_s is not None for t in tabs), within=30)
        await asyncio.sleep(1)
    finally:
        stop.set()
        await asyncio.gather(reporting, return_exceptions=True)
    await _polled(lambda: not any(t.outbox for t in tabs), within=30)  # the last acks
    acknowledged, lost = await _lost(store_url, tabs)
    closes = collections.Counter(c for t in tabs for c in t.closes)
    failures = collections.Counter(f.split(":", 1)[0] for t in tabs for f in t.failures)
    return Recovery(
        len(tabs), sorted(t.caught_up_s for t in tabs if t.caught_up_s is not None),
        sorted(t.reconnected_s for t in tabs if t.reconnected_s is not None), acknowledged, lost,
        closes, failures, next((f for t in tabs for f in t.failures), ""),
    )  # fmt: skip


async def _polled(done: Callable[[], bool], *, within: float) -> None:
    """Until ``done()`` (many tasks make it so), at most ``within`` seconds."""
    deadline = time.perf_counter() + within
    while not done() and time.perf_counter() < deadline:  # noqa: ASYNC110 (a condition of many tasks)
        await asyncio.sleep(0.1)


async def _lost(store_url: str, tabs: list[Tab]) -> tuple[int, int]:
    """(messages acknowledged, of them not in the store): every tab's cseqs 1..acked."""
    import asyncpg

    schema = store_url.rsplit("schema=", 1)[1]
    conn = await asyncpg.connect(store_url.split("?", 1)[0])
    try:
        rows = await conn.fetch(f'SELECT tab, cseq FROM "{schema}".events WHERE site = $1', "demo")
    finally:
        await conn.close()
    stored: dict[str, set[int]] = {}
    for row in rows:
        stored.setdefault(row["tab"], set()).add(int(row["cseq"]))
    acknowledged = lost = 0
    for tab in tabs:
        kept = stored.get(tab.tab_id, set())
        acknowledged += tab.acked
        lost += sum(1 for cseq in range(1, tab.acked + 1) if cseq not in kept)
    return acknowledged, lost


# --- the benchmark ------------------------------------------------------------------------------


async def measure(held: int, local: int, rounds: int, seconds: float) -> list[Result]:
    cpu = time.process_time()
    async with backends() as (store_url, broker_url):
        await relay.add_accounts_to(store_url, held + 4 * (local // 2))
        with node("node-a", store_url, broker_url) as a, node("node-b", store_url, broker_url) as b:
            ada = relay.Console(b)  # the agent, on B (and, for some sessions, on A)
            ada_on_a = relay.Console(a)
            for console in (ada, ada_on_a):
                await console.sign_in("ada@bench.test")
            await ada.go_online()

            async def keep_online() -> None:  # quiet for 90 s, an agent is offline
                while True:
                    await asyncio.sleep(30)
                    await ada.go_online()

            online = asyncio.create_task(keep_online())
            clock = Clock()
            tabs: list[Tab] = []
            try:
                half = local // 2
                numbers = iter(range(held + 4 * half))
                groups: dict[str, list[Tab]] = {}  # visitor's node + agent's node: sessions

                async def add(key: str, visitor: Served, agent: relay.Console, count: int) -> None:
                    made = await sessions(
                        visitor, agent, [next(numbers) for _ in range(count)], clock
                    )
                    groups[key] = groups.get(key, []) + made
                    tabs.extend(made)

                # Latency first, on a cluster holding only the sessions measured.
                for key, visitor, agent in (
                    ("AB", a, ada), ("BA", b, ada_on_a), ("AA", a, ada_on_a), ("BB", b, ada),
                ):  # fmt: skip
                    await add(key, visitor, agent, half)
                cross = groups["AB"] + groups["BA"]
                same = groups["AA"] + groups["BB"]
                latency = await cross_node_latency(cross, same, rounds, seconds)
                began = time.perf_counter()
                await add("AB", a, ada, held - half)  # then A holds ``held`` sessions
                setup_s = time.perf_counter() - began
                recovered = await recovery(
                    a, b, groups["AB"], clock, store_url, settle_s=2 * LOCATION_EVERY_S
                )
            finally:
                online.cancel()
                await asyncio.gather(*(t.stop() for t in tabs), return_exceptions=True)
                await ada.close()
                await ada_on_a.close()
    spent = time.process_time() - cpu
    within = sum(1 for s in recovered.caught_up if s <= CAUGHT_UP_S) / recovered.sessions
    p99 = _quantile(recovered.caught_up, 0.99, recovered.sessions)
    welcomed = _quantile(recovered.reconnected, 0.99, recovered.sessions)
    note = (
        f"{held:,} co-browse sessions on A (agent on B), set up in {setup_s:.0f} s; "
        f"tabs welcomed on B p99 {welcomed:.2f} s after the kill; drops: {_counted(recovered.closes)}; "
        f"failed attempts to connect again: {_counted(recovered.failures)}; indicative (2 CPUs)"
    )
    if recovered.example:
        print(f"cluster: an attempt to connect again failed: {recovered.example}", file=sys.stderr)
    return [
        latency,
        result_of(
            "two nodes: caught up ≤ 2 s after kill -9", [(within * 100, TARGET_CAUGHT_UP * 100)],
            "target 99%", unit="%", better="higher", cpu_s=spent, note=note,
        ),
        result_of(
            "two nodes: catch-up p99 after kill -9", [(p99 * 1000, CAUGHT_UP_S * 1000)],
            "target 2 s", unit="ms", better="lower", cpu_s=spent, note=note,
        ),
        result_of(
            "two nodes: acknowledged lost", [(float(recovered.lost), float(max(1, recovered.acknowledged)))],
            f"{recovered.acknowledged:,} acknowledged", unit="messages", better="lower", cpu_s=spent,
            note=note,
        ),
    ]  # fmt: skip


def _counted(counter: collections.Counter[str]) -> str:
    return ", ".join(f"{n} × {what}" for what, n in counter.most_common(4)) or "none"


def _quantile(values: list[float], q: float, everyone: int) -> float:
    """The ``q`` quantile over ``everyone``, the missing ones infinitely late."""
    index = max(0, int(everyone * q + 0.999999) - 1)
    return values[index] if index < len(values) else float("inf")


async def _run(held: int, local: int) -> list[Result]:
    raise_file_limit()
    rounds, seconds = rounds_for(6, quick_rounds=2), 0.5 if quick() else 3.0
    with pinned_generator():
        return await measure(held, local, rounds, seconds)


def run() -> list[Result]:
    """The two-node figures (quick: a handful of sessions)."""
    held, local = (6, 3) if quick() else (1000, 50)
    from bench.harness import run_fast

    return run_fast(_run(held, local))
