"""The broker's channels: what is sent to a tab's channel reaches whoever listens there now,
on every backend (in-process and Redis); then what only Redis has: routes between nodes, and
a pub/sub connection to lose, give up or renew on.

The fixtures and helpers shared with the rest of the broker suite come from ``test_broker``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis.asyncio as aioredis

from server.broker import Broker, BrokerError, Listener, Receiver, Subscription, SubscriptionLagged
from server.broker.redis import RedisBroker
from tests.integration.test_broker import (
    broker,
    eventually,
    keys_under,
    kill_pubsub,
    node,
    read_to_the_end,
    redis_prefix,
    take,
)

pytestmark = pytest.mark.anyio

__all__ = ["broker", "redis_prefix"]  # fixtures: imported so that pytest finds them here


# --- channels ------------------------------------------------------------------------


async def listen_for(listener: Listener, count: int) -> list[bytes]:
    received: list[bytes] = []
    async with asyncio.timeout(10):
        async for payload in listener:
            received.append(payload)
            if len(received) == count:
                break
    return received


async def listen_to_the_end(listener: Listener, into: list[bytes]) -> None:
    async with asyncio.timeout(5):
        async for payload in listener:
            into.append(payload)


async def test_a_channel_reaches_whoever_listens_now_and_keeps_nothing(broker: Broker) -> None:
    assert await broker.notify("tab:demo:t1", b"nobody hears this") == 0
    first = await broker.listen("tab:demo:t1")
    second = await broker.listen("tab:demo:t1")
    assert await broker.notify("tab:demo:t1", b"\x00binary:\xff") > 0
    assert await broker.notify("tab:demo:t1", b"two") > 0
    assert await broker.notify("tab:demo:other", b"elsewhere") == 0
    assert await listen_for(first, 2) == [b"\x00binary:\xff", b"two"]
    assert await listen_for(second, 2) == [b"\x00binary:\xff", b"two"]
    # Closing ends the iteration; once nobody listens, nobody hears.
    waiting = asyncio.create_task(anext(aiter(first), None))
    await asyncio.sleep(0.01)
    await first.close()
    assert await asyncio.wait_for(waiting, 5) is None
    await second.close()

    async def unheard() -> bool:
        return await broker.notify("tab:demo:t1", b"late") == 0

    await eventually(unheard)


async def test_a_listener_that_falls_behind_is_told_after_what_it_has(
    broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    import server.broker.memory
    import server.broker.redis_subscriptions

    keeping_up = await broker.listen("tab:demo:slow")
    monkeypatch.setattr(server.broker.memory, "SUBSCRIBER_QUEUE", 3)
    monkeypatch.setattr(server.broker.redis_subscriptions, "SUBSCRIBER_QUEUE", 3)
    slow = await broker.listen("tab:demo:slow")
    for i in range(5):
        await broker.notify("tab:demo:slow", bytes([i]))
    assert len(await listen_for(keeping_up, 5)) == 5
    await keeping_up.close()
    received: list[bytes] = []
    with pytest.raises(SubscriptionLagged):
        await listen_to_the_end(slow, received)
    assert received == [b"\x00", b"\x01", b"\x02"]
    await slow.close()


# --- Redis only: the pub/sub connection lost ---------------------------------------------


async def silenced_subscription(broker: RedisBroker, stream: str) -> Subscription:
    """Subscribe to ``stream``, then make the node's pub/sub connection stop answering."""
    subscription = await broker.subscribe(stream)
    session = broker._session
    assert session is not None

    async def swallowed(*args: object, **kwargs: object) -> None:
        return None  # the PINGs go nowhere, as to a server that stopped answering

    session.conn.send_command = swallowed  # type: ignore[method-assign]
    return subscription


async def test_a_lost_pubsub_connection_ends_subscriptions_as_lagged(
    redis_url: str, redis_prefix: str
) -> None:
    async with node(redis_url, redis_prefix) as a, node(redis_url, redis_prefix) as b:
        subscription = await a.subscribe("sess:cut")
        sent = await b.publish("sess:cut", b"before")
        assert await take(subscription, 1) == [sent]
        async with aioredis.Redis.from_url(redis_url) as admin:
            ids = [
                c["id"]
                for c in await admin.client_list()
                if c["name"] == f"tandem-broker-{a.node_id}"
            ]
            assert len(ids) == 1
            await admin.client_kill_filter(_id=ids[0])
        with pytest.raises(SubscriptionLagged):
            await read_to_the_end(subscription)
        await subscription.close()
        # The caller catches up from history and subscribes again, on a new connection.
        missed = await b.publish("sess:cut", b"while away")
        again = await a.subscribe("sess:cut")
        assert await a.history("sess:cut", epoch=sent.epoch, after_offset=1) == [missed]
        latest = await b.publish("sess:cut", b"after")
        assert await take(again, 1) == [latest]
        await again.close()


async def test_a_pubsub_connection_that_stops_answering_is_given_up(
    redis_url: str, redis_prefix: str
) -> None:
    async with RedisBroker(redis_url, prefix=redis_prefix, health_check_s=0.1) as a:
        subscription = await silenced_subscription(a, "sess:silent")
        with pytest.raises(SubscriptionLagged):
            await read_to_the_end(subscription)
        await subscription.close()
        assert a._session is None


async def test_a_channel_reaches_the_node_that_listens_and_says_when_none_does(
    redis_url: str, redis_prefix: str
) -> None:
    """What one node sends to a tab's channel reaches the node holding that tab; a node that
    is gone (its pub/sub connection closed) no longer counts as listening."""
    async with node(redis_url, redis_prefix) as a, node(redis_url, redis_prefix) as b:
        on_a = await a.listen("tab:demo:x")
        also_on_a = await a.listen("tab:demo:x")  # one connection per node: one receiver
        assert await b.notify("tab:demo:x", b"for the page") == 1
        assert await listen_for(on_a, 1) == [b"for the page"]
        assert await listen_for(also_on_a, 1) == [b"for the page"]
        await on_a.close()
        assert await b.notify("tab:demo:x", b"still heard") == 1
        assert await listen_for(also_on_a, 1) == [b"still heard"]
        await also_on_a.close()

        async def unheard() -> bool:
            return await b.notify("tab:demo:x", b"nobody") == 0

        await eventually(unheard)
        # A node that stops: its channels go with its connection.
        c = node(redis_url, redis_prefix)
        await c.start()
        await c.listen("tab:demo:y")
        assert await b.notify("tab:demo:y", b"here") == 1
        await c.close()

        async def gone() -> bool:
            return await b.notify("tab:demo:y", b"gone") == 0

        await eventually(gone)


async def test_a_lost_pubsub_connection_ends_listeners_as_lagged(
    redis_url: str, redis_prefix: str
) -> None:
    async with node(redis_url, redis_prefix) as a, node(redis_url, redis_prefix) as b:
        listener = await a.listen("tab:demo:cut")
        await b.notify("tab:demo:cut", b"before")
        assert await listen_for(listener, 1) == [b"before"]
        async with aioredis.Redis.from_url(redis_url) as admin:
            ids = [
                c["id"]
                for c in await admin.client_list()
                if c["name"] == f"tandem-broker-{a.node_id}"
            ]
            await admin.client_kill_filter(_id=ids[0])
        with pytest.raises(SubscriptionLagged):
            await listen_to_the_end(listener, [])
        await listener.close()
        again = await a.listen("tab:demo:cut")  # on a new connection
        assert await b.notify("tab:demo:cut", b"after") == 1
        assert await listen_for(again, 1) == [b"after"]
        await again.close()


# --- listeners handing what comes to a receiver (what a node's tabs use) -------------------


class Heard(Receiver):
    """A receiver that keeps what it was handed, and how its listener ended."""

    def __init__(self) -> None:
        self.payloads: list[bytes] = []
        self.ends: list[bool] = []

    def heard(self, payload: bytes) -> None:
        self.payloads.append(payload)

    def ended(self, lagged: bool) -> None:
        self.ends.append(lagged)


async def test_a_receiver_is_handed_what_comes_in_order_and_told_when_the_broker_closes(
    broker: Broker,
) -> None:
    kept, gone = Heard(), Heard()
    await broker.listen("tab:demo:r1", kept)
    leaving = await broker.listen("tab:demo:r2", gone)
    assert await broker.notify("tab:demo:r1", b"one") == 1
    assert await broker.notify("tab:demo:r1", b"two") == 1
    assert await broker.notify("tab:demo:r2", b"only") == 1

    async def handed() -> bool:
        return kept.payloads == [b"one", b"two"] and gone.payloads == [b"only"]

    await eventually(handed)
    await leaving.close()  # its owner closed it: it is told nothing, and nobody listens

    async def unheard() -> bool:
        return await broker.notify("tab:demo:r2", b"late") == 0

    await eventually(unheard)
    await broker.close()
    assert kept.ends == [False] and gone.ends == []
    assert gone.payloads == [b"only"]


async def test_a_node_subscribes_once_however_many_channels_it_listens_to(
    redis_url: str, redis_prefix: str
) -> None:
    """One Redis subscription per node (its own channel), not one per tab: what another node
    sends a channel still reaches only that channel's listeners, and says who heard it."""
    async with node(redis_url, redis_prefix) as a, node(redis_url, redis_prefix) as b:
        receivers = [Heard() for _ in range(40)]
        listeners = [await a.listen(f"tab:demo:t{i}", r) for i, r in enumerate(receivers)]
        async with aioredis.Redis.from_url(redis_url) as admin:
            mine = [
                (c["sub"], c["psub"])
                for c in await admin.client_list()
                if c["name"] == f"tandem-broker-{a.node_id}"
            ]
            assert mine == [("1", "0")]
            assert await admin.pubsub_numsub(f"{redis_prefix}node:{a.node_id}") == [
                (f"{redis_prefix}node:{a.node_id}".encode(), 1)
            ]
            assert await admin.pttl(f"{redis_prefix}route:tab:demo:t0") > 0  # a dead node's go
        for i in range(40):
            assert await b.notify(f"tab:demo:t{i}", b"for %d" % i) == 1
        assert await b.notify("tab:demo:nobody", b"lost") == 0

        async def handed() -> bool:
            return all(r.payloads == [b"for %d" % i] for i, r in enumerate(receivers))

        await eventually(handed)
        for listener in listeners:
            await listener.close()
        for i in range(40):
            assert await b.notify(f"tab:demo:t{i}", b"late") == 0
        assert await keys_under(redis_url, redis_prefix) == []  # no route left behind


async def test_a_lost_pubsub_connection_tells_receivers_they_lagged(
    redis_url: str, redis_prefix: str
) -> None:
    async with node(redis_url, redis_prefix) as a, node(redis_url, redis_prefix) as b:
        first, second = Heard(), Heard()
        await a.listen("tab:demo:c1", first)
        await a.listen("tab:demo:c2", second)
        async with aioredis.Redis.from_url(redis_url) as admin:
            ids = [
                c["id"]
                for c in await admin.client_list()
                if c["name"] == f"tandem-broker-{a.node_id}"
            ]
            await admin.client_kill_filter(_id=ids[0])

        async def lagged() -> bool:
            return first.ends == [True] and second.ends == [True]

        await eventually(lagged)
        # Nobody hears the lost channels any more (their route is cleared on the way).
        assert await b.notify("tab:demo:c1", b"meanwhile") == 0
        again = Heard()
        await a.listen("tab:demo:c1", again)  # on a new connection
        assert await b.notify("tab:demo:c1", b"after") == 1

        async def handed() -> bool:
            return again.payloads == [b"after"]

        await eventually(handed)
        assert first.payloads == [] and second.payloads == []


async def test_routes_that_vanish_while_the_nodes_run_are_written_again(
    redis_url: str, redis_prefix: str
) -> None:
    """A FLUSHDB, or an eviction, takes a route away while its node still listens: the node's
    renewal writes it again, and what is sent to the channel reaches it again."""
    async with (
        RedisBroker(redis_url, prefix=redis_prefix, route_renew_s=0.2) as a,
        node(redis_url, redis_prefix) as b,
    ):
        heard = Heard()
        await a.listen("tab:demo:flushed", heard)
        assert await b.notify("tab:demo:flushed", b"before") == 1
        async with aioredis.Redis.from_url(redis_url) as admin:
            assert await admin.delete(f"{redis_prefix}route:tab:demo:flushed") == 1
        assert await b.notify("tab:demo:flushed", b"lost") == 0

        async def back() -> bool:
            return await b.notify("tab:demo:flushed", b"again") == 1

        await eventually(back)

        async def handed() -> bool:
            return heard.payloads[0] == b"before" and heard.payloads[-1] == b"again"

        await eventually(handed)
        assert b"lost" not in heard.payloads
        assert heard.ends == []


async def test_a_renewal_that_fails_or_hangs_stops_neither_renewals_nor_health_checks(
    redis_url: str, redis_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with (
        RedisBroker(redis_url, prefix=redis_prefix, health_check_s=0.1, route_renew_s=0.1) as a,
        node(redis_url, redis_prefix) as b,
    ):
        renew = a._renew_routes
        turns: list[str] = []

        async def failing_once(session: object) -> None:
            if not turns:
                turns.append("failed")
                raise RuntimeError("a bug in a renewal")
            turns.append("renewed")
            await renew(session)  # type: ignore[arg-type]

        monkeypatch.setattr(a, "_renew_routes", failing_once)
        await a.listen("tab:demo:renewed", Heard())
        async with aioredis.Redis.from_url(redis_url) as admin:
            await admin.delete(f"{redis_prefix}route:tab:demo:renewed")

        async def back() -> bool:
            return await b.notify("tab:demo:renewed", b"x") == 1

        await eventually(back)
        assert turns[0] == "failed"

        # A renewal that never ends: the health checks go on (a silent connection is given up).
        async def hanging(session: object) -> None:
            await asyncio.sleep(3600)

        monkeypatch.setattr(a, "_renew_routes", hanging)
        await asyncio.sleep(0.3)  # a renewal is hanging now
        subscription = await silenced_subscription(a, "sess:silent")
        with pytest.raises(SubscriptionLagged):
            await read_to_the_end(subscription)
        await subscription.close()


async def test_a_channel_left_while_the_connection_was_lost_is_heard_by_nobody_after(
    redis_url: str, redis_prefix: str
) -> None:
    """A node that lost its pub/sub connection leaves the routes of what it listened to on it: a
    tab that then closes instead of listening again is not counted as listening once the node's
    channel is subscribed again (for another tab)."""
    async with node(redis_url, redis_prefix) as a, node(redis_url, redis_prefix) as b:
        first = Heard()
        s1 = await a.listen("tab:demo:s1", first)
        assert await b.notify("tab:demo:s1", b"before") == 1
        await kill_pubsub(redis_url, a)

        async def lagged() -> bool:
            return first.ends == [True]

        await eventually(lagged)
        await s1.close()  # the tab closes
        s2 = await a.listen("tab:demo:s2", Heard())  # another tab: the node's channel is back
        assert await b.notify("tab:demo:s1", b"nobody") == 0
        assert await b.notify("tab:demo:s2", b"somebody") == 1
        await s2.close()
        assert await keys_under(redis_url, redis_prefix) == []


async def test_a_closing_node_leaves_every_route_at_once(redis_url: str, redis_prefix: str) -> None:
    async with node(redis_url, redis_prefix) as b:
        a = node(redis_url, redis_prefix)
        await a.start()
        for i in range(5):
            await a.listen(f"tab:demo:k{i}", Heard())
        assert len(await keys_under(redis_url, redis_prefix)) == 5
        await a.close()
        assert await keys_under(redis_url, redis_prefix) == []
        assert await b.notify("tab:demo:k0", b"gone") == 0


async def test_a_listen_that_fails_raises_and_tells_its_receiver_nothing(
    redis_url: str, redis_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from redis.exceptions import ConnectionError as RedisConnectionError

    async with node(redis_url, redis_prefix) as a, node(redis_url, redis_prefix) as b:
        real = a._route_add

        async def refused(*args: object, **kwargs: object) -> object:
            raise RedisConnectionError("Redis went away")

        monkeypatch.setattr(a, "_route_add", refused)
        heard = Heard()
        with pytest.raises(BrokerError):
            await a.listen("tab:demo:refused", heard)
        await asyncio.sleep(0.05)
        assert heard.ends == []  # told by the exception only
        # The next listen writes the route.
        monkeypatch.setattr(a, "_route_add", real)
        again = Heard()
        await a.listen("tab:demo:refused", again)
        assert await b.notify("tab:demo:refused", b"after") == 1

        # A connection lost while a listen waits for its route: that listen raises, and its
        # receiver is told nothing either.
        written = asyncio.Event()

        async def slow(*args: Any, **kwargs: Any) -> Any:
            await written.wait()
            return await real(*args, **kwargs)

        monkeypatch.setattr(a, "_route_add", slow)
        waiting = Heard()
        listening = asyncio.create_task(a.listen("tab:demo:slow", waiting))
        await asyncio.sleep(0.05)
        await kill_pubsub(redis_url, a)

        async def lost() -> bool:
            return again.ends == [True]

        await eventually(lost)
        written.set()
        with pytest.raises(BrokerError):
            await listening
        assert waiting.ends == []
        assert await b.notify("tab:demo:slow", b"nobody") == 0


class Faulty(Receiver):
    """A receiver with a bug: whatever it is handed, it raises."""

    def heard(self, payload: bytes) -> None:
        raise RuntimeError("a bug in heard")

    def ended(self, lagged: bool) -> None:
        raise RuntimeError("a bug in ended")


async def test_a_receiver_that_raises_harms_neither_the_sender_nor_the_other_listeners(
    broker: Broker,
) -> None:
    faulty, kept = Faulty(), Heard()
    await broker.listen("tab:demo:bug", faulty)
    await broker.listen("tab:demo:bug", kept)
    await broker.listen("tab:demo:bug-also", Faulty())
    assert await broker.notify("tab:demo:bug", b"one") >= 1
    assert await broker.notify("tab:demo:bug", b"two") >= 1

    async def handed() -> bool:
        return kept.payloads == [b"one", b"two"]

    await eventually(handed)
    assert kept.ends == []  # nothing was lost on the way
    await broker.close()
    assert kept.ends == [False]
