"""Messages for a page while its connection is still saying hello (server/web/delivery.py).

What is delivered to a tab's connection before its ``welcome`` went out waits for it (the page
drops anything that comes first); a hello cut short while the tab starts listening to its broker
channel leaves no listener behind. The first runs on each store with the in-process broker; the
second on Redis (the in-process broker's ``listen`` and ``notify`` never wait, so there is nothing
to cut short there), skipped when Redis is unreachable except under ``CI=true``.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from server.protocol.messages import ChatLine, Hello, TokenIdentity, Welcome
from server.protocol.rules import Phase
from server.protocol.tabmail import channel_of
from server.settings import Settings
from server.web import delivery
from tests.integration.live_server import (
    ADMIN_TOKEN,
    LiveServer,
    content_dir,
    demo_token,
    live_server,
    tab_client,
)
from tests.integration.test_broker import eventually, new_prefix, purge, with_prefix

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
