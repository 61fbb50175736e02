"""The local ends of the Redis broker's pub/sub connection (``server.broker.redis_pubsub``):
the subscriptions to streams and the listeners of channels it hands messages to, each a bounded
queue as in memory (or a listener's receiver), and the session — the connection and its
channels — that holds them."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from redis.asyncio.connection import AbstractConnection
from redis.exceptions import RedisError

from server.broker.base import (
    BrokerError,
    Listener,
    Receiver,
    StreamMessage,
    Subscription,
    drain,
    hand_to,
    tell_ended,
)
from server.broker.memory import SUBSCRIBER_QUEUE

if TYPE_CHECKING:
    from server.broker.redis import RedisBroker


@dataclass(frozen=True)
class _Published:
    message: StreamMessage
    time_us: int


@dataclass(frozen=True)
class _Dropped:
    time_us: int


_Event = _Published | _Dropped


def _event(data: bytes) -> _Event:
    if data.startswith(b"drop:"):
        return _Dropped(int(data[5:]))
    epoch, offset, time_us, payload = data.split(b":", 3)
    return _Published(StreamMessage(int(epoch), int(offset), payload), int(time_us))


class _Wake:
    """Put in a queue to wake an iterator that must look at the subscription's state."""


_WAKE = _Wake()

_Outcome = Literal["kept", "lagged", "ended"]


class _RedisSubscription(Subscription):
    def __init__(self, broker: RedisBroker, session: _Session, channel: bytes) -> None:
        self._broker = broker
        self.session = session
        self.channel = channel
        self._queue: asyncio.Queue[StreamMessage | _Wake | None] = asyncio.Queue(SUBSCRIBER_QUEUE)
        self.lagged = False  # iteration raises SubscriptionLagged once the queue is drained
        self.finished = False  # takes nothing more
        self._ended = False  # the end (None) is queued
        self._since_us: int | None = None  # None: not started, events wait in _early
        self._last = (0, 0)
        self._early: list[_Event] = []

    # Called by the broker (synchronously, from the reader or a local operation).

    @property
    def started(self) -> bool:
        return self._since_us is not None

    def start_at(self, epoch: int, offset: int, time_us: int) -> _Outcome:
        """Deliver what was published after the stream was at (epoch, offset) at ``time_us``."""
        self._since_us, self._last = time_us, (epoch, offset)
        early, self._early = self._early, []
        for event in early:
            outcome = self.feed(event)
            if outcome != "kept":
                return outcome
        return "kept"

    def feed(self, event: _Event) -> _Outcome:
        if self.finished:
            return "lagged" if self.lagged else "ended"
        if self._since_us is None:
            self._early.append(event)
            if len(self._early) > SUBSCRIBER_QUEUE:
                self.lag()
                return "lagged"
            return "kept"
        if event.time_us < self._since_us:
            return "kept"  # published (or dropped) before this subscription started
        if isinstance(event, _Dropped):
            self.end()
            return "ended"
        message = event.message
        epoch, offset = self._last
        if message.epoch == epoch and message.offset <= offset:
            return "kept"  # already known
        if (message.epoch == epoch and message.offset != offset + 1) or (
            message.epoch != epoch and message.offset != 1
        ):
            self.lag()  # a message is missing
            return "lagged"
        self._last = (message.epoch, message.offset)
        try:
            self._queue.put_nowait(message)
        except asyncio.QueueFull:
            self.lagged = self.finished = True  # the queue is full: no iterator is waiting
            return "lagged"
        return "kept"

    def lag(self) -> None:
        """Take nothing more; the iteration raises SubscriptionLagged once the queue is read."""
        if self.finished:
            return
        self.lagged = self.finished = True
        if not self._queue.full():  # a full queue has no iterator waiting on it
            self._queue.put_nowait(_WAKE)

    def end(self) -> None:
        """Take nothing more; the iteration ends (after what is queued), as in memory."""
        if self._ended:
            return
        self.finished = self._ended = True
        if self._queue.full():
            self._queue.get_nowait()
        self._queue.put_nowait(None)

    # The interface.

    def __aiter__(self) -> AsyncIterator[StreamMessage]:
        behind = "subscriber fell behind; catch up from history"
        return drain(self._queue, lambda: self.lagged, behind, skip=_Wake)

    async def close(self) -> None:
        self.end()
        await self._broker._detach(self)


class _RedisListener(Listener):
    """One local listener of a channel: what the reader hands it, as it came — queued to be
    iterated, or handed to its receiver (no queue)."""

    def __init__(
        self,
        broker: RedisBroker,
        session: _Session,
        channel: str,
        receiver: Receiver | None = None,
    ) -> None:
        self._broker = broker
        self.session = session
        self.channel = channel
        self._receiver = receiver
        self._queue: asyncio.Queue[bytes | _Wake | None] | None = (
            asyncio.Queue(SUBSCRIBER_QUEUE) if receiver is None else None
        )
        self.lagged = False
        self.finished = False
        self._ended = False
        # Still inside ``listen``: an end meanwhile is told by ``listen`` raising, not to the
        # receiver.
        self.opening = True

    def feed(self, payload: bytes) -> _Outcome:
        if self.finished:
            return "lagged" if self.lagged else "ended"
        if self._receiver is not None:
            hand_to(self._receiver, payload)
            return "kept"
        assert self._queue is not None
        try:
            self._queue.put_nowait(payload)
        except asyncio.QueueFull:
            self.lagged = self.finished = True  # the queue is full: no iterator is waiting
            return "lagged"
        return "kept"

    def lag(self) -> None:
        if self.finished:
            return
        self.lagged = self.finished = True
        receiver, self._receiver = self._receiver, None
        if receiver is not None:
            if not self.opening:
                tell_ended(receiver, lagged=True)
        elif self._queue is not None and not self._queue.full():
            self._queue.put_nowait(_WAKE)

    def end(self, *, told: bool = True) -> None:
        """Take nothing more; the iteration ends after what is queued, and the receiver is told
        (unless ``told`` is False: its own ``close``)."""
        if self._ended:
            return
        self.finished = self._ended = True
        receiver, self._receiver = self._receiver, None
        if receiver is not None:
            if told and not self.opening:
                tell_ended(receiver, lagged=False)
        elif self._queue is not None:
            if self._queue.full():
                self._queue.get_nowait()
            self._queue.put_nowait(None)

    async def _iterate(self) -> AsyncIterator[bytes]:
        if self._queue is None:
            raise TypeError("a listener with a receiver is not iterated")
        lost = "listener fell behind; what was sent meanwhile is lost"
        async for item in drain(self._queue, lambda: self.lagged, lost, skip=_Wake):
            yield item

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._iterate()

    async def close(self) -> None:
        self.end(told=False)
        await self._broker._leave(self)


@dataclass(eq=False)
class _Channel:
    """A stream's Redis channel, subscribed on this connection."""

    ready: asyncio.Future[bool]  # the SUBSCRIBE was confirmed (False: the connection was lost)
    subscribers: set[_RedisSubscription] = field(default_factory=set)

    @property
    def used(self) -> bool:
        return bool(self.subscribers)


@dataclass(eq=False, slots=True)
class _Route:
    """This node's listeners of one channel, and the write that made the node one of its route."""

    ready: asyncio.Future[bool]  # the route was written (False: it could not be)
    listeners: list[_RedisListener] = field(default_factory=list)


@dataclass(eq=False)
class _Session:
    """One pub/sub connection, its reader and its channels; once lost, never used again."""

    conn: AbstractConnection
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # orders writes (and channel changes)
    channels: dict[bytes, _Channel] = field(default_factory=dict)
    routes: dict[str, _Route] = field(default_factory=dict)  # the channels listened to here
    node_ready: asyncio.Future[bool] | None = None  # the node's own channel is subscribed
    pending: dict[bytes, deque[asyncio.Future[bool]]] = field(default_factory=dict)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    lost: bool = False
    answered: bool = True  # something arrived since the last PING

    async def write(self, *args: str | bytes) -> None:
        """Send a command; the caller holds ``lock``."""
        if self.lost:
            raise BrokerError("the Redis pub/sub connection was lost")
        try:
            await self.conn.send_command(*args, check_health=False)
        except (RedisError, OSError) as exc:
            raise BrokerError(f"redis pub/sub: {exc}") from exc
        finally:
            if self.lost:  # lost meanwhile: a reconnection by send_command must not linger
                await self.conn.disconnect(nowait=True)
