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

Why each step is atomic: every operation that reads and then writes, or reads
several keys that must agree, is one Lua script, registered once; Redis runs a
script as a single command, so no other client's command interleaves. That
covers ``publish`` (new epoch, offset, history, trim, PUBLISH: subscribers see
messages in offset order because they are published in the same step that
numbers them), ``history`` (the position and the list read together),
``set_snapshot`` (the position it is stamped with), ``drop_stream`` (the keys
and the notice to subscribers), compare-and-set and delete, the leases, and
presence (expired members are removed in the same step that reads or writes
the group). Other reads are single commands. Times come from Redis's ``TIME``
inside the scripts and key expiry is Redis's own: "the broker's clock" is the
Redis server's wall clock, the same for every node.

Subscriptions: one pub/sub connection per broker with a reader task that hands
messages to the local subscriptions (each a bounded queue, as in memory). A
channel is subscribed with its first local subscription and unsubscribed with
its last. ``subscribe`` returns once the SUBSCRIBE is confirmed, then reads the
stream's position and Redis's time in one script: a subscription receives what
is published after that — messages stamped earlier are skipped, and each
message it delivers must continue from the previous one (the next offset, or
offset 1 of a new epoch), else it is lagged. When the pub/sub connection is
lost (or stops answering PING), every local subscription ends with
``SubscriptionLagged`` and the next ``subscribe`` opens a new connection.
Listeners of channels (``listen``) share that connection and its reader, but
not one Redis channel each: a node subscribes to one channel of its own
(``P node:ID``) however many channels it listens to — one per open tab — and
hands what comes on it to its local listeners of the channel named in it.
Which nodes listen to a channel is the channel's route: a channel's first
local listener adds the node to it, its last one removes it (in the order
the listeners came and went), and ``listen`` returns once the node's channel
is subscribed and the route written (a ``listen`` that fails raises, and its
receiver is told nothing). A lost connection, or the broker closing, takes
the node out of the routes of every channel it listened to on it (a listen
coming after is written after that), so ``notify`` never counts a node that
still runs for a channel nobody there listens to any more. ``notify`` is one
script: a PUBLISH to each node of the route, the sum of whom got it (0:
nobody listens), and a node whose channel nobody receives (it died, or lost
its connection) taken out of the route. A lost connection ends the listeners
as lagged too.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import logging
import uuid
from collections import deque
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis.asyncio as aioredis
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import RedisError

from server.broker.base import (
    Broker,
    BrokerError,
    Listener,
    Receiver,
    StreamMessage,
    Subscription,
    SubscriptionLagged,
    Versioned,
    hand_to,
    tell_ended,
)
from server.broker.memory import HISTORY, SUBSCRIBER_QUEUE

DEFAULT_PREFIX = "tandem:"
log = logging.getLogger("tandem.broker")

_PUBSUB_OWN = {"socket_timeout", "health_check_interval", "protocol", "client_name"}
#: A command waits at most this long for a free pooled connection (then: BrokerError).
POOL_WAIT_S = 20.0
HEALTH_CHECK_S = 10.0  # PING the pub/sub connection this often; no reply by the next one: lost
#: A channel's route outlives the last renewal by its nodes by this long.
ROUTE_TTL_MS = 3_600_000
#: Each node writes the routes of the channels it listens to again this often (membership and
#: expiry: routes lost meanwhile — a FLUSHDB, an eviction — are back within this time).
ROUTE_RENEW_S = 60.0
#: Routes written per pipeline (a renewal, or what a lost connection leaves).
ROUTE_BATCH = 1000
#: Closing, a node waits at most this long for its leaving its routes to be written.
ROUTES_CLEARED_WITHIN_S = 5.0

# --- Lua ----------------------------------------------------------------------------------

_CLOCK = """
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function now_us()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local function int(n)
  return string.format('%d', n)
end
"""

# KEYS meta, hist, snap; ARGV payload, new_epoch ('1'/'0'), history cap, channel.
_PUBLISH = (
    _CLOCK
    + """
local m = redis.call('HMGET', KEYS[1], 'epoch', 'offset')
local epoch = tonumber(m[1]) or 0
local offset = tonumber(m[2]) or 0
if ARGV[2] == '1' or epoch == 0 then
  -- A stream's first epoch is the time in ms, so one started again never reuses one.
  if epoch == 0 then epoch = math.max(1, now_ms()) else epoch = epoch + 1 end
  offset = 0
  redis.call('DEL', KEYS[2], KEYS[3])
end
offset = offset + 1
local head = int(epoch) .. ':' .. int(offset) .. ':'
redis.call('HSET', KEYS[1], 'epoch', int(epoch), 'offset', int(offset))
redis.call('RPUSH', KEYS[2], head .. ARGV[1])
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[3]), -1)
redis.call('PUBLISH', ARGV[4], head .. int(now_us()) .. ':' .. ARGV[1])
return {epoch, offset}
"""
)

# KEYS meta, hist; ARGV after_offset. Returns {epoch, offset, entries after after_offset...}.
_HISTORY = """
local m = redis.call('HMGET', KEYS[1], 'epoch', 'offset')
local epoch = tonumber(m[1]) or 0
local offset = tonumber(m[2]) or 0
local out = {epoch, offset}
local wanted = offset - tonumber(ARGV[1])
if wanted > 0 then
  local entries = redis.call('LRANGE', KEYS[2], -wanted, -1)
  for i = 1, #entries do out[#out + 1] = entries[i] end
end
return out
"""

# KEYS meta. The position and the time a new subscription starts from.
_FLOOR = (
    _CLOCK
    + """
local m = redis.call('HMGET', KEYS[1], 'epoch', 'offset')
return {tonumber(m[1]) or 0, tonumber(m[2]) or 0, int(now_us())}
"""
)

# KEYS meta, snap; ARGV payload.
_SET_SNAPSHOT = """
local m = redis.call('HMGET', KEYS[1], 'epoch', 'offset')
local epoch, offset = m[1] or '0', m[2] or '0'
redis.call('HSET', KEYS[2], 'epoch', epoch, 'offset', offset, 'payload', ARGV[1])
return {tonumber(epoch), tonumber(offset)}
"""

# KEYS meta, hist, snap; ARGV channel. Returns the time (µs) of the drop.
_DROP = (
    _CLOCK
    + """
local t = int(now_us())
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
redis.call('PUBLISH', ARGV[1], 'drop:' .. t)
return t
"""
)

# KEYS route; ARGV node id, ttl ms.
_ROUTE_ADD = """
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"""

# KEYS route; ARGV node channel prefix, envelope. How many got it; nodes nobody hears leave.
_NOTIFY = """
local nodes = redis.call('SMEMBERS', KEYS[1])
local heard = 0
for i = 1, #nodes do
  local n = redis.call('PUBLISH', ARGV[1] .. nodes[i], ARGV[2])
  if n == 0 then redis.call('SREM', KEYS[1], nodes[i]) else heard = heard + n end
end
return heard
"""

# KEYS state, version counter; ARGV value, expected version, ttl ms (0: none).
_COMPARE_AND_SET = """
local current = tonumber(redis.call('HGET', KEYS[1], 'version')) or 0
if current ~= tonumber(ARGV[2]) then return false end
local version = redis.call('INCR', KEYS[2])
if version <= current then
  version = current + 1
  redis.call('SET', KEYS[2], version)
end
redis.call('HSET', KEYS[1], 'value', ARGV[1], 'version', version)
local ttl = tonumber(ARGV[3])
if ttl ~= 0 then redis.call('PEXPIRE', KEYS[1], ttl) else redis.call('PERSIST', KEYS[1]) end
return version
"""

# KEYS state; ARGV expected version ('': any).
_DELETE = """
local current = tonumber(redis.call('HGET', KEYS[1], 'version'))
if not current then return 0 end
if ARGV[1] ~= '' and current ~= tonumber(ARGV[1]) then return 0 end
redis.call('DEL', KEYS[1])
return 1
"""

# KEYS lease; ARGV owner, ttl ms.
_ACQUIRE = """
local held = redis.call('GET', KEYS[1])
if held and held ~= ARGV[1] then return 0 end
if tonumber(ARGV[2]) > 0 then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
else
  redis.call('DEL', KEYS[1])  -- taken and already expired
end
return 1
"""

# KEYS lease; ARGV owner.
_RELEASE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1
"""

_PRESENCE = (
    _CLOCK
    + """
local function purge(now)
  local gone = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)
  for i = 1, #gone do redis.call('HDEL', KEYS[2], 'd:' .. gone[i], 'o:' .. gone[i]) end
  if #gone > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now) end
end
"""
)

# KEYS exp, data; ARGV member, data, ttl ms, owner, take ('1'/'0').
_PRESENCE_TOUCH = (
    _PRESENCE
    + """
local now = now_ms()
purge(now)
local member = ARGV[1]
if ARGV[5] == '0' then
  local held = redis.call('HGET', KEYS[2], 'o:' .. member)
  if held and held ~= ARGV[4] then return 0 end
end
local expires = now + tonumber(ARGV[3])
if expires <= now then  -- written already expired: gone
  redis.call('ZREM', KEYS[1], member)
  redis.call('HDEL', KEYS[2], 'd:' .. member, 'o:' .. member)
  return 1
end
redis.call('ZADD', KEYS[1], expires, member)
redis.call('HSET', KEYS[2], 'd:' .. member, ARGV[2], 'o:' .. member, ARGV[4])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[1], last[2])
redis.call('PEXPIREAT', KEYS[2], last[2])
return 1
"""
)

# KEYS exp, data; ARGV member, owner, with owner ('1'/'0').
_PRESENCE_LEAVE = (
    _PRESENCE
    + """
purge(now_ms())
local member = ARGV[1]
local held = redis.call('HGET', KEYS[2], 'o:' .. member)
if not held then return 0 end
if ARGV[3] == '1' and held ~= ARGV[2] then return 0 end
redis.call('ZREM', KEYS[1], member)
redis.call('HDEL', KEYS[2], 'd:' .. member, 'o:' .. member)
return 1
"""
)

# KEYS exp, data. Returns {member, data, member, data, ...}.
_PRESENCE_LIST = (
    _PRESENCE
    + """
purge(now_ms())
local members = redis.call('ZRANGE', KEYS[1], 0, -1)
local out = {}
for i = 1, #members do
  out[#out + 1] = members[i]
  out[#out + 1] = redis.call('HGET', KEYS[2], 'd:' .. members[i]) or ''
end
return out
"""
)


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


# --- subscriptions ------------------------------------------------------------------------


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

    async def _iterate(self) -> AsyncIterator[StreamMessage]:
        while True:
            if self.lagged and self._queue.empty():
                raise SubscriptionLagged("subscriber fell behind; catch up from history")
            item = await self._queue.get()
            if item is None:
                return
            if isinstance(item, _Wake):
                continue
            yield item

    def __aiter__(self) -> AsyncIterator[StreamMessage]:
        return self._iterate()

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
        while True:
            if self.lagged and self._queue.empty():
                raise SubscriptionLagged("listener fell behind; what was sent meanwhile is lost")
            item = await self._queue.get()
            if item is None:
                return
            if isinstance(item, _Wake):
                continue
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


# --- the broker ---------------------------------------------------------------------------


class RedisBroker(Broker):
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
        self._publish = script(_PUBLISH)
        self._history_script = script(_HISTORY)
        self._floor = script(_FLOOR)
        self._set_snapshot = script(_SET_SNAPSHOT)
        self._drop = script(_DROP)
        self._compare_and_set = script(_COMPARE_AND_SET)
        self._delete = script(_DELETE)
        self._acquire = script(_ACQUIRE)
        self._release = script(_RELEASE)
        self._presence_touch = script(_PRESENCE_TOUCH)
        self._presence_leave = script(_PRESENCE_LEAVE)
        self._presence_list = script(_PRESENCE_LIST)
        self._route_add = script(_ROUTE_ADD)
        self._notify = script(_NOTIFY)
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

    def _route_key(self, channel: str) -> str:
        return f"{self.prefix}route:{channel}"

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

    # --- the pub/sub connection ---------------------------------------------------------------

    async def _open_session(self) -> _Session:
        async with self._opening:
            if self._closed:
                raise BrokerError("the broker is closed")
            if self._session is not None and not self._session.lost:
                return self._session
            conn: AbstractConnection = self._pubsub_pool.make_connection()  # type: ignore[no-untyped-call]
            try:
                await conn.connect()  # type: ignore[no-untyped-call]
            except (RedisError, OSError) as exc:
                with contextlib.suppress(Exception):
                    await conn.disconnect(nowait=True)
                raise BrokerError(f"redis pub/sub: {exc}") from exc
            session = self._session = _Session(conn)
            session.tasks = [
                # A fresh context: these outlive the request that happened to start them, and
                # must not carry its log ids (server.logs).
                asyncio.create_task(
                    self._read(session),
                    name=f"broker-reader-{self.node_id}",
                    context=contextvars.Context(),
                ),
                asyncio.create_task(
                    self._ping(session),
                    name=f"broker-ping-{self.node_id}",
                    context=contextvars.Context(),
                ),
            ]
            for task in session.tasks:
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            if self._renewer is None:  # the node's, not the connection's: it outlives a lost one
                self._renewer = asyncio.create_task(
                    self._renew(),
                    name=f"broker-routes-{self.node_id}",
                    context=contextvars.Context(),
                )
                self._tasks.add(self._renewer)
                self._renewer.add_done_callback(self._tasks.discard)
            # The node's own channel, for what is sent to the channels it listens to.
            session.node_ready = asyncio.get_running_loop().create_future()
            session.pending.setdefault(self._node_channel, deque()).append(session.node_ready)
            try:
                async with session.lock:
                    await session.write("SUBSCRIBE", self._node_channel)
            except BrokerError as exc:
                await self._lose(session, str(exc))
                raise
            return session

    async def _read(self, session: _Session) -> None:
        try:
            while True:
                reply = await session.conn.read_response()
                session.answered = True
                if not isinstance(reply, list) or len(reply) < 3:
                    continue  # PONG outside of a subscription
                kind, channel, data = reply[0], reply[1], reply[2]
                if kind == b"message" and channel == self._node_channel:
                    self._hand_over(session, data)
                elif kind == b"message":
                    await self._dispatch(session, channel, data)
                elif kind == b"subscribe":
                    waiting = session.pending.get(channel)
                    if waiting:
                        ready = waiting.popleft()
                        if not waiting:
                            del session.pending[channel]
                        if not ready.done():
                            ready.set_result(True)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the connection is gone (or unusable): every subscription lags
            await self._lose(session, f"{type(exc).__name__}: {exc}")

    async def _ping(self, session: _Session) -> None:
        while True:
            await asyncio.sleep(self._health_check_s)
            if not session.answered:
                await self._lose(session, f"no reply to PING within {self._health_check_s} s")
                return
            session.answered = False
            try:
                async with session.lock:
                    await session.write("PING")
            except BrokerError as exc:
                await self._lose(session, str(exc))
                return

    async def _dispatch(self, session: _Session, channel: bytes, data: bytes) -> None:
        entry = session.channels.get(channel)
        if entry is None:
            return
        if entry.subscribers:
            event = _event(data)
            for subscriber in list(entry.subscribers):
                if subscriber.feed(event) != "kept":
                    entry.subscribers.discard(subscriber)
        if not entry.used:
            await self._unsubscribe_if_unused(session, channel)

    async def _detach(self, subscription: _RedisSubscription) -> None:
        session = subscription.session
        entry = session.channels.get(subscription.channel)
        if entry is None:
            return
        entry.subscribers.discard(subscription)
        if not entry.used:
            await self._unsubscribe_if_unused(session, subscription.channel)

    # --- the node's channel and the routes to it ----------------------------------------------

    def _hand_over(self, session: _Session, data: bytes) -> None:
        """What came on the node's channel, to its local listeners of the channel named in it."""
        try:
            length, _, rest = data.partition(b":")
            size = int(length)
            channel, payload = rest[:size].decode(), rest[size:]
        except ValueError:
            log.error("unreadable message on this node's channel")
            return
        route = session.routes.get(channel)
        if route is None:  # nobody listens here any more (a route left behind): out of it
            self._route(channel, add=False)
            return
        for listener in list(route.listeners):
            if listener.feed(payload) != "kept":
                route.listeners.remove(listener)
        if not route.listeners:
            self._unroute(session, channel, route)

    def _route(self, channel: str, *, add: bool) -> asyncio.Task[bool]:
        """Add this node to the channel's route (or take it out), after the writes to that route
        started before; whether it was written. Started now, so the order is the callers'."""
        before = self._routing.get(channel)
        task = asyncio.get_running_loop().create_task(
            self._write_route(before, channel, add), context=contextvars.Context()
        )
        self._routing[channel] = task
        task.add_done_callback(functools.partial(self._routed, channel))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _routed(self, channel: str, task: asyncio.Task[bool]) -> None:
        if self._routing.get(channel) is task:
            del self._routing[channel]

    def _unroute_all(self, channels: list[str]) -> asyncio.Task[bool] | None:
        """Take this node out of the routes of ``channels`` (after the writes to each started
        before), in pipelines. Started now, so a write to one of them started after (a listen)
        comes after it."""
        if not channels:
            return None
        before = {task for channel in channels if (task := self._routing.get(channel)) is not None}
        task = asyncio.get_running_loop().create_task(
            self._clear_routes(before, channels), context=contextvars.Context()
        )
        for channel in channels:
            self._routing[channel] = task
        task.add_done_callback(functools.partial(self._routed_all, channels))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _routed_all(self, channels: list[str], task: asyncio.Task[bool]) -> None:
        for channel in channels:
            if self._routing.get(channel) is task:
                del self._routing[channel]

    async def _clear_routes(self, before: set[asyncio.Task[bool]], channels: list[str]) -> bool:
        if before:
            await asyncio.wait(before)
        try:
            for at in range(0, len(channels), ROUTE_BATCH):
                async with self._redis.pipeline(transaction=False) as pipe:
                    for channel in channels[at : at + ROUTE_BATCH]:
                        pipe.srem(self._route_key(channel), self.node_id)
                    await pipe.execute()
        except RedisError as exc:
            log.warning("could not clear this node's routes (%d channels): %s", len(channels), exc)
            return False
        return True

    async def _write_route(
        self, before: asyncio.Task[bool] | None, channel: str, add: bool
    ) -> bool:
        if before is not None:
            await asyncio.wait([before])
        try:
            if add:
                await self._route_add(
                    keys=[self._route_key(channel)], args=[self.node_id, ROUTE_TTL_MS]
                )
            else:
                await self._redis.srem(self._route_key(channel), self.node_id)
        except RedisError as exc:
            log.warning(
                "could not %s the route of channel %s: %s",
                "write" if add else "clear",
                channel,
                exc,
            )
            return False
        return True

    def _unroute(self, session: _Session, channel: str, route: _Route) -> asyncio.Task[bool] | None:
        """The channel's last listener here is gone: this node leaves its route (over the command
        connections, whatever became of the pub/sub one)."""
        if session.routes.get(channel) is not route:
            return None
        del session.routes[channel]
        return self._route(channel, add=False)

    def _route_written(
        self, session: _Session, channel: str, route: _Route, writing: asyncio.Task[bool]
    ) -> None:
        """A route that could not be written is forgotten (the next listener tries again, after
        this node is taken out of it in case it was written after all). Its listeners are all
        still inside ``listen``, which raises."""
        if not writing.cancelled() and writing.result():
            return
        if session.routes.get(channel) is route:
            del session.routes[channel]
            if not self._closed:
                self._route(channel, add=False)

    async def _leave(self, listener: _RedisListener) -> None:
        session = listener.session
        route = session.routes.get(listener.channel)
        if route is None or listener not in route.listeners:
            # Its route was left without it (its connection was lost): closing it returns once
            # that is written, as it would have when it was the last to leave.
            writing = self._routing.get(listener.channel)
            if session.lost and writing is not None:
                await asyncio.wait([writing])
            return
        route.listeners.remove(listener)
        if not route.listeners:
            leaving = self._unroute(session, listener.channel, route)
            if leaving is not None:
                await asyncio.wait([leaving])

    async def _renew(self) -> None:
        """Every ``route_renew_s``, the routes of the channels listened to here are written again:
        a task of its own, so that a slow Redis delays nothing else (the health checks); what goes
        wrong is logged, and tried again at the next turn."""
        while True:
            await asyncio.sleep(self._route_renew_s)
            session = self._session
            if session is None or session.lost or not session.routes:
                continue
            try:
                async with asyncio.timeout(max(self._route_renew_s, 1.0)):
                    await self._renew_routes(session)
            except TimeoutError:
                log.warning(
                    "writing this node's routes again took too long; again at the next turn"
                )
            except Exception:
                log.exception("could not write this node's routes again")

    async def _renew_routes(self, session: _Session) -> None:
        """This node is in the route of every channel listened to here (again, should the route
        have vanished: a FLUSHDB, an eviction), which outlives this by ``ROUTE_TTL_MS``."""
        channels = list(session.routes)
        try:
            for at in range(0, len(channels), ROUTE_BATCH):
                async with self._redis.pipeline(transaction=False) as pipe:
                    for channel in channels[at : at + ROUTE_BATCH]:
                        key = self._route_key(channel)
                        pipe.sadd(key, self.node_id)
                        pipe.pexpire(key, ROUTE_TTL_MS)
                    await pipe.execute()
        except RedisError as exc:
            log.warning("could not write this node's routes again: %s", exc)
        finally:
            if not self._closed:
                # A channel left meanwhile may have been written again after this node left it:
                # it leaves it again (after whatever was started for it since).
                now = self._session
                self._unroute_all(
                    [c for c in channels if now is None or now.lost or c not in now.routes]
                )

    async def _unsubscribe_if_unused(self, session: _Session, channel: bytes) -> None:
        async with session.lock:
            entry = session.channels.get(channel)
            if entry is None or entry.used or session.lost:
                return
            del session.channels[channel]
            try:
                await session.write("UNSUBSCRIBE", channel)
            except BrokerError as exc:
                problem = str(exc)
            else:
                return
        await self._lose(session, problem)

    async def _lose(self, session: _Session, problem: str | None = None) -> None:
        """The connection is gone (``problem``; None: closed): its subscriptions lag, it is
        closed and not used again."""
        if session.lost:
            return
        session.lost = True
        if problem is not None:
            log.warning(
                "Redis pub/sub connection lost (%s): %d subscriptions end as lagged",
                problem,
                sum(len(entry.subscribers) for entry in session.channels.values())
                + sum(len(route.listeners) for route in session.routes.values()),
            )
        if self._session is session:
            self._session = None
        channels, session.channels = session.channels, {}
        for entry in channels.values():
            for subscriber in entry.subscribers:
                subscriber.lag()
        routes, session.routes = session.routes, {}
        # This node leaves their routes (before any listen coming after writes one again): else
        # it would still count as listening once its channel is subscribed again.
        self._unroute_all(list(routes))
        for route in routes.values():
            for listener in route.listeners:
                listener.lag()
        for waiting in session.pending.values():
            for ready in waiting:
                if not ready.done():
                    ready.set_result(False)
        session.pending.clear()
        current = asyncio.current_task()
        others = [task for task in session.tasks if task is not current]
        for task in others:
            task.cancel()
        with contextlib.suppress(Exception):
            await session.conn.disconnect(nowait=True)
        await asyncio.gather(*others, return_exceptions=True)

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
