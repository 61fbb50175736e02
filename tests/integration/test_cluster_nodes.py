"""Server nodes on one Redis and one PostgreSQL, in this process: what one node does reaches
the tabs on another (help pushed, erasure, a newer connection of a tab, what an author
publishes or an admin changes), whatever the nodes' clocks say; and a node that loses Redis for
a moment goes on. The process-level test (a node killed with SIGKILL) is ``test_cluster.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx2
import pytest

from server.console.passwords import hash_password
from server.protocol.messages import (
    Ack,
    ChatLine,
    Hello,
    HelpAnswer,
    Launcher,
    Location,
    Offers,
    TokenIdentity,
    Welcome,
)
from server.settings import Settings
from server.store.base import AccountRecord
from server.web.tab_socket import TAB_TAKEN
from tests.integration.live_server import (
    ADMIN_TOKEN,
    DEMO_ORIGIN,
    LiveServer,
    TabClient,
    content_dir,
    demo_token,
    live_server,
    tab_client,
)
from tests.integration.test_broker import eventually
from tests.integration.test_cluster import (
    WITHIN,
    Cluster,
    cluster,
)
from tests.integration.test_console import PASSWORD, csrf_of, sign_in

__all__ = ["cluster"]  # the fixture, for pytest

pytestmark = pytest.mark.anyio


@contextlib.asynccontextmanager
async def two_nodes(cluster: Cluster) -> AsyncIterator[tuple[LiveServer, LiveServer]]:
    settings = Settings(
        store_url=cluster.store_url, broker_url=cluster.broker_url, secret="cluster-test-secret",
        content_dir=content_dir(cluster.tmp), admin_token=ADMIN_TOKEN,
    )  # fmt: skip
    async with live_server(settings) as a, live_server(settings) as b:
        yield a, b


async def greet(tab: TabClient, user: str, tab_id: str) -> None:
    identity = TokenIdentity(user=user, token=demo_token(user))
    await tab.send(Hello(v=1, site="demo", tab=tab_id, identity=identity))
    await tab.recv_until(Welcome, within=WITHIN)


async def test_the_api_of_one_node_pushes_help_to_a_tab_on_another(cluster: Cluster) -> None:
    async with two_nodes(cluster) as (a, b), tab_client(a) as tab:
        await greet(tab, "u-pushed", "tab-pushed")
        await tab.send(Location(cseq=1, at=1, url=f"{DEMO_ORIGIN}/team"))
        await tab.recv_until(Ack, within=WITHIN)
        async with httpx2.AsyncClient(
            base_url=b.url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
        ) as http:
            answered = await http.post(
                "/api/sites/demo/help", json={"user_id": "u-pushed", "question": "invite"}
            )
        assert answered.status_code == 200
        assert answered.json()["delivered_to"] == "tab-pushed"
        pushed = await tab.recv_until(HelpAnswer, within=WITHIN)
        assert pushed.session == answered.json()["session"]


async def test_erasing_a_visitor_on_one_node_closes_their_tabs_on_another(
    cluster: Cluster,
) -> None:
    async with two_nodes(cluster) as (a, b), tab_client(a) as tab:
        await greet(tab, "u-erased", "tab-erased")
        async with httpx2.AsyncClient(
            base_url=b.url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
        ) as http:
            assert (await http.delete("/api/users/demo/u-erased")).status_code == 200
        code, reason = await tab.closed(within=WITHIN)
        assert (code, reason.split(":")[0]) == (1008, "erased")
        assert await b.state.live.tabs("demo", "u-erased") == []


async def test_a_tab_that_connects_to_another_node_closes_its_older_connection_at_once(
    cluster: Cluster,
) -> None:
    """Told through the tab's channel, not only when the older connection next reports the tab
    (every 15 s): the deadline here is shorter than that."""
    async with two_nodes(cluster) as (a, b), tab_client(a) as older:
        await greet(older, "u-moving", "tab-moving")
        async with tab_client(b) as newer:
            await greet(newer, "u-moving", "tab-moving")
            code, reason = await older.closed(within=10)
            assert (code, reason) == (1008, TAB_TAKEN)
            await newer.send(Location(cseq=1, at=1, url=f"{DEMO_ORIGIN}/team"))
            assert isinstance(await newer.recv_until(Ack, within=WITHIN), Ack)
            # The newer connection holds the tab; the older one's leaving did not remove it.
            live = await a.state.live.tabs("demo", "u-moving")
            assert [(t.tab, t.url) for t in live] == [("tab-moving", f"{DEMO_ORIGIN}/team")]


async def test_what_an_author_publishes_on_one_node_is_offered_on_every_node(
    cluster: Cluster,
) -> None:
    async with two_nodes(cluster) as (a, b):
        await b.state.store.add_account(
            AccountRecord(
                "demo", "ann@acme.test", "Ann", "author", hash_password(PASSWORD), (), 2, 1
            )
        )

        def offered(node: LiveServer) -> bool:
            catalog = node.state.catalogs["demo"]
            return any(p.walkthrough.id == "invite-teammate" for p in catalog.published)

        assert offered(a) and offered(b)
        async with httpx2.AsyncClient(base_url=b.url, follow_redirects=False) as ann:
            await sign_in(ann, "demo", "ann@acme.test")
            csrf = await csrf_of(ann, "/console/demo/walkthroughs")
            unpublished = await ann.post(
                "/console/demo/walkthroughs/invite-teammate/publish",
                data={"version": "none", "csrf": csrf},
            )
            assert unpublished.status_code == 303
        assert not offered(b)

        async def withdrawn_on_a() -> bool:
            return not offered(a)

        await eventually(withdrawn_on_a, within=WITHIN)


async def test_what_an_admin_changes_on_one_node_is_in_use_on_every_node(cluster: Cluster) -> None:
    """The nodes share the content folder: an origin added, a threshold and a persona changed on
    B are what A uses next, without a restart."""
    from websockets.exceptions import InvalidStatus

    async with two_nodes(cluster) as (a, b):
        await b.state.store.add_account(
            AccountRecord("demo", "boss@acme.test", "Boss", "admin", hash_password(PASSWORD), (), 2, 1)
        )  # fmt: skip
        with pytest.raises(InvalidStatus):  # not an allowed origin yet, on either node
            async with tab_client(a, origin="https://app.acme.test"):
                pass
        async with httpx2.AsyncClient(base_url=b.url, follow_redirects=False) as boss:
            await sign_in(boss, "demo", "boss@acme.test")
            csrf = await csrf_of(boss, "/console/demo/admin")
            added = await boss.post(
                "/console/demo/admin/site/origins/add",
                data={"csrf": csrf, "origin": "https://app.acme.test"},
            )
            assert added.status_code == 303, added.text
            weighted = await boss.post(
                "/console/demo/admin/frustration",
                data={"csrf": csrf, "what": "threshold", "value": "7.5"},
            )
            assert weighted.status_code == 303, weighted.text

        async def changed_on_a() -> bool:
            config = a.state.sites["demo"].config
            return (
                "https://app.acme.test" in config.allowed_origins
                and config.frustration.threshold == 7.5
            )

        await eventually(changed_on_a, within=WITHIN)
        async with tab_client(a, origin="https://app.acme.test") as tab:  # A lets it in now
            await tab.send(Hello(v=1, site="demo", tab="tab-new-origin"))
            await tab.recv_until(Welcome, within=WITHIN)


async def test_of_two_connections_of_a_tab_the_newer_wins_whatever_the_nodes_clocks_say(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Node A's clock runs a minute ahead of node B's while the tab's first connection says hello
    on A; the tab then connects again, to B. The broker's numbers decide which is the newer: A's
    connection closes at once, and what A has for the tab reaches the page on B, not the
    half-open socket A still holds."""
    from server.live import serves
    from server.web import delivery, tab_socket

    async with two_nodes(cluster) as (a, b), tab_client(a) as older:
        real_now_ms = tab_socket.now_ms
        monkeypatch.setattr(tab_socket, "now_ms", lambda: real_now_ms() + 60_000)
        await greet(older, "u-skewed", "tab-skewed")
        monkeypatch.setattr(tab_socket, "now_ms", real_now_ms)
        async with tab_client(b) as newer:
            await greet(newer, "u-skewed", "tab-skewed")
            on_b = b.state.tabs[("demo", "tab-skewed")]

            async def held_by_the_newer() -> bool:
                entry = await a.state.live.entry("demo", "u-skewed", "tab-skewed")
                return entry is not None and entry.conn == on_b.conn_id

            await eventually(held_by_the_newer, within=WITHIN)
            on_a = a.state.tabs.get(("demo", "tab-skewed"))
            if on_a is not None:  # still there (not closed yet): it must not serve the tab
                entry = await a.state.live.entry("demo", "u-skewed", "tab-skewed")
                assert not serves(entry, on_a.conn_id, on_a.seq)
            line = ChatLine(session="s-skewed", sender="agent", name="Ada", text="to B", at=1)
            assert await delivery.to_tab(a.state, "demo", "tab-skewed", line, user="u-skewed")
            assert await newer.recv_until(ChatLine, within=WITHIN) == line
            code, reason = await older.closed(within=10)  # not left to its next report (15 s)
            assert (code, reason) == (1008, TAB_TAKEN)


async def test_a_page_saying_hello_just_after_its_visitor_was_erased_is_refused(
    cluster: Cluster,
) -> None:
    """The erasure on B found no tab of the visitor; a page of theirs that says hello on A a
    moment later (it was on its way) is not taken back in: nothing of them is live or stored."""
    async with two_nodes(cluster) as (a, b):
        async with httpx2.AsyncClient(
            base_url=b.url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
        ) as http:
            assert (await http.delete("/api/users/demo/u-late")).status_code == 200
        async with tab_client(a) as tab:
            identity = TokenIdentity(user="u-late", token=demo_token("u-late"))
            await tab.send(Hello(v=1, site="demo", tab="tab-late", identity=identity))
            code, reason = await tab.closed(within=WITHIN)
        assert (code, reason.split(":")[0]) == (1008, "erased")
        assert await a.state.live.tabs("demo", "u-late") == []
        assert await a.state.store.get_profile("demo", "u-late") is None


async def test_a_page_midway_through_its_hello_when_its_visitor_is_erased_closes(
    cluster: Cluster,
) -> None:
    """The page's hello on A has passed the erasure check but is not live yet (held here: its
    profile write waits for a lock this test holds in PostgreSQL) when B erases the visitor, whose
    live tabs are then none. Once let go, the page reports itself live, sees the erasure, removes
    its entry again and closes."""
    import asyncpg

    from server.store.postgres.connection import split_schema
    from server.web import privacy

    dsn, schema = split_schema(cluster.store_url)
    async with two_nodes(cluster) as (a, b):
        db = await asyncpg.connect(dsn)
        try:
            holding = db.transaction()
            await holding.start()
            await db.execute(f'LOCK TABLE "{schema}".profiles IN SHARE MODE')
            async with tab_client(a) as tab:
                identity = TokenIdentity(user="u-midway", token=demo_token("u-midway"))
                await tab.send(Hello(v=1, site="demo", tab="tab-midway", identity=identity))

                async def waiting_for_the_lock() -> bool:
                    waiting = await db.fetchval(
                        "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = $1::regclass",
                        f'"{schema}".profiles',
                    )
                    return bool(waiting)

                await eventually(waiting_for_the_lock, within=WITHIN)
                await privacy.forget_live(b.state, "demo", "u-midway")
                assert await b.state.live.tabs("demo", "u-midway") == []  # it was not live yet
                await holding.rollback()
                code, reason = await tab.closed(within=WITHIN)
            assert (code, reason.split(":")[0]) == (1008, "erased")
            assert await a.state.live.tabs("demo", "u-midway") == []
        finally:
            await db.close()


# --- the Redis pub/sub connection of a node is lost for a moment ------------------------------------


class Outage:
    """A TCP relay between a node and Redis that can fail for a while: its connections are cut,
    and the new ones turned away (accepted and closed at once) until it is over."""

    def __init__(self, redis_url: str) -> None:
        from urllib.parse import urlsplit

        parts = urlsplit(redis_url)
        self.target = (parts.hostname or "127.0.0.1", parts.port or 6379)
        self.redis_url = redis_url
        self.down = False
        self.turned_away = 0
        self.links: set[asyncio.StreamWriter] = set()
        self.tasks: set[asyncio.Task[None]] = set()
        self.server: asyncio.Server | None = None

    def url_for(self, broker_url: str) -> str:
        """``broker_url`` (the same Redis) through this relay."""
        from urllib.parse import urlsplit, urlunsplit

        assert self.server is not None
        port = self.server.sockets[0].getsockname()[1]
        return urlunsplit(urlsplit(broker_url)._replace(netloc=f"127.0.0.1:{port}"))

    async def __aenter__(self) -> Outage:
        self.server = await asyncio.start_server(self._link, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        self._cut()
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    def begin(self) -> None:
        self.down = True
        self._cut()

    def end(self) -> None:
        self.down = False

    def _cut(self) -> None:
        for writer in list(self.links):
            writer.transport.abort()
        self.links.clear()

    async def _link(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.down:
            self.turned_away += 1
            writer.transport.abort()
            return
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self.links.update((writer, up_writer))
        for source, sink in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pump(source, sink))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _pump(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while data := await source.read(65536):
                sink.write(data)
                await sink.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            sink.transport.abort()


@contextlib.asynccontextmanager
async def a_node_behind_an_outage(
    cluster: Cluster, redis_url: str
) -> AsyncIterator[tuple[LiveServer, LiveServer, Outage]]:
    """Node A reaches Redis through an ``Outage``, node B directly."""
    settings = Settings(
        store_url=cluster.store_url, broker_url=cluster.broker_url, secret="cluster-test-secret",
        content_dir=content_dir(cluster.tmp), admin_token=ADMIN_TOKEN,
    )  # fmt: skip
    async with Outage(redis_url) as outage:
        behind = settings.with_(broker_url=outage.url_for(cluster.broker_url))
        async with live_server(behind) as a, live_server(settings) as b:
            yield a, b, outage


async def settled(tab: TabClient) -> None:
    """Its connection is done with what it was sent (its hello included) and waits for more: it
    answers one more request, after the rest (a connection handles its messages in order)."""
    await tab.send(Launcher(req=99))
    await tab.recv_until(Offers, within=WITHIN)


async def tried_again(outage: Outage, times: int) -> None:
    async def turned_away() -> bool:
        return outage.turned_away >= times

    await eventually(turned_away, within=WITHIN)


async def test_a_tab_whose_node_loses_redis_for_a_moment_listens_again_and_stays_open(
    cluster: Cluster, redis_url: str
) -> None:
    """The node's pub/sub connection is cut and it cannot connect again for a while: its tabs keep
    trying (with jittered backoff) instead of closing at the first failure, and once Redis is
    back, what another node sends the page reaches it."""
    from server.web import delivery

    async with a_node_behind_an_outage(cluster, redis_url) as (a, b, outage), tab_client(a) as tab:
        await greet(tab, "u-cut", "tab-cut-off")
        await settled(tab)
        outage.begin()
        await tried_again(outage, 4)  # the first attempts to listen again failed
        outage.end()
        line = ChatLine(session="s-cut", sender="agent", name="Ada", text="back", at=1)

        async def delivered() -> bool:
            return await delivery.to_tab(b.state, "demo", "tab-cut-off", line, user="u-cut")

        await eventually(delivered, within=WITHIN)
        assert await tab.recv_until(ChatLine, within=WITHIN) == line


async def test_a_tab_taken_elsewhere_while_its_node_had_lost_redis_closes_once_it_is_back(
    cluster: Cluster, redis_url: str
) -> None:
    """While node A could not hear its tab's channel, the tab connected again to B (whose word
    to A was lost). Listening again, A's connection reports the tab live, finds it taken, and
    closes as ``tab_taken`` — without waiting for its next report (made rare here)."""
    async with a_node_behind_an_outage(cluster, redis_url) as (a, b, outage):
        a.state.live.ttl_ms = 600_000  # its heartbeat would come in 200 s
        async with tab_client(a) as older:
            await greet(older, "u-moved", "tab-moved")
            await settled(older)
            outage.begin()
            await tried_again(outage, 4)
            async with tab_client(b) as newer:
                await greet(newer, "u-moved", "tab-moved")
                outage.end()
                code, reason = await older.closed(within=WITHIN)
                assert (code, reason) == (1008, TAB_TAKEN)
                await newer.send(Location(cseq=1, at=1, url=f"{DEMO_ORIGIN}/team"))
                assert isinstance(await newer.recv_until(Ack, within=WITHIN), Ack)
