"""Shared live state: one interface (``Broker``), chosen by URL.

``memory://`` (the embedded default: one process) or
``redis://HOST:PORT/DB?prefix=tandem:`` (``rediss://`` with TLS): state shared
by every server process using that Redis and prefix. Both pass the same tests.
"""

from __future__ import annotations

from server.broker.base import (
    Broker,
    BrokerError,
    Listener,
    Receiver,
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
    if scheme in ("redis", "rediss"):
        from server.broker.redis import RedisBroker

        return RedisBroker.from_url(url)
    raise BrokerError(
        f"unsupported broker URL {url!r}: use memory:// or redis://HOST:PORT/DB?prefix=tandem:"
    )


__all__ = [
    "Broker",
    "BrokerError",
    "Listener",
    "Receiver",
    "StreamMessage",
    "Subscription",
    "SubscriptionLagged",
    "Versioned",
    "open_broker",
]
