"""The broker suite: one set of tests that every backend must pass (in-process now; Redis later)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from server.broker import Broker, StreamMessage, open_broker

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["memory"])
async def broker(request: pytest.FixtureRequest) -> AsyncIterator[Broker]:
    async with open_broker(f"{request.param}://") as b:
        yield b


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
