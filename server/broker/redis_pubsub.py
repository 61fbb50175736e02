"""The Redis broker's one pub/sub connection per node, and the routes of the channels it
listens to: the part of ``RedisBroker`` (``server.broker.redis``) that receives.

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
from collections import deque
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.connection import AbstractConnection
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

from server.broker.base import BrokerError
from server.broker.redis_subscriptions import (
    _event,
    _RedisListener,
    _RedisSubscription,
    _Route,
    _Session,
)

log = logging.getLogger("tandem.broker")

HEALTH_CHECK_S = 10.0  # PING the pub/sub connection this often; no reply by the next one: lost
#: A channel's route outlives the last renewal by its nodes by this long.
ROUTE_TTL_MS = 3_600_000
#: Each node writes the routes of the channels it listens to again this often (membership and
#: expiry: routes lost meanwhile — a FLUSHDB, an eviction — are back within this time).
ROUTE_RENEW_S = 60.0
#: Routes written per pipeline (a renewal, or what a lost connection leaves).
ROUTE_BATCH = 1000


class RedisPubSub:
    """The node's pub/sub connection (a ``_Session``, opened again once lost): its reader and
    PING loop, the streams' channels subscribed on it, the node's own channel and the routes to
    it. A part of ``RedisBroker``, whose ``__init__`` sets what is declared here."""

    prefix: str
    node_id: str
    _redis: aioredis.Redis
    _pubsub_pool: aioredis.ConnectionPool
    _route_add: AsyncScript
    _health_check_s: float
    _route_renew_s: float
    _node_channel: bytes
    _routing: dict[str, asyncio.Task[bool]]
    _session: _Session | None
    _renewer: asyncio.Task[None] | None
    _tasks: set[asyncio.Task[Any]]
    _opening: asyncio.Lock
    _closed: bool

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

    def _route_key(self, channel: str) -> str:
        return f"{self.prefix}route:{channel}"

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
