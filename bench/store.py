"""Stored events per second: events of many tabs written the way the server writes them —
grouped, many per commit — against one commit per event, on the same store, side by side."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from bench.harness import Result, acompare, rounds_for
from server.store import open_store
from server.store.base import EventRecord, Store

BATCH = 200


async def _fill(store: Store, tab: str, start: int, count: int, batch: int) -> float:
    """Write ``count`` events of ``tab`` from cseq ``start`` in batches of ``batch``; events/s."""
    began = time.perf_counter()
    for first in range(start, start + count, batch):
        await store.write_events(
            [EventRecord("bench", "u-bench", tab, cseq, "location", 1, 1,
                         {"url": f"https://app.acme.test/page/{cseq}", "title": "Page", "process": None})
             for cseq in range(first, min(first + batch, start + count))]
        )  # fmt: skip
    return count / (time.perf_counter() - began)


async def run(url: str | None = None, *, events: int = 2000) -> Result:
    with tempfile.TemporaryDirectory() as scratch:
        target = url or f"sqlite:///{Path(scratch) / 'bench.db'}"
        backend = target.split(":", 1)[0]
        async with open_store(target) as store:
            await store.upsert_profile("bench", "u-bench", {}, now_ms=1)
            counters = {"grouped": 0, "single": 0}
            tag = time.time_ns()

            async def grouped() -> float:
                counters["grouped"] += 1
                return await _fill(store, f"g{tag}-{counters['grouped']}", 1, events, BATCH)

            async def single() -> float:
                counters["single"] += 1
                return await _fill(store, f"s{tag}-{counters['single']}", 1, events // 10, 1)

            return await acompare(
                f"stored events/s ({backend})", grouped, "one commit per event", single,
                unit="events/s", rounds=rounds_for(5), note=f"batches of {BATCH}",
            )  # fmt: skip
