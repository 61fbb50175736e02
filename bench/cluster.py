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
import statistics
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass

from bench import relay
from bench.cluster_tabs import Clock, Tab, sessions
from bench.cobrowse_setup import Console, add_accounts_to, batch
from bench.harness import Result, quick, result_of, rounds_for
from bench.servers import (
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

#: Each session's mirror batches per second while latency is measured.
LATENCY_RATE = 4.0
#: How often each of A's tabs reports a location (stored and acknowledged) around the kill.
LOCATION_EVERY_S = 2.0
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
            await tab.ws.send(batch(tab.session, counter[0]))
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
        await add_accounts_to(store_url, held + 4 * (local // 2))
        with node("node-a", store_url, broker_url) as a, node("node-b", store_url, broker_url) as b:
            ada = Console(b)  # the agent, on B (and, for some sessions, on A)
            ada_on_a = Console(a)
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

                async def add(key: str, visitor: Served, agent: Console, count: int) -> None:
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
