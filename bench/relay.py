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
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from websockets.asyncio.client import ClientConnection

from bench.cobrowse_setup import (
    AGENTS,
    Console,
    Session,
    add_accounts,
    bare_sessions,
    batch,
    close,
    seqs,
    tandem_sessions,
)
from bench.harness import Result, quick, result_of, rounds_for
from bench.servers import (
    Served,
    bare_server,
    pinned_generator,
    raise_file_limit,
    tandem_server,
)

P99_MS = 30.0
#: Each session's mirror batches per second, step by step.
RATES = (0.5, 1, 2, 3, 5, 7, 10, 15, 20, 30, 50, 70, 100)
QUICK_RATES = (2, 8)
#: Each session's batches per second while the server's CPU per delivery is measured.
STEADY_RATE = 1.0
QUICK_STEADY_RATE = 10.0
#: How long the server is watched quiet, then at the steady rate: longer than the agents'
#: heartbeat (10 s), whose work is part of what a session costs.
STEADY_S = 12.0


@dataclass
class Tally:
    """When each batch was sent, and when each of its deliveries arrived."""

    sent: dict[int, float] = field(default_factory=dict)
    latencies: dict[int, list[float]] = field(default_factory=dict)
    awaited: int = 0  # deliveries still to come of the batches sent
    all_in: asyncio.Event = field(default_factory=asyncio.Event)

    def received(self, frame: bytes | str, at: float) -> None:
        for seq in seqs(frame):
            sent = self.sent.get(seq)
            if sent is not None:
                self.latencies.setdefault(seq, []).append(at - sent)
                self.awaited -= 1
                if self.awaited <= 0:
                    self.all_in.set()

    def expect(self, deliveries: int) -> None:
        self.awaited += deliveries
        self.all_in.clear()


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
                await close(sessions, consoles)


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
