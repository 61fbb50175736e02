"""Shared live state: one interface (``Broker``), chosen by URL.

``memory://`` (the embedded default: one process) — a Redis backend comes
later behind the same interface and the same tests.
"""

from __future__ import annotations

from server.broker.base import (
    Broker,
    BrokerError,
    StreamMessage,
    Subscription,
    SubscriptionLagged,
    Versioned,
)


def open_broker(url: str) -> Broker:
    """An unstarted broker for ``url``; ``await broker.start()`` before use."""
    scheme = url.split(":", 1)[0].lower()
    if scheme == "memory":
        from server.broker.memory import MemoryBroker

        return MemoryBroker()
    raise BrokerError(f"unsupported broker URL {url!r}: use memory://")


__all__ = [
    "Broker",
    "BrokerError",
    "StreamMessage",
    "Subscription",
    "SubscriptionLagged",
    "Versioned",
    "open_broker",
]
