"""The Redis broker: live state shared by several server processes ("nodes").

Selected by ``redis://HOST:PORT/DB?prefix=tandem:`` (``rediss://`` for TLS; other
query options are redis-py's). Needs Redis 5 or later, one server or a primary:
not Redis Cluster. Everything the broker writes is under the key prefix ``P``
(default ``tandem:``), so several deployments (or test runs) share one Redis:

- ``P stream:NAME:meta`` — hash ``epoch``, ``offset``: the stream's position.
- ``P stream:NAME:hist`` — list of ``b"EPOCH:OFFSET:" + payload``: the latest
  ``history`` messages of the current epoch, oldest first.
- ``P stream:NAME:snap`` — hash ``epoch``, ``offset``, ``payload``: the snapshot.
- channel ``P stream:NAME`` — ``b"EPOCH:OFFSET:TIME:" + payload`` per message and
  ``b"drop:TIME"`` when the stream is dropped, TIME being Redis's clock in µs.
  Channels are not keys and ignore the database number: the prefix keeps
  deployments apart there too.
- ``P state:KEY`` — hash ``value``, ``version``, with PEXPIRE when it has a TTL.
- ``P state-version`` — the one counter every state version is taken from. It
  only grows, so a key's version keeps growing across deletes and expiry without
  anything being kept per deleted key.
- ``P lease:NAME`` — the holder's name, with PX expiry.
- ``P route:NAME`` — set of the ids of the nodes listening to the channel
  NAME (``listen``), with PEXPIRE (``ROUTE_TTL_MS``). Each such node writes
  its membership and the expiry again every ``ROUTE_RENEW_S``: a node that
  died without leaving is forgotten, and a route that vanished while its nodes
  run (a FLUSHDB, an eviction) is back within that time.
- channel ``P node:ID`` — what is sent (``notify``) to the channels node ID
  listens to: ``b"LENGTH:" + NAME + payload``, as it is: nothing is kept, only
  whoever listens at that moment receives it.
- ``P presence:GROUP:exp`` — sorted set, member → expiry (ms), and
  ``P presence:GROUP:data`` — hash ``d:MEMBER`` → data, ``o:MEMBER`` → owner.
  Both expire (PEXPIREAT) with the group's latest member, so a group nobody
  reads again disappears by itself; Redis deletes them once emptied.

The Lua scripts that make each step atomic, and why, are in ``server.broker.redis_scripts``;
subscriptions and listeners (the node's pub/sub connection, and the routes of the channels it
listens to) in ``server.broker.redis_pubsub``, their local ends in
``server.broker.redis_subscriptions``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import uuid
from collections import deque
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from server.broker import redis_scripts as lua
from server.broker.base import (
    Broker,
    BrokerError,
    Listener,
    Receiver,
    StreamMessage,
    Subscription,
    Versioned,
)
from server.broker.memory import HISTORY
from server.broker.redis_pubsub import HEALTH_CHECK_S, ROUTE_RENEW_S, RedisPubSub
from server.broker.redis_subscriptions import (
    _Channel,
    _Dropped,
    _RedisListener,
    _RedisSubscription,
    _Route,
    _Session,
)

DEFAULT_PREFIX = "tandem:"

_PUBSUB_OWN = {"socket_timeout", "health_check_interval", "protocol", "client_name"}
#: A command waits at most this long for a free pooled connection (then: BrokerError).
POOL_WAIT_S = 20.0
#: Closing, a node waits at most this long for its leaving its routes to be written.
ROUTES_CLEARED_WITHIN_S = 5.0


@contextlib.contextmanager
def _redis_errors() -> Iterator[None]:
    try:
        yield
    except RedisError as exc:
        raise BrokerError(f"redis: {exc}") from exc


def _int(value: bytes | str | None) -> int:
    return int(value) if value is not None else 0


def _bytes(value: bytes | str) -> bytes:
    return value if isinstance(value, bytes) else value.encode()


def _entry(raw: bytes) -> StreamMessage:
    epoch, offset, payload = raw.split(b":", 2)
    return StreamMessage(int(epoch), int(offset), payload)


class RedisBroker(RedisPubSub, Broker):
    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        prefix: str = DEFAULT_PREFIX,
        history: int = HISTORY,
        health_check_s: float = HEALTH_CHECK_S,
        route_renew_s: float = ROUTE_RENEW_S,
    ) -> None:
        if history < 1:
            raise ValueError("history must keep at least one message")
        self.prefix = prefix
        self.node_id = uuid.uuid4().hex[:12]
        self._history = history
        self._health_check_s = health_check_s
        self._route_renew_s = route_renew_s
        # Commands share a pool of connections; a burst (a node's pages all coming back at
        # once) waits for a free one instead of failing (``max_connections`` in the URL).
        self._redis = aioredis.Redis.from_pool(
            aioredis.BlockingConnectionPool.from_url(
                url, decode_responses=False, timeout=POOL_WAIT_S
            )
        )
        # The pub/sub connection: its own settings, whatever the URL says for the others.
        parts = urlsplit(url)
        query = [(k, v) for k, v in parse_qsl(parts.query) if k not in _PUBSUB_OWN]
        self._pubsub_pool = aioredis.ConnectionPool.from_url(
            urlunsplit(parts._replace(query=urlencode(query))),
            decode_responses=False,
            socket_timeout=None,  # the reader waits for messages as long as it takes
            health_check_interval=0,  # PINGs are ours: their replies come through the reader
            protocol=2,  # messages as plain replies
            client_name=f"tandem-broker-{self.node_id}",
        )
        script = self._redis.register_script
        self._publish = script(lua.PUBLISH)
        self._history_script = script(lua.HISTORY)
        self._floor = script(lua.FLOOR)
        self._set_snapshot = script(lua.SET_SNAPSHOT)
        self._drop = script(lua.DROP)
        self._compare_and_set = script(lua.COMPARE_AND_SET)
        self._delete = script(lua.DELETE)
        self._acquire = script(lua.ACQUIRE)
        self._release = script(lua.RELEASE)
        self._presence_touch = script(lua.PRESENCE_TOUCH)
        self._presence_leave = script(lua.PRESENCE_LEAVE)
        self._presence_list = script(lua.PRESENCE_LIST)
        self._route_add = script(lua.ROUTE_ADD)
        self._notify = script(lua.NOTIFY)
        self._node_channel = f"{prefix}node:{self.node_id}".encode()
        # Route writes under way, by channel: each waits for the one before it (``_route``).
        self._routing: dict[str, asyncio.Task[bool]] = {}
        self._session: _Session | None = None
        self._renewer: asyncio.Task[None] | None = None  # writes the routes again (``_renew``)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._opening = asyncio.Lock()
        self._closed = False

    @classmethod
    def from_url(cls, url: str) -> RedisBroker:
        """``redis://HOST:PORT/DB?prefix=P`` (default prefix ``tandem:``)."""
        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        prefix = next((v for k, v in query if k == "prefix"), DEFAULT_PREFIX)
        rest = urlencode([(k, v) for k, v in query if k != "prefix"])
        return cls(urlunsplit(parts._replace(query=rest)), prefix=prefix)

    async def start(self) -> None:
        try:
            with _redis_errors():
                await self._redis.ping()
            await self._open_session()
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        self._closed = True
        session, self._session = self._session, None
        if session is not None:
            for channel in session.channels.values():
                for subscriber in channel.subscribers:
                    subscriber.end()
            for route in session.routes.values():
                for listener in route.listeners:
                    listener.end()
            await self._lose(session)
        # This node leaving its routes is written first (within a bound): a route left behind
        # would name the node until it expires, or until a notify finds nobody on its channel.
        writing = set(self._routing.values())
        if writing:
            await asyncio.wait(writing, timeout=ROUTES_CLEARED_WITHIN_S)
        # Readers and pingers of connections lost earlier may still be finishing.
        tasks = [task for task in self._tasks if task is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        with contextlib.suppress(RedisError, OSError):
            await self._redis.aclose()
        with contextlib.suppress(RedisError, OSError):
            await self._pubsub_pool.disconnect()

    # --- keys ---------------------------------------------------------------------------------

    def _stream_keys(self, stream: str) -> list[str]:
        base = f"{self.prefix}stream:{stream}"
        return [f"{base}:meta", f"{base}:hist", f"{base}:snap"]

    def _channel(self, stream: str) -> bytes:
        return f"{self.prefix}stream:{stream}".encode()

    def _presence_keys(self, group: str) -> list[str]:
        base = f"{self.prefix}presence:{group}"
        return [f"{base}:exp", f"{base}:data"]

    # --- streams ------------------------------------------------------------------------------

    async def publish(
        self, stream: str, payload: bytes, *, new_epoch: bool = False
    ) -> StreamMessage:
        keys = self._stream_keys(stream)
        args = [payload, "1" if new_epoch else "0", self._history, self._channel(stream)]
        with _redis_errors():
            epoch, offset = await self._publish(keys=keys, args=args)
        return StreamMessage(int(epoch), int(offset), payload)

    async def position(self, stream: str) -> tuple[int, int]:
        with _redis_errors():
            epoch, offset = await self._redis.hmget(self._stream_keys(stream)[0], "epoch", "offset")
        return _int(epoch), _int(offset)

    async def history(
        self, stream: str, *, epoch: int, after_offset: int
    ) -> list[StreamMessage] | None:
        keys = self._stream_keys(stream)[:2]
        with _redis_errors():
            current, offset, *entries = await self._history_script(keys=keys, args=[after_offset])
        if current == 0:  # never published (or dropped)
            return [] if epoch == 0 and after_offset == 0 else None
        if epoch != current or after_offset > offset:
            return None
        if after_offset == offset:
            return []
        messages = [_entry(raw) for raw in entries]
        if not messages or messages[0].offset != after_offset + 1:
            return None  # no longer all kept
        return messages

    async def subscribe(self, stream: str) -> Subscription:
        session = await self._open_session()
        channel = self._channel(stream)
        async with session.lock:
            entry = session.channels.get(channel)
            if entry is None:
                ready = asyncio.get_running_loop().create_future()
                entry = session.channels[channel] = _Channel(ready)
                session.pending.setdefault(channel, deque()).append(ready)
                try:
                    await session.write("SUBSCRIBE", channel)
                except BrokerError as exc:
                    await self._lose(session, str(exc))
                    raise
            subscription = _RedisSubscription(self, session, channel)
            entry.subscribers.add(subscription)
        try:
            if not await asyncio.shield(entry.ready):
                raise BrokerError("the Redis pub/sub connection was lost")
            # Subscribed: from the position read now on, nothing published is missed.
            with _redis_errors():
                epoch, offset, time_us = await self._floor(keys=self._stream_keys(stream)[:1])
        except BaseException:
            await subscription.close()
            raise
        if subscription.start_at(int(epoch), int(offset), int(time_us)) != "kept":
            await self._detach(subscription)
        return subscription

    async def set_snapshot(self, stream: str, payload: bytes) -> StreamMessage:
        meta, _, snap = self._stream_keys(stream)
        with _redis_errors():
            epoch, offset = await self._set_snapshot(keys=[meta, snap], args=[payload])
        return StreamMessage(int(epoch), int(offset), payload)

    async def snapshot(self, stream: str) -> StreamMessage | None:
        snap = self._stream_keys(stream)[2]
        with _redis_errors():
            epoch, offset, payload = await self._redis.hmget(snap, "epoch", "offset", "payload")
        if payload is None:
            return None
        return StreamMessage(_int(epoch), _int(offset), _bytes(payload))

    async def drop_stream(self, stream: str) -> None:
        channel = self._channel(stream)
        with _redis_errors():
            dropped_us = int(await self._drop(keys=self._stream_keys(stream), args=[channel]))
        # Local subscriptions end now; other nodes' when the notice reaches them.
        session = self._session
        entry = session.channels.get(channel) if session else None
        if session is None or entry is None:
            return
        for subscriber in list(entry.subscribers):
            # One not started yet learns of the drop in order, through the channel.
            if subscriber.started and subscriber.feed(_Dropped(dropped_us)) != "kept":
                entry.subscribers.discard(subscriber)
        if not entry.used:
            await self._unsubscribe_if_unused(session, channel)

    # --- state --------------------------------------------------------------------------------

    async def get(self, key: str) -> Versioned | None:
        with _redis_errors():
            value, version = await self._redis.hmget(
                f"{self.prefix}state:{key}", "value", "version"
            )
        if value is None or version is None:
            return None
        return Versioned(_bytes(value), int(version))

    async def compare_and_set(
        self, key: str, value: bytes, *, expected_version: int, ttl_ms: int | None = None
    ) -> int | None:
        keys = [f"{self.prefix}state:{key}", f"{self.prefix}state-version"]
        with _redis_errors():
            version = await self._compare_and_set(
                keys=keys, args=[value, expected_version, ttl_ms or 0]
            )
        return None if version is None else int(version)

    async def delete(self, key: str, *, expected_version: int | None = None) -> bool:
        expected = "" if expected_version is None else expected_version
        with _redis_errors():
            deleted = await self._delete(keys=[f"{self.prefix}state:{key}"], args=[expected])
        return bool(deleted)

    # --- leases -------------------------------------------------------------------------------

    async def acquire(self, lease: str, owner: str, ttl_ms: int) -> bool:
        with _redis_errors():
            taken = await self._acquire(keys=[f"{self.prefix}lease:{lease}"], args=[owner, ttl_ms])
        return bool(taken)

    async def release(self, lease: str, owner: str) -> bool:
        with _redis_errors():
            released = await self._release(keys=[f"{self.prefix}lease:{lease}"], args=[owner])
        return bool(released)

    async def holder(self, lease: str) -> str | None:
        with _redis_errors():
            held = await self._redis.get(f"{self.prefix}lease:{lease}")
        return None if held is None else _bytes(held).decode()

    # --- presence -----------------------------------------------------------------------------

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
        args: list[bytes | str | int] = [member, data, ttl_ms, owner, "1" if take else "0"]
        with _redis_errors():
            written = await self._presence_touch(keys=self._presence_keys(group), args=args)
        return bool(written)

    async def presence_leave(self, group: str, member: str, *, owner: str | None = None) -> bool:
        args = [member, owner or "", "0" if owner is None else "1"]
        with _redis_errors():
            left = await self._presence_leave(keys=self._presence_keys(group), args=args)
        return bool(left)

    async def presence(self, group: str) -> dict[str, bytes]:
        with _redis_errors():
            flat = await self._presence_list(keys=self._presence_keys(group))
        return {flat[i].decode(): flat[i + 1] for i in range(0, len(flat), 2)}

    # --- channels -----------------------------------------------------------------------------

    async def listen(self, channel: str, receiver: Receiver | None = None) -> Listener:
        session = await self._open_session()
        assert session.node_ready is not None
        if not await asyncio.shield(session.node_ready):
            raise BrokerError("the Redis pub/sub connection was lost")
        route = session.routes.get(channel)
        if route is None:
            if session.lost:
                raise BrokerError("the Redis pub/sub connection was lost")
            writing = self._route(channel, add=True)
            route = session.routes[channel] = _Route(writing)
            writing.add_done_callback(
                functools.partial(self._route_written, session, channel, route)
            )
        listener = _RedisListener(self, session, channel, receiver)
        route.listeners.append(listener)
        try:
            # Ended meanwhile (the connection lost, the broker closing): raised, not told.
            if not await asyncio.shield(route.ready) or listener.finished:
                raise BrokerError(f"could not listen to channel {channel}")
        except BaseException:
            await listener.close()
            raise
        listener.opening = False
        return listener

    async def notify(self, channel: str, payload: bytes) -> int:
        name = channel.encode()
        envelope = b"%d:%b%b" % (len(name), name, payload)
        prefix = f"{self.prefix}node:"
        with _redis_errors():
            received = await self._notify(keys=[self._route_key(channel)], args=[prefix, envelope])
        return int(received)
