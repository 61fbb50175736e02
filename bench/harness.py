"""Measuring a candidate against a baseline, side by side.

Rounds alternate candidate and baseline (which goes first alternates too), so drift in the
machine (frequency scaling, another process) hits both alike. Each round gives a ratio
candidate/baseline of the figure; the result is the median ratio with its min and max, and
the candidate's median figure. Higher is better for throughputs (ops/s); for latencies the
figure is in ms and a ratio below 1 is better — each benchmark says which.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Result:
    name: str
    figure: float
    unit: str
    baseline: str
    ratio: float
    ratio_min: float
    ratio_max: float
    better: str  # "higher" or "lower"
    cpu_s: float  # CPU time of this process (the load generator) during the measurement
    note: str = ""

    def line(self) -> str:
        return (
            f"{self.name:<34} {self.figure:>12,.1f} {self.unit:<10} "
            f"{self.ratio:>6.2f}× {self.baseline} (min {self.ratio_min:.2f}, max {self.ratio_max:.2f}; "
            f"{self.better} is better){'  ' + self.note if self.note else ''}"
        )

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def quick() -> bool:
    """A smoke run (``TANDEM_BENCH_QUICK=1``): it only checks each benchmark runs."""
    return bool(os.environ.get("TANDEM_BENCH_QUICK"))


def rounds_for(default: int, *, quick_rounds: int = 2) -> int:
    """Fewer rounds in the smoke run (``quick_rounds``, 2 unless a benchmark is slow)."""
    return quick_rounds if quick() else default


def result_of(
    name: str, pairs: list[tuple[float, float]], baseline: str, *, unit: str, better: str,
    cpu_s: float, note: str = "",
) -> Result:  # fmt: skip
    """The result of rounds of (candidate figure, baseline figure), each round's ratio c/b."""
    ratios = [c / b if b else float("inf") for c, b in pairs]
    return Result(
        name, statistics.median(c for c, _ in pairs), unit, baseline, statistics.median(ratios),
        min(ratios), max(ratios), better, cpu_s, note,
    )  # fmt: skip


def run_fast(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` on uvloop when it is installed (as uvicorn runs the server): a load
    generator written in Python then spends less of its CPU on the event loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)


def throughput(work: Callable[[], int], *, seconds: float) -> float:
    """Operations per second of ``work`` (which returns how many it did), over about ``seconds``."""
    done, started = 0, time.perf_counter()
    while True:
        done += work()
        elapsed = time.perf_counter() - started
        if elapsed >= seconds:
            return done / elapsed


async def athroughput(work: Callable[[], Awaitable[int]], *, seconds: float) -> float:
    done, started = 0, time.perf_counter()
    while True:
        done += await work()
        elapsed = time.perf_counter() - started
        if elapsed >= seconds:
            return done / elapsed


def compare(
    name: str, candidate: Callable[[], float], baseline_name: str, baseline: Callable[[], float],
    *, unit: str, rounds: int, better: str = "higher", note: str = "",
) -> Result:  # fmt: skip
    """Alternate ``candidate`` and ``baseline`` (each returns its figure) for ``rounds``."""
    pairs = []
    cpu = time.process_time()
    for i in range(rounds):
        if i % 2 == 0:
            c, b = candidate(), baseline()
        else:
            b, c = baseline(), candidate()
        pairs.append((c, b))
    return result_of(
        name, pairs, baseline_name, unit=unit, better=better, cpu_s=time.process_time() - cpu,
        note=note,
    )  # fmt: skip


async def acompare(
    name: str, candidate: Callable[[], Awaitable[float]], baseline_name: str,
    baseline: Callable[[], Awaitable[float]], *, unit: str, rounds: int, better: str = "higher",
    note: str = "",
) -> Result:  # fmt: skip
    pairs = []
    cpu = time.process_time()
    for i in range(rounds):
        if i % 2 == 0:
            c, b = await candidate(), await baseline()
        else:
            b, c = await baseline(), await candidate()
        pairs.append((c, b))
    return result_of(
        name, pairs, baseline_name, unit=unit, better=better, cpu_s=time.process_time() - cpu,
        note=note,
    )  # fmt: skip
