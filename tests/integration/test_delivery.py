"""Messages for a page while its connection is still saying hello (server/web/delivery.py).

What is delivered to a tab's connection before its ``welcome`` went out waits for it (the page
drops anything that comes first); a hello cut short while the tab starts listening to its broker
channel leaves no listener behind. The first runs on each store with the in-process broker; the
second on Redis (the in-process broker's ``listen`` and ``notify`` never wait, so there is nothing
to cut short there), skipped when Redis is unreachable except under ``CI=true``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from server.broker import Listener, Receiver
from server.broker.redis import RedisBroker
from server.protocol import encode
from server.protocol.messages import ChatLine, Hello, TokenIdentity, Welcome
from server.protocol.rules import Phase
from server.protocol.tabmail import Send, channel_of, encode_mail
from server.settings import Settings
from server.web import delivery
from server.web.tab_socket import TabConnection
from tests.integration.live_server import (
    ADMIN_TOKEN,
    LiveServer,
    TabClient,
    content_dir,
    demo_token,
    live_server,
    tab_client,
)
from tests.integration.test_broker import eventually, kill_pubsub, new_prefix, purge, with_prefix

pytestmark = pytest.mark.anyio
#: Generous: a busy two-CPU machine.
WITHIN = 30.0


async def turns_until(done: Callable[[], bool]) -> int:
    """Let the event loop turn (others run) until ``done()``; how many turns that took."""
    for turns in itertools.count():
        if done():
            return turns
        await asyncio.sleep(0)
    raise AssertionError("unreachable")


async def test_what_is_delivered_to_a_page_before_its_welcome_reaches_it_after(
    server: LiveServer,
) -> None:
    """The tab's connection is this node's as soon as its hello is taken (an agent's line may be
    sent to it then), but the page hears nothing before ``welcome``."""
    state = server.state
    key = ("demo", "tab-early")
    line = ChatLine(session="s-early", sender="agent", name="Ada", text="early", at=1)

    async def deliver_as_soon_as_the_tab_is_here() -> tuple[bool, bool]:
        await turns_until(lambda: key in state.tabs)
        before_welcome = state.tabs[key].phase is Phase.AWAITING_HELLO
        return before_welcome, await delivery.to_tab(
            state, "demo", "tab-early", line, user="u-early"
        )

    async with tab_client(server) as tab:
        racing = asyncio.create_task(deliver_as_soon_as_the_tab_is_here())
        identity = TokenIdentity(user="u-early", token=demo_token("u-early"))
        await tab.send(Hello(v=1, site="demo", tab="tab-early", identity=identity))
        before_welcome, delivered = await asyncio.wait_for(racing, WITHIN)
        assert before_welcome, "the line was not sent before the welcome: the test shows nothing"
        assert delivered
        assert isinstance(await tab.recv(within=WITHIN), Welcome)
        assert await tab.recv_until(ChatLine, within=WITHIN) == line


@pytest.fixture
async def on_redis(redis_url: str, tmp_path: Path) -> AsyncIterator[LiveServer]:
    """A server on SQLite and Redis (a key prefix of its own, removed afterwards)."""
    prefix = new_prefix()
    settings = Settings(
        store_url=f"sqlite:///{tmp_path / 'tandem.db'}", broker_url=with_prefix(redis_url, prefix),
        content_dir=content_dir(tmp_path), admin_token=ADMIN_TOKEN,
    )  # fmt: skip
    try:
        async with live_server(settings) as server:
            yield server
    finally:
        await purge(redis_url, prefix)


#: At most this many points of a hello are tried (one event-loop turn apart).
CUT_POINTS_AT_MOST = 400


async def test_a_hello_cut_short_while_the_tab_starts_listening_leaves_no_listener(
    on_redis: LiveServer,
) -> None:
    """A hello cancelled anywhere (here: its connection taken by a newer one on this node, at every
    turn of the event loop in turn) closes the channel listener it opened: none is left behind to
    count as the tab's node in the broker."""
    state = on_redis.state
    # How many turns of the event loop a whole hello takes here, from the moment its connection
    # holds the tab to its welcome: every one of them is a point to cut it short at.
    async with tab_client(on_redis) as tab:
        await tab.send(Hello(v=1, site="demo", tab="tab-measured"))
        await turns_until(lambda: ("demo", "tab-measured") in state.tabs)
        conn = state.tabs[("demo", "tab-measured")]
        turns = await turns_until(lambda: conn.phase is Phase.OPEN)
    cut: list[str] = []
    for point in range(min(turns + 5, CUT_POINTS_AT_MOST)):
        tab_id = f"tab-cut-{point}"
        async with tab_client(on_redis) as tab:
            await tab.send(Hello(v=1, site="demo", tab=tab_id))
            await turns_until(lambda: ("demo", tab_id) in state.tabs)  # noqa: B023
            conn = state.tabs[("demo", tab_id)]
            for _ in range(point):
                await asyncio.sleep(0)
            conn.take()  # what a newer connection of the tab on this node does
            await tab.closed(within=WITHIN)
        cut.append(tab_id)

    async def nobody_listens() -> bool:
        heard = [await state.broker.notify(channel_of("demo", t), b"") for t in cut]
        return not any(heard)

    await eventually(nobody_listens, within=WITHIN)


async def welcomed_tab(server: LiveServer, tab: TabClient, tab_id: str, user: str) -> TabConnection:
    """Say hello as ``user`` on ``tab``; the tab's connection on the server, once reported live."""
    identity = TokenIdentity(user=user, token=demo_token(user))
    await tab.send(Hello(v=1, site="demo", tab=tab_id, identity=identity))
    assert isinstance(await tab.recv(within=WITHIN), Welcome)
    conn: TabConnection = server.state.tabs[("demo", tab_id)]

    async def live() -> bool:
        return conn.live_user == user and conn.mailbox is not None

    await eventually(live, within=WITHIN)
    return conn


def chat(text: str, user: str) -> bytes:
    line = ChatLine(session="s-mail", sender="agent", name="Ada", text=text, at=1)
    return encode_mail(Send(frame=encode(line), user=user))


async def test_a_lost_channel_is_listened_to_again_before_the_old_listener_closes(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Never a moment with nobody listening to the tab's channel (what is sent then — an
    erasure's close — would reach nobody): the new listener first, then the old one closes."""
    state = server.state
    async with tab_client(server) as tab:
        conn = await welcomed_tab(server, tab, "tab-again", "u-again")
        old = conn.mailbox
        assert old is not None
        steps: list[str] = []
        listen, close = state.broker.listen, type(old).close

        async def listening(channel: str, receiver: Receiver | None = None) -> Listener:
            steps.append("listen")
            return await listen(channel, receiver)

        async def closing(self: Listener) -> None:
            if self is old:
                steps.append("close")
            await close(self)

        monkeypatch.setattr(state.broker, "listen", listening)
        monkeypatch.setattr(type(old), "close", closing)
        conn.ended(lagged=True)  # what the broker does when the channel is lost

        async def again() -> bool:
            return conn.courier is None and steps == ["listen", "close"]

        await eventually(again, within=WITHIN)
        assert conn.mailbox is not old and not conn.lagging
        # One listener, the new one: the page hears what is sent once.
        assert (
            await state.broker.notify(channel_of("demo", "tab-again"), chat("hi", "u-again")) == 1
        )
        assert (await tab.recv_until(ChatLine, within=WITHIN)).text == "hi"


async def test_a_failed_try_to_listen_again_is_not_taken_for_a_channel_lost_again(
    on_redis: LiveServer, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A listen that fails raises (the tab tries again); it does not also tell the tab that its
    channel was lost, which would make the tab drop the listener it got on the next try."""
    from redis.exceptions import ConnectionError as RedisConnectionError

    state = on_redis.state
    broker = state.broker
    assert isinstance(broker, RedisBroker)
    async with tab_client(on_redis) as tab:
        conn = await welcomed_tab(on_redis, tab, "tab-retry", "u-retry")
        listens: list[str] = []
        listen, route_add = broker.listen, broker._route_add

        channel = channel_of("demo", "tab-retry")
        failed: list[str] = []

        async def counting(to: str, receiver: Receiver | None = None) -> Listener:
            if to == channel:
                listens.append(to)
            return await listen(to, receiver)

        async def failing_once(*args: Any, **kwargs: Any) -> Any:
            if not failed and kwargs["keys"][0].endswith(channel):
                failed.append(channel)
                raise RedisConnectionError("Redis went away for a moment")
            return await route_add(*args, **kwargs)

        monkeypatch.setattr(broker, "listen", counting)
        monkeypatch.setattr(broker, "_route_add", failing_once)
        await kill_pubsub(redis_url, broker)

        async def back() -> bool:
            return len(listens) >= 2 and conn.courier is None

        await eventually(back, within=WITHIN)
        for _ in range(20):
            await asyncio.sleep(0.01)
        assert failed and len(listens) == 2 and not conn.lagging and conn.courier is None
        assert await broker.notify(channel, chat("back", "u-retry")) == 1
        assert (await tab.recv_until(ChatLine, within=WITHIN)).text == "back"


async def test_a_tab_left_while_listening_again_leaves_no_listener_nor_live_entry(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page goes away while its tab listens to its channel again, and the listen swallows the
    cancel its connection's end sent (``asyncio.wait_for`` may, on Python 3.11): the end waits
    for it, and it neither keeps listening nor reports the tab live once the tab was left."""
    state = server.state
    listen = state.broker.listen
    entered, returned = asyncio.Event(), asyncio.Event()

    async def swallowing(channel: str, receiver: Receiver | None = None) -> Listener:
        entered.set()
        with contextlib.suppress(asyncio.CancelledError):  # swallowed
            await asyncio.sleep(0.5)
        try:
            return await listen(channel, receiver)
        finally:
            returned.set()

    async with tab_client(server) as tab:
        conn = await welcomed_tab(server, tab, "tab-left", "u-left")
        monkeypatch.setattr(state.broker, "listen", swallowing)
        conn.ended(lagged=True)
        await asyncio.wait_for(entered.wait(), WITHIN)
    await asyncio.wait_for(returned.wait(), WITHIN)

    async def left() -> bool:
        courier = conn.courier
        return conn not in state.connections and (courier is None or courier.done())

    await eventually(left, within=WITHIN)
    for _ in range(20):
        await asyncio.sleep(0.01)
    assert await state.broker.notify(channel_of("demo", "tab-left"), chat("late", "u-left")) == 0
    assert [t.tab for t in await state.live.tabs("demo", "u-left")] == []
