"""The broker interface: what shared live state needs, so a multi-node backend fits behind it.

- **Streams** (one per co-browse session): ``publish`` gives each message the
  stream's ``(epoch, offset)``; a capped history lets a reconnecting client
  catch up from its last offset; a snapshot slot holds the latest full state.
  A new epoch (a full page load) restarts offsets and clears history. Epochs
  only grow, across restarts of the broker too.
- **State**: values with a version, changed only by compare-and-set, with an
  optional time to live (the current walkthrough step, the control token).
- **Leases**: a named lock held by one owner until released or expired
  (control grants, queue assignments).
- **Presence**: members of a group with data, an owner and an expiry (live
  tabs, each held by the connection that reports it).
- **Channels**: messages for whoever listens to a channel now, with no
  numbering and no history (what a node holding a visitor's tab is sent for
  its page). ``notify`` says whether anyone was listening. A listener is
  either iterated (its own queue) or hands what it hears to a ``Receiver`` as it
  arrives (no queue, no task: what a node listening to thousands of tabs'
  channels uses).

Times are milliseconds; expiry is measured by the broker's own clock.
"""

from __future__ import annotations

import abc
import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Self

log = logging.getLogger("tandem.broker")


class BrokerError(RuntimeError):
    """A broker operation failed."""


class SubscriptionLagged(BrokerError):
    """A subscriber fell too far behind; it should catch up from history or the snapshot."""


@dataclass(frozen=True)
class StreamMessage:
    epoch: int
    offset: int
    payload: bytes


@dataclass(frozen=True)
class Versioned:
    value: bytes
    version: int


class Subscription(abc.ABC):
    """Messages published to one stream after subscribing, in order."""

    @abc.abstractmethod
    def __aiter__(self) -> AsyncIterator[StreamMessage]: ...

    @abc.abstractmethod
    async def close(self) -> None: ...

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class Listener(abc.ABC):
    """Messages sent to one channel after listening began, in the order each sender sent them.

    Nothing is kept for a listener that was not there: a listener that falls
    behind (or whose connection to the broker is lost) ends with
    ``SubscriptionLagged`` once it has read what it was given, and whatever was
    sent meanwhile is gone. Closing it ends the iteration.
    """

    __slots__ = ()

    @abc.abstractmethod
    def __aiter__(self) -> AsyncIterator[bytes]: ...

    @abc.abstractmethod
    async def close(self) -> None: ...

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class Receiver(abc.ABC):
    """Takes what a listener hears, as it arrives, instead of the listener being iterated.

    The broker calls these synchronously, from its own reader (or from
    ``notify`` in the same process): they must neither block nor raise, and
    whatever takes time is the receiver's to schedule.
    """

    __slots__ = ()

    @abc.abstractmethod
    def heard(self, payload: bytes) -> None:
        """One message sent to the channel, in the order its sender sent it."""

    @abc.abstractmethod
    def ended(self, lagged: bool) -> None:
        """The listener takes nothing more: ``lagged`` when the channel was lost (its broker
        connection; what was sent meanwhile is gone), else because the broker is closing. Not
        called when the receiver's own ``close`` ended it, nor when its ``listen`` failed (that
        raised instead)."""


def hand_to(receiver: Receiver, payload: bytes) -> None:
    """``receiver.heard(payload)``; what it raises (it must not: a bug) is logged, and the
    broker goes on with the other listeners."""
    try:
        receiver.heard(payload)
    except Exception:
        log.exception("a channel's receiver failed to take what was sent")


def tell_ended(receiver: Receiver, lagged: bool) -> None:
    """``receiver.ended(lagged)``; what it raises (it must not: a bug) is logged, and the broker
    goes on with the other listeners."""
    try:
        receiver.ended(lagged)
    except Exception:
        log.exception("a channel's receiver failed to take its end")


class Broker(abc.ABC):
    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @abc.abstractmethod
    async def start(self) -> None: ...

    @abc.abstractmethod
    async def close(self) -> None: ...

    # --- streams ---------------------------------------------------------------

    @abc.abstractmethod
    async def publish(
        self, stream: str, payload: bytes, *, new_epoch: bool = False
    ) -> StreamMessage:
        """Append to a stream and fan out to subscribers. ``new_epoch`` starts a new epoch at offset 1."""

    @abc.abstractmethod
    async def position(self, stream: str) -> tuple[int, int]:
        """The stream's current (epoch, offset); (0, 0) for a stream never published to."""

    @abc.abstractmethod
    async def history(
        self, stream: str, *, epoch: int, after_offset: int
    ) -> list[StreamMessage] | None:
        """Messages after ``after_offset`` in ``epoch``; None when they are no longer all kept."""

    @abc.abstractmethod
    async def subscribe(self, stream: str) -> Subscription:
        """Receive messages published from now on."""

    @abc.abstractmethod
    async def set_snapshot(self, stream: str, payload: bytes) -> StreamMessage:
        """Keep ``payload`` as the stream's latest snapshot, at its current position."""

    @abc.abstractmethod
    async def snapshot(self, stream: str) -> StreamMessage | None:
        """The latest snapshot, with the position it was taken at."""

    @abc.abstractmethod
    async def drop_stream(self, stream: str) -> None:
        """Forget a stream (its history and snapshot); its subscriptions end."""

    # --- compare-and-set state ---------------------------------------------------

    @abc.abstractmethod
    async def get(self, key: str) -> Versioned | None: ...

    @abc.abstractmethod
    async def compare_and_set(
        self, key: str, value: bytes, *, expected_version: int, ttl_ms: int | None = None
    ) -> int | None:
        """Write when the current version is ``expected_version`` (0: absent). New version, or None."""

    @abc.abstractmethod
    async def delete(self, key: str, *, expected_version: int | None = None) -> bool: ...

    # --- leases --------------------------------------------------------------------

    @abc.abstractmethod
    async def acquire(self, lease: str, owner: str, ttl_ms: int) -> bool:
        """Take the lease when free or expired (or renew it when ``owner`` holds it)."""

    @abc.abstractmethod
    async def release(self, lease: str, owner: str) -> bool:
        """Give the lease up; False when ``owner`` did not hold it."""

    @abc.abstractmethod
    async def holder(self, lease: str) -> str | None: ...

    # --- presence --------------------------------------------------------------------

    @abc.abstractmethod
    async def presence_touch(
        self,
        group: str,
        member: str,
        data: bytes,
        ttl_ms: int,
        *,
        owner: str = "",
        take: bool = True,
    ) -> bool:
        """Add or refresh a member held by ``owner``; it disappears ``ttl_ms`` after its last touch.

        With ``take=False`` a live member held by another owner is left as it
        is and False is returned: only its holder refreshes it, while a newer
        holder takes it over with ``take=True``. True when written.
        """

    @abc.abstractmethod
    async def presence_leave(self, group: str, member: str, *, owner: str | None = None) -> bool:
        """Remove a member; with ``owner``, only while that owner holds it. True when removed."""

    @abc.abstractmethod
    async def presence(self, group: str) -> dict[str, bytes]:
        """Live members and their data."""

    # --- channels --------------------------------------------------------------------

    @abc.abstractmethod
    async def listen(self, channel: str, receiver: Receiver | None = None) -> Listener:
        """Receive what is sent to ``channel`` from now on (once this returns, nothing is missed).

        With ``receiver``, what is sent is handed to it as it arrives (the listener is then only
        closed, never iterated); else the listener is iterated."""

    @abc.abstractmethod
    async def notify(self, channel: str, payload: bytes) -> int:
        """Send ``payload`` to the channel's listeners; 0 when nobody listens (more: somebody does)."""


async def drain(
    queue: asyncio.Queue[Any], lagged: Callable[[], bool], why: str, *, skip: type | None = None
) -> AsyncIterator[Any]:
    """A subscription's or a listener's queue, item by item: ends at ``None`` (closed); once it
    is ``lagged`` and empty, raises ``SubscriptionLagged(why)``; items of type ``skip`` (a wake
    for the waiting iterator) are passed over."""
    while True:
        if lagged() and queue.empty():
            raise SubscriptionLagged(why)
        item = await queue.get()
        if item is None:
            return
        if skip is not None and isinstance(item, skip):
            continue
        yield item
