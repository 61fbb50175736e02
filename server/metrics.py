"""What an operator scrapes at ``/metrics`` (Prometheus text format, prometheus-client).

Each server has its own registry (tests run several in one process). Counted where
things happen: messages in and out by kind, refusals by code, store writes and broker
operations timed; read when scraped: open connections, visitors waiting for an agent.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

#: Latency buckets (seconds) for the store and the broker: sub-millisecond to seconds.
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.messages_in = Counter(
            "tandem_messages_in", "Messages received from tabs, by kind", ["kind"], registry=r
        )
        self.messages_out = Counter(
            "tandem_messages_out", "Messages sent to tabs, by kind", ["kind"], registry=r
        )
        self.errors = Counter(
            "tandem_errors", "Messages refused or connections closed, by code", ["code"], registry=r
        )
        self.store_write = Histogram(
            "tandem_store_write_seconds", "Time to commit a batch of events", buckets=BUCKETS,
            registry=r,
        )  # fmt: skip
        self.broker = Histogram(
            "tandem_broker_seconds", "Time of broker operations, by operation", ["op"],
            buckets=BUCKETS, registry=r,
        )  # fmt: skip
        self.connections = Gauge(
            "tandem_connections", "Open WebSocket connections, by kind", ["kind"], registry=r
        )
        self.queue = Gauge(
            "tandem_queue_length", "Visitors waiting for an agent, by site", ["site"], registry=r
        )

    def count_connections(self, kind: str, count: Callable[[], int]) -> None:
        """Read the number of open connections of ``kind`` when scraped."""
        self.connections.labels(kind).set_function(count)

    @contextmanager
    def timed_broker(self, op: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.broker.labels(op).observe(time.perf_counter() - started)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
