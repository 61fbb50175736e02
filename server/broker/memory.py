"""The in-process broker: the embedded default for a single server process."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from server.broker.base import (
    Broker,
    Listener,
    Receiver,
    StreamMessage,
    Subscription,
    Versioned,
    drain,
    hand_to,
    tell_ended,
)

HISTORY = 1000
SUBSCRIBER_QUEUE = 10_000
#: Expired state is swept out once every this many writes.
SWEEP_EVERY = 1024


def monotonic_ms() -> int:
    return time.monotonic_ns() // 1_000_000


class _MemorySubscription(Subscription):
    def __init__(self, stream: _Stream) -> None:
        self._stream = stream
        self._queue: asyncio.Queue[StreamMessage | None] = asyncio.Queue(SUBSCRIBER_QUEUE)
        self.lagged = False

    def deliver(self, message: StreamMessage) -> None:
        try:
            self._queue.put_nowait(message)
        except asyncio.QueueFull:
            self.lagged = True
            self._stream.subscribers.discard(self)

    def __aiter__(self) -> AsyncIterator[StreamMessage]:
        return drain(
            self._queue, lambda: self.lagged, "subscriber fell behind; catch up from history"
        )

    async def close(self) -> None:
        self._stream.subscribers.discard(self)
        # Wake an iterator that is waiting (drop the oldest when the queue is full).
        if self._queue.full():
            self._queue.get_nowait()
        self._queue.put_nowait(None)


class _MemoryListener(Listener):
    """One listener of a channel: a queue to iterate, or a receiver handed what comes (no queue)."""

    __slots__ = ("_channel", "_channels", "_queue", "_receiver", "lagged")

    def __init__(
        self,
        channels: dict[str, set[_MemoryListener]],
        channel: str,
        receiver: Receiver | None = None,
    ) -> None:
        self._channels = channels
        self._channel = channel
        self._receiver = receiver
        self._queue: asyncio.Queue[bytes | None] | None = (
            asyncio.Queue(SUBSCRIBER_QUEUE) if receiver is None else None
        )
        self.lagged = False

    def deliver(self, payload: bytes) -> bool:
        if self._receiver is not None:
            hand_to(self._receiver, payload)
            return True
        assert self._queue is not None
        try:
            self._queue.put_nowait(payload)
        except asyncio.QueueFull:
            self.lagged = True
            self._leave()
            return False
        return True

    def _leave(self) -> None:
        listeners = self._channels.get(self._channel)
        if listeners is not None:
            listeners.discard(self)
            if not listeners:  # nobody listens any more: the channel is forgotten
                del self._channels[self._channel]

    async def _iterate(self) -> AsyncIterator[bytes]:
        if self._queue is None:
            raise TypeError("a listener with a receiver is not iterated")
        lost = "listener fell behind; what was sent meanwhile is lost"
        async for payload in drain(self._queue, lambda: self.lagged, lost):
            yield payload

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._iterate()

    async def close(self) -> None:
        self._leave()
        self._receiver = None  # its owner closed it: it is told nothing more
        if self._queue is not None:
            if self._queue.full():
                self._queue.get_nowait()
            self._queue.put_nowait(None)

    def end(self) -> None:
        """The broker is closing: the iteration ends, the receiver is told."""
        self._leave()
        receiver, self._receiver = self._receiver, None
        if receiver is not None:
            tell_ended(receiver, lagged=False)
        elif self._queue is not None:
            if self._queue.full():
                self._queue.get_nowait()
            self._queue.put_nowait(None)


@dataclass
class _Stream:
    epoch: int = 0
    offset: int = 0
    history: deque[StreamMessage] = field(default_factory=lambda: deque(maxlen=HISTORY))
    snapshot: StreamMessage | None = None
    subscribers: set[_MemorySubscription] = field(default_factory=set)


@dataclass
class _Entry:
    value: bytes
    version: int
    expires: int | None


class MemoryBroker(Broker):
    def __init__(self, *, clock: Callable[[], int] = monotonic_ms, history: int = HISTORY) -> None:
        self._clock = clock
        self._history = history
        self._streams: dict[str, _Stream] = {}
        self._state: dict[str, _Entry] = {}
        # Every state version is taken from this one counter (as in Redis): a key's version keeps
        # growing across deletes and expiry without anything being kept per deleted key.
        self._state_version = 0
        self._writes = 0  # every SWEEP_EVERY writes, state that expired unread is dropped
        self._leases: dict[str, tuple[str, int]] = {}
        self._presence: dict[str, dict[str, tuple[bytes, int, str]]] = {}  # data, expiry, owner
        self._channels: dict[str, set[_MemoryListener]] = {}

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        for stream in self._streams.values():
            for subscriber in list(stream.subscribers):
                await subscriber.close()
        for listeners in list(self._channels.values()):
            for listener in list(listeners):
                listener.end()

    def _stream(self, name: str) -> _Stream:
        stream = self._streams.get(name)
        if stream is None:
            stream = self._streams[name] = _Stream(history=deque(maxlen=self._history))
        return stream

    # --- streams -----------------------------------------------------------------

    async def publish(
        self, stream: str, payload: bytes, *, new_epoch: bool = False
    ) -> StreamMessage:
        s = self._stream(stream)
        if new_epoch or s.epoch == 0:
            # Epochs start from the wall clock, so a broker started again never reuses one.
            s.epoch = s.epoch + 1 if s.epoch else max(1, time.time_ns() // 1_000_000)
            s.offset = 0
            s.history.clear()
            s.snapshot = None
        s.offset += 1
        message = StreamMessage(s.epoch, s.offset, payload)
        s.history.append(message)
        for subscriber in list(s.subscribers):
            subscriber.deliver(message)
        return message

    async def position(self, stream: str) -> tuple[int, int]:
        s = self._streams.get(stream)
        return (s.epoch, s.offset) if s else (0, 0)

    async def history(
        self, stream: str, *, epoch: int, after_offset: int
    ) -> list[StreamMessage] | None:
        s = self._streams.get(stream)
        if s is None:
            return [] if epoch == 0 and after_offset == 0 else None
        if epoch != s.epoch or after_offset > s.offset:
            return None
        if after_offset == s.offset:
            return []
        oldest = s.history[0].offset if s.history else s.offset + 1
        if after_offset + 1 < oldest:
            return None
        return [m for m in s.history if m.offset > after_offset]

    async def subscribe(self, stream: str) -> Subscription:
        s = self._stream(stream)
        subscription = _MemorySubscription(s)
        s.subscribers.add(subscription)
        return subscription

    async def set_snapshot(self, stream: str, payload: bytes) -> StreamMessage:
        s = self._stream(stream)
        s.snapshot = StreamMessage(s.epoch, s.offset, payload)
        return s.snapshot

    async def snapshot(self, stream: str) -> StreamMessage | None:
        s = self._streams.get(stream)
        return s.snapshot if s else None

    async def drop_stream(self, stream: str) -> None:
        s = self._streams.pop(stream, None)
        if s is not None:
            for subscriber in list(s.subscribers):
                await subscriber.close()

    # --- state ---------------------------------------------------------------------

    def _live(self, key: str) -> _Entry | None:
        entry = self._state.get(key)
        if entry is not None and entry.expires is not None and entry.expires <= self._clock():
            del self._state[key]
            return None
        return entry

    def _sweep(self) -> None:
        """Drop what expired without being read again (a key per tab ever seen would otherwise
        stay in memory for as long as the process runs)."""
        now = self._clock()
        for key in [
            k for k, e in self._state.items() if e.expires is not None and e.expires <= now
        ]:
            del self._state[key]

    async def get(self, key: str) -> Versioned | None:
        entry = self._live(key)
        return Versioned(entry.value, entry.version) if entry else None

    async def compare_and_set(
        self, key: str, value: bytes, *, expected_version: int, ttl_ms: int | None = None
    ) -> int | None:
        entry = self._live(key)
        current = entry.version if entry else 0
        if current != expected_version:
            return None
        # Versions keep growing across deletes, so a stale writer can never match again.
        self._state_version += 1
        version = self._state_version
        self._writes += 1
        if self._writes % SWEEP_EVERY == 0:
            self._sweep()
        expires = self._clock() + ttl_ms if ttl_ms else None
        self._state[key] = _Entry(value, version, expires)
        return version

    async def delete(self, key: str, *, expected_version: int | None = None) -> bool:
        entry = self._live(key)
        if entry is None:
            return False
        if expected_version is not None and entry.version != expected_version:
            return False
        del self._state[key]
        return True

    # --- leases ------------------------------------------------------------------------

    async def acquire(self, lease: str, owner: str, ttl_ms: int) -> bool:
        now = self._clock()
        held = self._leases.get(lease)
        if held is not None and held[1] > now and held[0] != owner:
            return False
        self._leases[lease] = (owner, now + ttl_ms)
        return True

    async def release(self, lease: str, owner: str) -> bool:
        held = self._leases.get(lease)
        if held is None or held[0] != owner or held[1] <= self._clock():
            return False
        del self._leases[lease]
        return True

    async def holder(self, lease: str) -> str | None:
        held = self._leases.get(lease)
        if held is None or held[1] <= self._clock():
            return None
        return held[0]

    # --- presence --------------------------------------------------------------------------

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
        members = self._live_members(group)
        held = members.get(member)
        if held is not None and not take and held[2] != owner:
            return False
        members[member] = (data, self._clock() + ttl_ms, owner)
        self._presence[group] = members
        return True

    async def presence_leave(self, group: str, member: str, *, owner: str | None = None) -> bool:
        members = self._live_members(group)
        held = members.get(member)
        if held is None or (owner is not None and held[2] != owner):
            return False
        del members[member]
        if not members:
            del self._presence[group]
        return True

    async def presence(self, group: str) -> dict[str, bytes]:
        members = self._live_members(group)
        return {member: data for member, (data, _, _) in members.items()}

    def _live_members(self, group: str) -> dict[str, tuple[bytes, int, str]]:
        """The group's unexpired members; a group left empty is forgotten, not kept."""
        members = self._presence.get(group)
        if members is None:
            return {}
        now = self._clock()
        for member in [m for m, (_, expires, _) in members.items() if expires <= now]:
            del members[member]
        if not members:
            del self._presence[group]
        return members

    # --- channels ------------------------------------------------------------------------------

    async def listen(self, channel: str, receiver: Receiver | None = None) -> Listener:
        listener = _MemoryListener(self._channels, channel, receiver)
        self._channels.setdefault(channel, set()).add(listener)
        return listener

    async def notify(self, channel: str, payload: bytes) -> int:
        listeners = self._channels.get(channel, set())
        return sum(listener.deliver(payload) for listener in list(listeners))
