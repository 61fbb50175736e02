"""The co-browse relay: how many mirror events per second reach the agents with p99 ≤ 30 ms.

N co-browse sessions, each one visitor tab and two agents watching, set up end to end on a real
``tandem serve`` (``bench.servers``): the visitor says hello with a signed identity and asks for
a person, an agent (online in the console) accepts the session, both agents — the one who took
it and an admin — open the console's live socket and join, the visitor agrees to share the page
and sends a full snapshot. Then every visitor sends mirror batches (one DOM text change each, the
size of a typical per-frame batch) at a rate that rises step by step; the server re-checks each,
streams it through the in-process broker, and each agent's live socket delivers it.

The baselines relay the same frames from the visitor to the session's two agents, as they are
(no decoding, no re-check, no broker): a bare uvicorn + Starlette app (one ``send_bytes`` per
agent) and a bare ``websockets`` server (``broadcast()``), each in its own process (``bench.bare``).

Two figures: the server's CPU time per delivery at a steady rate (one batch per second per
session), with its CPU use while every session is set up and quiet; and the ramp's. A delivery is
one event reaching one agent; its latency, from the visitor's send to the agent's
receipt, is measured by this process (the load generator, which plays every visitor and agent)
on one clock. A step passes when the p99 of its deliveries' latencies is ≤ 30 ms, a delivery not
made counting as late. The figure is the deliveries/s of the highest step that passes (a failing
step is tried once more before the ramp stops). The server runs on a CPU of its own, the
generator on another (``bench.servers.pinned_generator``); the generator's and the server's CPU
at that step are in the note: a generator near 100% means the baseline was held back by it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import yaml
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Origin

from bench.harness import Result, quick, result_of, rounds_for
from bench.servers import (
    DEMO_ORIGIN,
    REPO,
    SIGNING_KEY,
    Served,
    bare_server,
    pinned_generator,
    raise_file_limit,
    store_url,
    tandem_server,
)
from server.protocol import decode_server, encode
from server.protocol.agent import Join
from server.protocol.messages import (
    Cobrowse,
    Consent,
    Hello,
    Help,
    HelpAnswer,
    Mirror,
    MirrorEvent,
    TokenIdentity,
    Welcome,
)

P99_MS = 30.0
AGENTS = 2
#: Each session's mirror batches per second, step by step.
RATES = (0.5, 1, 2, 3, 5, 7, 10, 15, 20, 30, 50, 70, 100)
QUICK_RATES = (2, 8)
#: Each session's batches per second while the server's CPU per delivery is measured.
STEADY_RATE = 1.0
QUICK_STEADY_RATE = 10.0
#: How long the server is watched quiet, then at the steady rate: longer than the agents'
#: heartbeat (10 s), whose work is part of what a session costs.
STEADY_S = 12.0
PASSWORD = "bench password, not for production"
TEXT_NODE = 6  # the snapshot's text node whose text each batch changes


@dataclass
class Session:
    """One co-browse session as the load generator plays it."""

    visitor: ClientConnection
    agents: list[ClientConnection]
    session: str


@dataclass
class Tally:
    """When each batch was sent, and when each of its deliveries arrived."""

    sent: dict[int, float] = field(default_factory=dict)
    latencies: dict[int, list[float]] = field(default_factory=dict)
    awaited: int = 0  # deliveries still to come of the batches sent
    all_in: asyncio.Event = field(default_factory=asyncio.Event)

    def received(self, frame: bytes | str, at: float) -> None:
        for seq in _seqs(frame):
            sent = self.sent.get(seq)
            if sent is not None:
                self.latencies.setdefault(seq, []).append(at - sent)
                self.awaited -= 1
                if self.awaited <= 0:
                    self.all_in.set()

    def expect(self, deliveries: int) -> None:
        self.awaited += deliveries
        self.all_in.clear()


def _seqs(frame: bytes | str) -> list[int]:
    """The batch numbers of the events in a frame (``mirror``, ``events`` or ``replay``)."""
    body = msgspec.msgpack.decode(frame) if isinstance(frame, bytes) else None
    found = []
    for event in body.get("events", ()) if isinstance(body, dict) else ():
        for text in (event.get("data") or {}).get("texts", ()):
            value = text.get("value", "") if isinstance(text, dict) else ""
            if value.startswith("#"):
                found.append(int(value[1:]))
    return found


def batch(session: str, seq: int) -> bytes:
    """A visitor's mirror batch: one text change (numbered) on the page of ``snapshot()``."""
    data = {"source": 0, "texts": [{"id": TEXT_NODE, "value": f"#{seq}"}], "attributes": [],
            "removes": [], "adds": []}  # fmt: skip
    event = MirrorEvent(type=3, data=data, timestamp=time.time() * 1000)
    return encode(Mirror(session=session, page=1, events=[event]))


def snapshot() -> list[MirrorEvent]:
    """rrweb's Meta + FullSnapshot of a small page (an invoice heading, a paragraph, a button)."""

    def el(id_: int, tag: str, *children: dict[str, Any]) -> dict[str, Any]:
        return {"type": 2, "id": id_, "tagName": tag, "attributes": {}, "childNodes": list(children)}  # fmt: skip

    def text(id_: int, value: str) -> dict[str, Any]:
        return {"type": 3, "id": id_, "textContent": value}

    body = el(4, "body", el(5, "h1", text(TEXT_NODE, "Invoice")), el(7, "p", text(8, "Due soon")),
              el(9, "button", text(10, "Pay")))  # fmt: skip
    document = {"type": 0, "id": 1, "childNodes": [el(2, "html", el(3, "head"), body)]}
    now = time.time() * 1000
    return [
        msgspec.convert({"type": 4, "data": {"href": "https://app.acme.test/invoices/7", "width": 1280, "height": 800}, "timestamp": now}, MirrorEvent),
        msgspec.convert({"type": 2, "data": {"node": document, "initialOffset": {"left": 0, "top": 0}}, "timestamp": now}, MirrorEvent),
    ]  # fmt: skip


# --- one step of load -------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One step of the ramp: what was delivered, how late, at what CPU."""

    rate: float  # each session's batches per second
    deliveries_s: float  # deliveries made within the step's window, per second
    p99_ms: float
    generator_cpu: float  # share of a CPU the generator used
    server_cpu: float  # share of a CPU the server used
    server_us: float  # the server's CPU time per delivery, µs

    @property
    def passed(self) -> bool:
        return self.p99_ms <= P99_MS


async def load_step(
    sessions: list[Session], tally: Tally, server: Served, rate: float, seconds: float,
    counter: list[int],
) -> Step:  # fmt: skip
    """Every session sends ``rate`` batches/s for ``seconds``; the deliveries' p99."""
    total_rate = rate * len(sessions)
    first = counter[0] + 1
    cpu, server_cpu = time.process_time(), server.cpu_s()
    began = time.perf_counter()
    sent = 0
    while (now := time.perf_counter()) - began < seconds:
        due = int((now - began) * total_rate) - sent
        for _ in range(due):
            session = sessions[sent % len(sessions)]
            counter[0] += 1
            frame = batch(session.session, counter[0])
            tally.sent[counter[0]] = time.perf_counter()
            tally.expect(AGENTS)
            await session.visitor.send(frame)
            sent += 1
        await asyncio.sleep(0.002)
    elapsed = time.perf_counter() - began
    last = counter[0]
    expected = (last - first + 1) * AGENTS
    with contextlib.suppress(TimeoutError):  # the late ones get 2 s more
        await asyncio.wait_for(tally.all_in.wait(), 2)
    wall = time.perf_counter() - began
    server_used = server.cpu_s() - server_cpu
    generator, served = (time.process_time() - cpu) / wall, server_used / wall
    latencies = sorted(x for seq in range(first, last + 1) for x in tally.latencies.get(seq, ()))
    p99 = _p99_ms(latencies, expected - len(latencies))
    for seq in range(first, last + 1):  # forget the step's batches
        tally.sent.pop(seq, None)
        tally.latencies.pop(seq, None)
    tally.awaited = 0
    per_delivery = server_used / max(1, len(latencies)) * 1e6
    return Step(rate, len(latencies) / elapsed, p99, generator, served, per_delivery)


def _p99_ms(latencies: list[float], missing: int) -> float:
    """The p99 of the latencies, the ``missing`` ones counting as infinitely late."""
    everything = len(latencies) + missing
    if everything == 0:
        return float("inf")
    index = max(0, int(everything * 0.99 + 0.999999) - 1)
    return latencies[index] * 1000 if index < len(latencies) else float("inf")


async def ramp(
    sessions: list[Session], tally: Tally, server: Served, rates: tuple[float, ...], seconds: float
) -> Step | None:
    """Rising rates until one fails twice; the highest that passed (None: not even the first)."""
    counter = [0]
    best: Step | None = None
    for rate in rates:
        step = await load_step(sessions, tally, server, rate, seconds, counter)
        if not step.passed:  # once more (after the backlog drained): a pause of the machine
            await asyncio.sleep(2)  # is not the relay's limit
            step = await load_step(sessions, tally, server, rate, seconds, counter)
        if not step.passed:
            break
        best = step
    return best


@contextlib.asynccontextmanager
async def receiving(sessions: list[Session], tally: Tally) -> AsyncIterator[None]:
    """Read every socket for the block: the agents' deliveries are tallied, the rest drained."""

    async def agent(ws: ClientConnection) -> None:
        async for frame in ws:
            tally.received(frame, time.perf_counter())

    async def drain(ws: ClientConnection) -> None:
        async for _ in ws:
            pass

    tasks = [asyncio.create_task(agent(ws)) for s in sessions for ws in s.agents]
    tasks += [asyncio.create_task(drain(s.visitor)) for s in sessions]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


# --- setting sessions up --------------------------------------------------------------------------


async def bare_sessions(server: Served, count: int) -> list[Session]:
    """Sessions on a bare relay: two agents registered (told ``ready``), then the visitor."""

    async def one(i: int) -> Session:
        agents = []
        for _ in range(AGENTS):
            ws = await connect(f"{server.ws_url}/relay/s{i}/agent", compression=None, max_size=None)
            await asyncio.wait_for(ws.recv(), 10)  # ready
            agents.append(ws)
        visitor = await connect(
            f"{server.ws_url}/relay/s{i}/visitor", compression=None, max_size=None
        )
        return Session(visitor, agents, f"sess-bench-{i:06d}")

    return await _gather_limited([functools.partial(one, i) for i in range(count)], 20)


def _skills() -> tuple[str, ...]:
    """Every skill and persona role of the demo site: the agent can take any session."""
    demo = REPO / "walkthroughs" / "demo"
    skills = yaml.safe_load((demo / "skills.yaml").read_text()).get("skills", [])
    personae = yaml.safe_load((demo / "personae.yaml").read_text()).get("personae", [])
    return tuple(sorted({s["id"] for s in skills} | {p["role"] for p in personae if "role" in p}))


async def add_accounts(folder: Path, sessions: int) -> None:
    """The agent who takes every session (capacity for all of them) and an admin who watches."""
    await add_accounts_to(store_url(folder), sessions)


async def add_accounts_to(url: str, sessions: int) -> None:
    """``add_accounts`` in the store at ``url``."""
    from server.console.passwords import hash_password
    from server.store import open_store
    from server.store.base import AccountRecord

    hashed = hash_password(PASSWORD)
    now = int(time.time() * 1000)
    async with open_store(url) as store:
        await store.add_account(AccountRecord(
            "demo", "ada@bench.test", "Ada", "agent", hashed, _skills(), sessions + 10, now,
        ))  # fmt: skip
        await store.add_account(AccountRecord("demo", "bob@bench.test", "Bob", "admin", hashed, (), 1, now))  # fmt: skip


class Console:
    """One signed-in console account (cookies and the form token)."""

    def __init__(self, server: Served) -> None:
        import httpx2

        self.server = server
        self.http = httpx2.AsyncClient(base_url=server.url, follow_redirects=False, timeout=30)
        self.csrf = ""

    async def sign_in(self, email: str) -> None:
        """Sign in to the console with the benchmark's password."""
        page = await self.http.get("/console/login")
        token = _csrf(page.text)
        answer = await self.http.post(
            "/console/login",
            data={"csrf": token, "site": "demo", "email": email, "password": PASSWORD},
        )
        if answer.status_code != 303:
            raise RuntimeError(f"{email} could not sign in: {answer.status_code}")
        self.csrf = _csrf((await self.http.get("/console/demo/")).text)

    async def go_online(self) -> None:
        """Say the agent is online (so referrals are offered to them)."""
        answer = await self.http.post(
            "/console/demo/presence", data={"csrf": self.csrf, "presence": "online"}
        )
        if answer.status_code != 303:
            raise RuntimeError(f"could not go online: {answer.status_code}")

    async def accept(self, session: str) -> None:
        """Accept the session offered to this agent."""
        answer = await self.http.post(
            f"/console/demo/sessions/{session}/accept", data={"csrf": self.csrf}
        )
        if answer.status_code != 303:
            raise RuntimeError(f"could not accept {session}: {answer.status_code}")

    async def live(self, session: str) -> ClientConnection:
        """Open the console's live socket of ``session`` (the console's own origin, its cookies)."""
        cookie = "; ".join(f"{k}={v}" for k, v in self.http.cookies.items())
        return await connect(
            f"{self.server.ws_url}/console/demo/sessions/{session}/live",
            origin=Origin(self.server.url),
            additional_headers={"Cookie": cookie}, compression=None, max_size=None,
            open_timeout=60,
        )  # fmt: skip

    async def close(self) -> None:
        await self.http.aclose()


def _csrf(html: str) -> str:
    import re

    found = re.search(r'name="csrf" value="([^"]+)"', html)
    if not found:
        raise RuntimeError("no form token on the console's page")
    return found.group(1)


async def _until(ws: ClientConnection, wanted: Callable[[Any], bool], within: float = 30) -> Any:
    """The next server message on a visitor's socket for which ``wanted`` holds."""
    deadline = time.monotonic() + within
    while True:
        frame = await asyncio.wait_for(ws.recv(), max(0.1, deadline - time.monotonic()))
        if isinstance(frame, bytes):
            message = decode_server(frame)
            if wanted(message):
                return message


async def _agent_until(ws: ClientConnection, kind: str, within: float = 30) -> dict[str, Any]:
    """The next message of ``kind`` on an agent's live socket."""
    deadline = time.monotonic() + within
    while True:
        frame = await asyncio.wait_for(ws.recv(), max(0.1, deadline - time.monotonic()))
        body = msgspec.msgpack.decode(frame) if isinstance(frame, bytes) else {}
        if isinstance(body, dict) and body.get("kind") == kind:
            return body


async def referred(server: Served, ada: Console, i: int) -> tuple[ClientConnection, str]:
    """A visitor's tab asks for a person and the agent accepts: (the tab's socket, the session)."""
    from server.identity.tokens import sign_visitor_token

    user = f"u-bench-{i:06d}"
    token = sign_visitor_token(user, site="demo", kid="demo-1", secret=SIGNING_KEY,
                               now=int(time.time()))  # fmt: skip
    visitor = await connect(
        f"{server.ws_url}/ws?site=demo", origin=Origin(DEMO_ORIGIN), compression=None, max_size=None
    )
    await visitor.send(encode(Hello(v=1, site="demo", tab=f"bench-tab-{i:06d}",
                                    identity=TokenIdentity(user=user, token=token))))  # fmt: skip
    await _until(visitor, lambda m: isinstance(m, Welcome))
    await visitor.send(encode(Help(req=1, question="a person please", person=True)))
    answer: HelpAnswer = await _until(visitor, lambda m: isinstance(m, HelpAnswer))
    if answer.offer != "person" or answer.channel != "live_agent":
        raise RuntimeError(
            f"session {i}: no agent was offered it ({answer.offer}, {answer.channel})"
        )
    await ada.accept(answer.session)
    return visitor, answer.session


async def shared(visitor: ClientConnection, session: str, ada: Console, bob: Console) -> Session:
    """Both agents join the session's live view, the visitor agrees and sends the snapshot; once
    both agents were shown it."""
    agents = [await ada.live(session), await bob.live(session)]
    for ws in agents:
        await ws.send(msgspec.msgpack.encode(Join()))
    await _until(visitor, lambda m: isinstance(m, Cobrowse) and m.ask == "view")
    await visitor.send(encode(Consent(session=session, what="view", granted=True)))
    await _until(visitor, lambda m: isinstance(m, Cobrowse) and m.record)
    await visitor.send(encode(Mirror(session=session, page=1, full=True, events=snapshot())))
    for ws in agents:
        await _agent_until(ws, "replay")
    return Session(visitor, agents, session)


async def tandem_sessions(server: Served, count: int) -> tuple[list[Session], list[Console]]:
    """``count`` co-browse sessions: referred one by one (as visitors come), then shared."""
    ada, bob = Console(server), Console(server)
    await ada.sign_in("ada@bench.test")
    await bob.sign_in("bob@bench.test")
    await ada.go_online()

    async def keep_online() -> None:  # an agent whose console is quiet for 90 s is offline
        while True:
            await asyncio.sleep(30)
            await ada.go_online()

    online = asyncio.create_task(keep_online())
    try:
        taken = [await referred(server, ada, i) for i in range(count)]
    finally:
        online.cancel()
    made = await _gather_limited(
        [functools.partial(shared, visitor, session, ada, bob) for visitor, session in taken], 20
    )
    return made, [ada, bob]


async def _gather_limited(
    makers: list[Callable[[], Awaitable[Session]]], at_once: int
) -> list[Session]:
    """Run the makers, at most ``at_once`` at a time; their sessions in order."""
    gate = asyncio.Semaphore(at_once)

    async def one(make: Callable[[], Awaitable[Session]]) -> Session:
        async with gate:
            return await make()

    return list(await asyncio.gather(*(one(m) for m in makers)))


async def _close(sessions: list[Session], consoles: list[Console]) -> None:
    """Close every socket and console client of the sessions."""
    sockets = [ws for s in sessions for ws in (s.visitor, *s.agents)]
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    for console in consoles:
        await console.close()


# --- the benchmark ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Measured:
    """One server's figures in one round."""

    idle_cpu: float  # share of a CPU the server used with every session set up and quiet
    steady: Step  # at a fixed rate (``STEADY_RATE`` batches/s per session)
    top: Step | None  # the ramp's highest passing step


async def measure(name: str, count: int, rates: tuple[float, ...], seconds: float) -> Measured:
    """Set ``count`` sessions up on the server ``name`` (tandem, starlette, websockets); its CPU
    while they are quiet, its CPU per delivery at a steady rate, then the ramp."""
    with tempfile.TemporaryDirectory(prefix="tandem-bench-") as scratch:
        folder = Path(scratch)
        consoles: list[Console] = []
        if name == "tandem":
            await add_accounts(folder, count)
            server_cm: contextlib.AbstractContextManager[Served] = tandem_server(folder)
        else:
            server_cm = bare_server(name, "relay")
        with server_cm as server:
            if name == "tandem":
                sessions, consoles = await tandem_sessions(server, count)
            else:
                sessions = await bare_sessions(server, count)
            tally = Tally()
            try:
                async with receiving(sessions, tally):
                    await asyncio.sleep(0.5)  # what setting up started has settled
                    window = seconds if quick() else STEADY_S
                    used, began = server.cpu_s(), time.perf_counter()
                    await asyncio.sleep(window)
                    idle = (server.cpu_s() - used) / (time.perf_counter() - began)
                    steady = await load_step(sessions, tally, server, steady_rate(), window, [0])
                    await asyncio.sleep(0.5)
                    top = await ramp(sessions, tally, server, rates, seconds)
                    return Measured(idle, steady, top)
            finally:
                await _close(sessions, consoles)


async def run(sessions: int = 200) -> list[Result]:
    """Rounds of the three servers in rotating order; ramp and CPU per delivery against each."""
    raise_file_limit()
    rates, seconds = (QUICK_RATES, 0.6) if quick() else (RATES, 3.0)
    names = ["tandem", "starlette", "websockets"]
    measured: dict[str, list[Measured]] = {name: [] for name in names}
    cpu = time.process_time()
    with pinned_generator() as pinning:
        for round_ in range(rounds_for(3, quick_rounds=1)):
            shift = round_ % len(names)
            for name in names[shift:] + names[:shift]:  # who goes first turns round
                measured[name].append(await measure(name, sessions, rates, seconds))
    spent = time.process_time() - cpu
    results = []
    setup = f"{sessions} sessions x (1 visitor + {AGENTS} agents)"
    ours = measured["tandem"]
    for name, label in (("starlette", "uvicorn + Starlette relay"), ("websockets", "websockets broadcast()")):  # fmt: skip
        theirs = measured[name]
        pairs = [(_rate(c.top), max(_rate(b.top), 1e-9)) for c, b in zip(ours, theirs, strict=True)]  # fmt: skip
        results.append(result_of(
            "relay: deliveries/s at p99 ≤ 30 ms", pairs, label, unit="/s", better="higher",
            cpu_s=spent, note=f"{setup}; tandem {_at(ours)}; {label} {_at(theirs)}; {pinning}",
        ))  # fmt: skip
    for name, label in (("starlette", "uvicorn + Starlette relay"), ("websockets", "websockets broadcast()")):  # fmt: skip
        theirs = measured[name]
        pairs = [(c.steady.server_us, b.steady.server_us) for c, b in zip(ours, theirs, strict=True)]  # fmt: skip
        steady = statistics.median(m.steady.deliveries_s for m in ours)
        results.append(result_of(
            "relay: server CPU per delivery", pairs, label, unit="µs", better="lower", cpu_s=spent,
            note=f"{setup} at {steady_rate():g} batch/s each ({steady:,.0f} deliveries/s); quiet, "
            f"the server uses {_idle(ours)} of a CPU (tandem), {_idle(theirs)} ({label})",
        ))  # fmt: skip
    return results


def steady_rate() -> float:
    """Each session's batches/s while CPU per delivery is measured."""
    return QUICK_STEADY_RATE if quick() else STEADY_RATE


def _idle(measured: list[Measured]) -> str:
    return f"{statistics.median(m.idle_cpu for m in measured):.1%}"


def _rate(step: Step | None) -> float:
    return step.deliveries_s if step is not None else 0.0


def _at(steps: list[Measured]) -> str:
    """The median round's top step: its rate, p99 and CPU use."""
    done = [m.top for m in steps if m.top is not None]
    if not done:
        return "no step passed"
    step = sorted(done, key=lambda s: s.deliveries_s)[len(done) // 2]
    return (
        f"{statistics.median(_rate(m.top) for m in steps):,.0f}/s (p99 {step.p99_ms:.1f} ms, "
        f"server CPU {step.server_cpu:.0%}, {step.server_us:,.0f} µs a delivery; "
        f"generator CPU {step.generator_cpu:.0%})"
    )
