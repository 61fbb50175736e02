"""Measuring a candidate against a baseline, side by side.

Rounds alternate candidate and baseline (which goes first alternates too), so drift in the
machine (frequency scaling, another process) hits both alike. Each round gives a ratio
candidate/baseline of the figure; the result is the median ratio with its min and max, and
the candidate's median figure. Higher is better for throughputs (ops/s); for latencies the
figure is in ms and a ratio below 1 is better — each benchmark says which.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass


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


def rounds_for(default: int) -> int:
    """Fewer rounds in the smoke run (``TANDEM_BENCH_QUICK=1``): it only checks each one runs."""
    return 2 if os.environ.get("TANDEM_BENCH_QUICK") else default


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
    ratios, figures = [], []
    cpu = time.process_time()
    for i in range(rounds):
        if i % 2 == 0:
            c, b = candidate(), baseline()
        else:
            b, c = baseline(), candidate()
        ratios.append(c / b)
        figures.append(c)
    return Result(
        name, statistics.median(figures), unit, baseline_name, statistics.median(ratios),
        min(ratios), max(ratios), better, time.process_time() - cpu, note,
    )  # fmt: skip


async def acompare(
    name: str, candidate: Callable[[], Awaitable[float]], baseline_name: str,
    baseline: Callable[[], Awaitable[float]], *, unit: str, rounds: int, better: str = "higher",
    note: str = "",
) -> Result:  # fmt: skip
    ratios, figures = [], []
    cpu = time.process_time()
    for i in range(rounds):
        if i % 2 == 0:
            c, b = await candidate(), await baseline()
        else:
            b, c = await baseline(), await candidate()
        ratios.append(c / b)
        figures.append(c)
    return Result(
        name, statistics.median(figures), unit, baseline_name, statistics.median(ratios),
        min(ratios), max(ratios), better, time.process_time() - cpu, note,
    )  # fmt: skip
