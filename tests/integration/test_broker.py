"""The broker suite: one set of tests that every backend must pass (in-process and Redis),
then what only Redis has: several nodes sharing one Redis. The channels (listen/notify,
receivers, routes, a pub/sub connection to lose) are in ``test_broker_channels``.

Each Redis test works under a key prefix of its own (``test-<uuid>:``), deleted afterwards.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import redis.asyncio as aioredis

from server.broker import (
    Broker,
    BrokerError,
    StreamMessage,
    Subscription,
    SubscriptionLagged,
    open_broker,
)
from server.broker.redis import RedisBroker

pytestmark = pytest.mark.anyio


def new_prefix() -> str:
    return f"test-{uuid.uuid4().hex}:"


def with_prefix(redis_url: str, prefix: str) -> str:
    return f"{redis_url}{'&' if '?' in redis_url else '?'}prefix={prefix}"


async def keys_under(redis_url: str, prefix: str) -> list[bytes]:
    pattern = re.sub(r"([*?\[\]\\])", r"\\\1", prefix) + "*"
    async with aioredis.Redis.from_url(redis_url) as client:
        return sorted([key async for key in client.scan_iter(match=pattern, count=1000)])


async def purge(redis_url: str, prefix: str) -> None:
    keys = await keys_under(redis_url, prefix)
    async with aioredis.Redis.from_url(redis_url) as client:
        for i in range(0, len(keys), 500):
            await client.delete(*keys[i : i + 500])


@pytest.fixture(params=["memory", "redis"])
async def broker(request: pytest.FixtureRequest) -> AsyncIterator[Broker]:
    if request.param == "memory":
        async with open_broker("memory://") as b:
            yield b
        return
    redis_url: str = request.getfixturevalue("redis_url")
    prefix = new_prefix()
    try:
        async with open_broker(with_prefix(redis_url, prefix)) as b:
            yield b
    finally:
        await purge(redis_url, prefix)


@pytest.fixture
async def redis_prefix(redis_url: str) -> AsyncIterator[str]:
    """A key prefix of this test's own for RedisBroker "nodes"; nothing is left under it after."""
    prefix = new_prefix()
    try:
        yield prefix
    finally:
        await purge(redis_url, prefix)


async def read_to_the_end(
    subscription: Subscription, into: list[StreamMessage] | None = None
) -> list[StreamMessage]:
    received = [] if into is None else into
    async with asyncio.timeout(5):
        async for message in subscription:
            received.append(message)
    return received


async def take(subscription: Subscription, count: int) -> list[StreamMessage]:
    received: list[StreamMessage] = []
    async with asyncio.timeout(10):
        async for message in subscription:
            received.append(message)
            if len(received) == count:
                break
    return received


async def eventually(check: Callable[[], Awaitable[bool]], *, within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


# --- streams ---------------------------------------------------------------------


async def test_publish_numbers_messages_by_epoch_and_offset(broker: Broker) -> None:
    assert await broker.position("sess:1") == (0, 0)
    first = await broker.publish("sess:1", b"a")
    second = await broker.publish("sess:1", b"b")
    assert first.epoch >= 1 and (first.offset, second.epoch, second.offset) == (1, first.epoch, 2)
    restarted = await broker.publish("sess:1", b"c", new_epoch=True)
    assert (restarted.epoch, restarted.offset) == (first.epoch + 1, 1)
    assert await broker.position("sess:1") == (first.epoch + 1, 1)


async def test_epochs_are_not_reused_by_a_broker_started_again() -> None:
    """A client that kept (epoch, offset) across a restart of an in-process broker must not
    mistake the new stream's messages for the ones it had: epochs start from the clock."""
    from server.broker.memory import MemoryBroker

    before = await MemoryBroker().publish("s", b"a")
    await asyncio.sleep(0.01)
    after = MemoryBroker()
    assert (await after.publish("s", b"b")).epoch > before.epoch
    assert await after.history("s", epoch=before.epoch, after_offset=1) is None


async def test_history_replays_the_gap_or_says_it_is_gone(broker: Broker) -> None:
    epoch = 0
    for i in range(5):
        epoch = (await broker.publish("sess:h", f"m{i}".encode())).epoch
    gap = await broker.history("sess:h", epoch=epoch, after_offset=2)
    assert gap is not None
    assert [m.payload for m in gap] == [b"m2", b"m3", b"m4"]
    assert await broker.history("sess:h", epoch=epoch, after_offset=5) == []
    # More than was ever published: not this stream's history (a restart), so no gap to fill.
    assert await broker.history("sess:h", epoch=epoch, after_offset=9) is None
    assert await broker.history("sess:h", epoch=epoch + 7, after_offset=2) is None


async def test_history_is_capped() -> None:
    from server.broker.memory import MemoryBroker

    broker = MemoryBroker(history=3)
    for i in range(10):
        epoch = (await broker.publish("s", bytes([i]))).epoch
    assert await broker.history("s", epoch=epoch, after_offset=1) is None
    kept = await broker.history("s", epoch=epoch, after_offset=7)
    assert kept is not None
    assert [m.offset for m in kept] == [8, 9, 10]


async def test_subscribers_receive_in_order(broker: Broker) -> None:
    subscription = await broker.subscribe("sess:s")
    received: list[StreamMessage] = []

    async def consume() -> None:
        async for message in subscription:
            received.append(message)
            if len(received) == 3:
                return

    task = asyncio.create_task(consume())
    for payload in (b"1", b"2", b"3"):
        await broker.publish("sess:s", payload)
    await asyncio.wait_for(task, 5)
    assert [m.payload for m in received] == [b"1", b"2", b"3"]
    await subscription.close()


async def test_closing_a_subscription_ends_its_iteration(broker: Broker) -> None:
    subscription = await broker.subscribe("sess:c")
    task = asyncio.create_task(anext(aiter(subscription), None))
    await asyncio.sleep(0.01)
    await subscription.close()
    assert await asyncio.wait_for(task, 5) is None


async def test_snapshot_slot_keeps_the_position(broker: Broker) -> None:
    await broker.publish("sess:snap", b"x")
    epoch = (await broker.publish("sess:snap", b"y")).epoch
    await broker.set_snapshot("sess:snap", b"full-dom")
    snap = await broker.snapshot("sess:snap")
    assert snap == StreamMessage(epoch, 2, b"full-dom")
    await broker.publish("sess:snap", b"z", new_epoch=True)
    assert await broker.snapshot("sess:snap") is None  # a new epoch needs a new snapshot


# --- compare-and-set state -------------------------------------------------------------


async def test_compare_and_set(broker: Broker) -> None:
    assert await broker.get("step:run1") is None
    v1 = await broker.compare_and_set("step:run1", b"step-1", expected_version=0)
    assert v1 is not None
    assert await broker.compare_and_set("step:run1", b"other", expected_version=0) is None
    v2 = await broker.compare_and_set("step:run1", b"step-2", expected_version=v1)
    assert v2 is not None and v2 > v1
    assert await broker.compare_and_set("step:run1", b"stale", expected_version=v1) is None
    current = await broker.get("step:run1")
    assert current is not None and current.value == b"step-2"
    assert not await broker.delete("step:run1", expected_version=v1)
    assert await broker.delete("step:run1", expected_version=v2)
    assert await broker.get("step:run1") is None


async def test_state_expires(broker: Broker) -> None:
    await broker.compare_and_set("ctl:1", b"agent-1", expected_version=0, ttl_ms=100)

    async def gone() -> bool:
        return await broker.get("ctl:1") is None

    await eventually(gone)
    assert await broker.compare_and_set("ctl:1", b"agent-2", expected_version=0) is not None


async def test_connections_of_a_tab_get_ever_higher_numbers_even_at_once(broker: Broker) -> None:
    """What decides which of two connections of a tab is the newer (server/live.py): the broker's
    numbers, unique and growing, whichever node asks and whatever its clock says."""
    from server.live import LiveTabs

    live = LiveTabs(broker)
    first = await live.number("demo", "t-1")
    together = await asyncio.gather(*(live.number("demo", "t-1") for _ in range(10)))
    assert len(set(together)) == 10 and min(together) > first
    await broker.delete("tabseq:demo:t-1")  # gone (or expired): the numbers still grow
    assert await live.number("demo", "t-1") > max(together)


async def test_memory_state_that_expired_unread_is_not_kept_for_ever() -> None:
    """A key per tab ever seen (the numbers of its connections) must not pile up in a server
    that runs for months on the in-process broker."""
    from server.broker.memory import SWEEP_EVERY, MemoryBroker

    now = [0]
    broker = MemoryBroker(clock=lambda: now[0])
    for i in range(SWEEP_EVERY - 2):
        await broker.compare_and_set(f"tabseq:demo:t-{i}", b"", expected_version=0, ttl_ms=100)
    await broker.compare_and_set("kept", b"", expected_version=0)
    assert len(broker._state) == SWEEP_EVERY - 1
    now[0] = 200
    await broker.compare_and_set("fresh", b"", expected_version=0, ttl_ms=100)  # the sweep's turn
    assert set(broker._state) == {"kept", "fresh"}


# --- leases ------------------------------------------------------------------------------


async def test_lease_has_one_holder_until_released_or_expired(broker: Broker) -> None:
    assert await broker.acquire("queue:42", "node-a", 10_000)
    assert not await broker.acquire("queue:42", "node-b", 10_000)
    assert await broker.acquire("queue:42", "node-a", 10_000)  # renewal by the holder
    assert await broker.holder("queue:42") == "node-a"
    assert not await broker.release("queue:42", "node-b")
    assert await broker.release("queue:42", "node-a")
    assert await broker.acquire("queue:42", "node-b", 100)

    async def expired() -> bool:
        return await broker.holder("queue:42") is None

    await eventually(expired)
    assert await broker.acquire("queue:42", "node-c", 10_000)


# --- presence -------------------------------------------------------------------------------


async def test_presence_lists_live_members(broker: Broker) -> None:
    await broker.presence_touch("tabs:demo:u1", "tab-a", b"A", 10_000)
    await broker.presence_touch("tabs:demo:u1", "tab-b", b"B", 10_000)
    await broker.presence_touch("tabs:demo:u1", "tab-a", b"A2", 10_000)
    assert await broker.presence("tabs:demo:u1") == {"tab-a": b"A2", "tab-b": b"B"}
    await broker.presence_leave("tabs:demo:u1", "tab-b")
    assert await broker.presence("tabs:demo:u1") == {"tab-a": b"A2"}
    assert await broker.presence("tabs:demo:nobody") == {}


async def test_presence_member_is_refreshed_and_left_by_its_holder_only(broker: Broker) -> None:
    group = "tabs:demo:owners"
    assert await broker.presence_touch(group, "tab-a", b"old", 10_000, owner="conn-1", take=True)
    assert await broker.presence_touch(group, "tab-a", b"new", 10_000, owner="conn-2", take=True)
    # The older holder can neither overwrite nor remove what the newer one holds.
    assert not await broker.presence_touch(
        group, "tab-a", b"stale", 10_000, owner="conn-1", take=False
    )
    assert not await broker.presence_leave(group, "tab-a", owner="conn-1")
    assert await broker.presence(group) == {"tab-a": b"new"}
    assert await broker.presence_touch(group, "tab-a", b"new2", 10_000, owner="conn-2", take=False)
    assert await broker.presence(group) == {"tab-a": b"new2"}
    assert await broker.presence_leave(group, "tab-a", owner="conn-2")
    assert await broker.presence(group) == {}
    # A member nobody holds any more may be written by anyone.
    assert await broker.presence_touch(group, "tab-a", b"back", 10_000, owner="conn-1", take=False)
    assert await broker.presence_leave(group, "tab-a")  # without an owner: whoever holds it
    assert not await broker.presence_leave(group, "tab-a")


async def test_presence_expires_without_touches(broker: Broker) -> None:
    await broker.presence_touch("tabs:demo:u2", "tab-a", b"A", 100)
    await broker.presence_touch("tabs:demo:u2", "tab-b", b"B", 10_000)

    async def only_b() -> bool:
        return set(await broker.presence("tabs:demo:u2")) == {"tab-b"}

    await eventually(only_b)


async def test_memory_presence_forgets_a_group_once_its_last_member_expired() -> None:
    from server.broker.memory import MemoryBroker

    now = [0]
    broker = MemoryBroker(clock=lambda: now[0])
    await broker.presence_touch("tabs:demo:gone", "tab-a", b"A", 100)
    await broker.presence_touch("tabs:demo:gone", "tab-b", b"B", 200)
    await broker.presence_touch("tabs:demo:stays", "tab-c", b"C", 10_000)
    now[0] = 150
    assert await broker.presence("tabs:demo:gone") == {"tab-b": b"B"}
    now[0] = 250
    assert await broker.presence("tabs:demo:gone") == {}
    assert await broker.presence("tabs:demo:stays") == {"tab-c": b"C"}
    # Nothing is kept for the empty group: a visitor who left costs no memory.
    assert set(broker._presence) == {"tabs:demo:stays"}
    await broker.presence_leave("tabs:demo:stays", "tab-c")
    assert broker._presence == {}


async def test_a_dropped_stream_is_forgotten(broker: Broker) -> None:
    await broker.publish("sess:gone", b"page")
    await broker.set_snapshot("sess:gone", b"full-dom")
    await broker.drop_stream("sess:gone")
    assert await broker.position("sess:gone") == (0, 0)
    assert await broker.snapshot("sess:gone") is None
    await broker.drop_stream("sess:never")  # nothing to drop: fine


async def test_a_subscriber_that_falls_behind_is_told_after_what_it_has(
    broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    import server.broker.memory
    import server.broker.redis_subscriptions

    keeping_up = await broker.subscribe("sess:slow")  # with the usual queue
    monkeypatch.setattr(server.broker.memory, "SUBSCRIBER_QUEUE", 3)
    monkeypatch.setattr(server.broker.redis_subscriptions, "SUBSCRIBER_QUEUE", 3)
    subscription = await broker.subscribe("sess:slow")
    for i in range(5):
        await broker.publish("sess:slow", bytes([i]))
    # Both are handed each message together: once one has all five, the other had its chance.
    assert len(await take(keeping_up, 5)) == 5
    await keeping_up.close()
    received: list[StreamMessage] = []
    with pytest.raises(SubscriptionLagged):
        await read_to_the_end(subscription, received)
    assert [m.payload for m in received] == [b"\x00", b"\x01", b"\x02"]
    await subscription.close()


# --- Redis only: several nodes on one Redis ------------------------------------------------


def node(redis_url: str, prefix: str) -> RedisBroker:
    return RedisBroker(redis_url, prefix=prefix)


def test_the_url_selects_redis_and_its_prefix() -> None:
    chosen = open_broker("redis://127.0.0.1:6379/0?prefix=site-a:")
    assert isinstance(chosen, RedisBroker) and chosen.prefix == "site-a:"
    plain = open_broker("redis://127.0.0.1:6379/0")
    assert isinstance(plain, RedisBroker) and plain.prefix == "tandem:"
    with pytest.raises(BrokerError, match="redis://"):
        open_broker("kafka://somewhere")


async def test_an_unreachable_redis_is_a_broker_error() -> None:
    with pytest.raises(BrokerError):
        async with open_broker("redis://127.0.0.1:1/0?socket_connect_timeout=2"):
            pass


async def test_nodes_see_each_others_publishes_in_one_order(
    redis_url: str, redis_prefix: str
) -> None:
    async with node(redis_url, redis_prefix) as a, node(redis_url, redis_prefix) as b:
        on_a = await a.subscribe("sess:shared")
        on_b = await b.subscribe("sess:shared")
        reading = [asyncio.create_task(take(s, 60)) for s in (on_a, on_b)]

        async def publish(broker: Broker, name: str) -> None:
            for i in range(30):
                await broker.publish("sess:shared", f"{name}{i}".encode())

        await asyncio.gather(publish(a, "a"), publish(b, "b"))
        seen_on_a, seen_on_b = await asyncio.gather(*reading)
        assert seen_on_a == seen_on_b
        assert [m.offset for m in seen_on_a] == list(range(1, 61))
        assert len({m.epoch for m in seen_on_a}) == 1
        # Each node's own messages keep the order it published them in.
        from_a = [m.payload for m in seen_on_a if m.payload.startswith(b"a")]
        assert from_a == [f"a{i}".encode() for i in range(30)]
        assert await a.position("sess:shared") == await b.position("sess:shared")
        gap = await b.history("sess:shared", epoch=seen_on_a[0].epoch, after_offset=58)
        assert gap == seen_on_a[58:]
        await on_a.close()
        await on_b.close()


async def test_a_subscriber_on_one_node_receives_what_another_publishes(
    redis_url: str, redis_prefix: str
) -> None:
    async with node(redis_url, redis_prefix) as a, node(redis_url, redis_prefix) as b:
        subscription = await a.subscribe("sess:x")
        sent = await b.publish("sess:x", b"\x00binary:\xff")
        assert await take(subscription, 1) == [sent]
        await subscription.close()


async def test_a_new_subscriber_starts_where_the_stream_is_without_gaps(
    redis_url: str, redis_prefix: str
) -> None:
    """Subscribing while another node publishes: from its first message on, nothing is missed
    and nothing published before it subscribed arrives."""
    async with node(redis_url, redis_prefix) as a, node(redis_url, redis_prefix) as b:
        first = await a.subscribe("sess:busy")  # the channel is already subscribed on node a
        all_of_it = asyncio.create_task(take(first, 300))

        async def publish() -> None:
            for i in range(300):
                await b.publish("sess:busy", str(i).encode())
                if i % 10 == 0:
                    await asyncio.sleep(0)

        publishing = asyncio.create_task(publish())

        async def under_way() -> bool:
            return (await a.position("sess:busy"))[1] >= 50

        await eventually(under_way)
        late = await a.subscribe("sess:busy")
        _, start = await a.position("sess:busy")
        assert start < 300, "publishing ended too soon: the test shows nothing"
        await publishing
        received: list[StreamMessage] = []
        async with asyncio.timeout(10):
            async for message in late:
                received.append(message)
                if message.offset == 300:
                    break
        offsets = [m.offset for m in received]
        # It started at most where the position was just after subscribing, and has no gap.
        assert offsets == list(range(offsets[0], 301))
        assert 1 < offsets[0] <= start + 1
        assert [m.offset for m in await all_of_it] == list(range(1, 301))
        await first.close()
        await late.close()


async def test_nodes_share_state_and_leases(redis_url: str, redis_prefix: str) -> None:
    async with node(redis_url, redis_prefix) as a, node(redis_url, redis_prefix) as b:
        v1 = await a.compare_and_set("ctl:1", b"agent-1", expected_version=0)
        assert v1 is not None
        assert await b.get("ctl:1") == await a.get("ctl:1")
        assert await b.compare_and_set("ctl:1", b"agent-2", expected_version=0) is None
        v2 = await b.compare_and_set("ctl:1", b"agent-2", expected_version=v1)
        assert v2 is not None and v2 > v1
        assert await a.compare_and_set("ctl:1", b"stale", expected_version=v1) is None
        assert await a.delete("ctl:1", expected_version=v2)
        v3 = await b.compare_and_set("ctl:1", b"again", expected_version=0)
        assert v3 is not None and v3 > v2  # versions keep growing across deletes

        assert await a.acquire("queue:1", "node-a", 10_000)
        assert not await b.acquire("queue:1", "node-b", 10_000)
        assert await b.holder("queue:1") == "node-a"
        assert not await b.release("queue:1", "node-b")
        assert await a.release("queue:1", "node-a")
        assert await b.acquire("queue:1", "node-b", 10_000)

        assert await a.presence_touch("tabs:u", "tab-1", b"A", 10_000, owner="conn-a")
        assert not await b.presence_touch("tabs:u", "tab-1", b"B", 10_000, owner="b", take=False)
        assert await b.presence("tabs:u") == {"tab-1": b"A"}


async def test_epochs_are_not_reused_by_a_new_redis_broker(
    redis_url: str, redis_prefix: str
) -> None:
    async with node(redis_url, redis_prefix) as first:
        before = await first.publish("sess:e", b"a")
    async with node(redis_url, redis_prefix) as again:
        # The stream outlived the broker: it goes on, and a new epoch is a later one.
        assert await again.position("sess:e") == (before.epoch, 1)
        restarted = await again.publish("sess:e", b"b", new_epoch=True)
        assert restarted.epoch == before.epoch + 1
        assert await again.history("sess:e", epoch=before.epoch, after_offset=1) is None
        # Dropped and started over: the epoch comes from the clock, still later.
        await again.drop_stream("sess:e")
        await asyncio.sleep(0.01)
        fresh = await again.publish("sess:e", b"c")
        assert fresh.epoch > restarted.epoch and fresh.offset == 1


async def test_redis_history_is_capped(redis_url: str, redis_prefix: str) -> None:
    async with RedisBroker(redis_url, prefix=redis_prefix, history=3) as broker:
        for i in range(10):
            epoch = (await broker.publish("s", bytes([i]))).epoch
        assert await broker.history("s", epoch=epoch, after_offset=1) is None
        kept = await broker.history("s", epoch=epoch, after_offset=7)
        assert kept is not None
        assert [m.offset for m in kept] == [8, 9, 10]


async def test_a_stream_dropped_on_one_node_ends_subscriptions_on_every_node(
    redis_url: str, redis_prefix: str
) -> None:
    async with node(redis_url, redis_prefix) as a, node(redis_url, redis_prefix) as b:
        on_a = await a.subscribe("sess:end")
        on_b = await b.subscribe("sess:end")
        await a.publish("sess:end", b"page")
        await b.drop_stream("sess:end")
        for subscription in (on_a, on_b):
            assert [m.payload for m in await read_to_the_end(subscription)] == [b"page"]
        # A subscription started after the drop is not ended by it.
        after = await a.subscribe("sess:end")
        sent = await b.publish("sess:end", b"new")
        assert await take(after, 1) == [sent]
        await after.close()


async def test_nothing_is_left_under_the_prefix(redis_url: str, redis_prefix: str) -> None:
    async with node(redis_url, redis_prefix) as broker:
        async with await broker.subscribe("sess:tidy"):
            await broker.publish("sess:tidy", b"a")
            await broker.publish("sess:tidy", b"b", new_epoch=True)
            await broker.set_snapshot("sess:tidy", b"full")
        await broker.presence_touch("watchers:tidy", "agent@x", b"Agent", 10_000, owner="c1")
        await broker.presence_touch("watchers:tidy", "agent@y", b"Other", 10_000, owner="c2")
        await broker.acquire("grant:tidy", "node-a", 10_000)
        assert await keys_under(redis_url, redis_prefix)
        await broker.drop_stream("sess:tidy")
        await broker.presence_leave("watchers:tidy", "agent@x", owner="c1")
        await broker.presence_leave("watchers:tidy", "agent@y")
        await broker.release("grant:tidy", "node-a")
        assert await keys_under(redis_url, redis_prefix) == []
        # State keeps one counter for every key's versions, and nothing per deleted key.
        version = await broker.compare_and_set("step:tidy", b"1", expected_version=0)
        assert await broker.delete("step:tidy", expected_version=version)
        assert await keys_under(redis_url, redis_prefix) == [
            f"{redis_prefix}state-version".encode()
        ]


async def test_presence_of_an_abandoned_group_expires_in_redis(
    redis_url: str, redis_prefix: str
) -> None:
    async with node(redis_url, redis_prefix) as broker:
        await broker.presence_touch("tabs:gone", "tab-a", b"A", 100)
        await broker.presence_touch("tabs:gone", "tab-b", b"B", 200)

        async def nothing_left() -> bool:  # without anyone reading the group again
            return await keys_under(redis_url, redis_prefix) == []

        await eventually(nothing_left)


async def kill_pubsub(redis_url: str, broker: RedisBroker) -> None:
    """Close the node's pub/sub connection from the Redis side (as a network cut does)."""
    async with aioredis.Redis.from_url(redis_url) as admin:
        ids = [
            c["id"]
            for c in await admin.client_list()
            if c["name"] == f"tandem-broker-{broker.node_id}"
        ]
        assert len(ids) == 1
        await admin.client_kill_filter(_id=ids[0])
