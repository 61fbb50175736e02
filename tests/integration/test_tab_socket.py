"""The tab WebSocket over a real server and real connections, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from websockets.exceptions import InvalidStatus

from server.protocol.messages import (
    Ack,
    AnonymousIdentity,
    Focus,
    Hello,
    Identified,
    Identify,
    Location,
    TokenIdentity,
    Welcome,
)
from server.settings import Settings
from server.store.postgres.connection import split_schema
from server.store.sqlite.connection import sqlite_path
from tests.integration.live_server import (
    LiveServer,
    api,
    content_dir,
    demo_token,
    live_server,
    tab_client,
)
from tests.integration.test_broker import eventually

pytestmark = [pytest.mark.anyio, pytest.mark.store]

TAB_A = "tab-aaaaaaaaaaaa"
TAB_B = "tab-bbbbbbbbbbbb"


def now_ms() -> int:
    return int(time.time() * 1000)


def location(cseq: int, url: str, **kw: object) -> Location:
    return Location(cseq=cseq, at=now_ms(), url=url, **kw)  # type: ignore[arg-type]


# --- handshake -------------------------------------------------------------------


async def test_anonymous_visitor_gets_a_signed_id_and_keeps_it(server: LiveServer) -> None:
    async with tab_client(server) as tab:
        await tab.send(Hello(v=1, site="demo", tab=TAB_A))
        welcome = await tab.recv()
        assert isinstance(welcome, Welcome)
        assert welcome.ack == 0 and not welcome.needs_identity
        assert welcome.anonymous is not None
        assert welcome.user == welcome.anonymous.anon
    async with tab_client(server) as tab:
        await tab.send(Hello(v=1, site="demo", tab=TAB_B, anonymous=welcome.anonymous))
        again = await tab.recv()
        assert isinstance(again, Welcome)
        assert again.user == welcome.anonymous.anon
    async with tab_client(server) as tab:
        forged = AnonymousIdentity(anon=welcome.anonymous.anon, sig="x" * 43)
        await tab.send(Hello(v=1, site="demo", tab=TAB_B, anonymous=forged))
        fresh = await tab.recv()
        assert isinstance(fresh, Welcome)
        assert fresh.user != welcome.anonymous.anon  # a forged signature gets a new id


async def test_identified_visitor_and_profile(server: LiveServer) -> None:
    token = demo_token(traits={"plan": "business"})
    async with tab_client(server) as tab:
        await tab.send(
            Hello(v=1, site="demo", tab=TAB_A, identity=TokenIdentity(user="u-ada", token=token))
        )
        welcome = await tab.recv()
        assert isinstance(welcome, Welcome)
        assert welcome.user == "u-ada" and welcome.anonymous is None
        await tab.send(
            Identify(user="u-ada", token=token, traits={"first_name": "Ada", "plan": "free"})
        )
        assert await tab.recv() == Identified(user="u-ada")
    profile = (await api(server, "/api/users/demo/u-ada/profile")).json()
    # The page's traits are kept, but the signed ones win.
    assert profile["traits"] == {"first_name": "Ada", "plan": "business"}
    assert profile["support_items"] == []


async def test_unsupported_version_closes_with_1002_listing_versions(server: LiveServer) -> None:
    async with tab_client(server) as tab:
        await tab.send(Hello(v=9, site="demo", tab=TAB_A))
        code, reason = await tab.closed()
    assert code == 1002
    assert reason == "unsupported protocol version 9; supported: 1"


async def test_foreign_origin_and_unknown_site_are_refused(server: LiveServer) -> None:
    with pytest.raises(InvalidStatus) as foreign:
        async with tab_client(server, origin="https://evil.example.com"):
            pass
    assert foreign.value.response.status_code == 403
    with pytest.raises(InvalidStatus) as unknown:
        async with tab_client(server, site="nope"):
            pass
    assert unknown.value.response.status_code == 403


async def test_hello_for_another_site_closes_with_1008(server: LiveServer) -> None:
    async with tab_client(server) as tab:
        await tab.send(Hello(v=1, site="shop", tab=TAB_A))
        code, reason = await tab.closed()
    assert code == 1008 and "site_mismatch" in reason


# --- locations, acks and duplicates -----------------------------------------------


async def test_location_is_acknowledged_stored_and_live(server: LiveServer) -> None:
    async with tab_client(server) as tab:
        await tab.send(
            Hello(
                v=1,
                site="demo",
                tab=TAB_A,
                identity=TokenIdentity(user="u-ada", token=demo_token()),
            )
        )
        await tab.recv_until(Welcome)
        await tab.send(location(1, "http://127.0.0.1:8001/home", title="Home"))
        assert await tab.recv_until(Ack) == Ack(upto=1)
        await tab.send(
            location(
                2,
                "http://127.0.0.1:8001/invoices/INV-1007?token=s3cret&page=2",
                title="INV-1007",
                nav="push",
            )
        )
        assert await tab.recv_until(Ack) == Ack(upto=2)
        await tab.send(
            location(3, "http://127.0.0.1:8001/team/invite", markers=["invite-teammate"])
        )
        assert await tab.recv_until(Ack) == Ack(upto=3)
        live = (await api(server, "/api/users/demo/u-ada/location")).json()
        assert live["online"] is True
        [state] = live["tabs"]
        assert (state["tab"], state["url"], state["process"]) == (
            TAB_A,
            "http://127.0.0.1:8001/team/invite",
            "invite-teammate",
        )
    events = (await api(server, "/api/users/demo/u-ada/events?kind=location")).json()["events"]
    assert [e["cseq"] for e in events] == [1, 2, 3]
    # The server re-redacts what a client sends, and resolves processes from URL patterns.
    assert (
        events[1]["payload"]["url"]
        == "http://127.0.0.1:8001/invoices/INV-1007?token=redacted&page=2"
    )
    assert events[1]["payload"]["process"] == "find-invoice"
    assert events[0]["payload"]["process"] is None
    # Gone from the live view once the tab disconnects.
    gone = (await api(server, "/api/users/demo/u-ada/location")).json()
    assert gone == {
        "site": "demo",
        "user": "u-ada",
        "online": False,
        "focused_tab": None,
        "tabs": [],
    }


async def test_duplicates_are_dropped_by_tab_and_cseq(server: LiveServer) -> None:
    hello = Hello(
        v=1, site="demo", tab=TAB_A, identity=TokenIdentity(user="u-ada", token=demo_token())
    )
    async with tab_client(server) as tab:
        await tab.send(hello)
        await tab.recv_until(Welcome)
        for cseq in (1, 2):
            await tab.send(location(cseq, f"http://127.0.0.1:8001/p{cseq}"))
        assert (await tab.recv_until(Ack)).upto in (1, 2)
    async with tab_client(server) as tab:
        await tab.send(hello)
        welcome = await tab.recv_until(Welcome)
        assert welcome.ack == 2  # the client drops 1 and 2 from its outbox
        for cseq in (2, 3):  # 2 resent anyway, as a client that missed the welcome would
            await tab.send(location(cseq, f"http://127.0.0.1:8001/p{cseq}"))
        acks = [await tab.recv_until(Ack), await tab.recv_until(Ack)]
        assert acks[-1] == Ack(upto=3)
    events = (await api(server, "/api/users/demo/u-ada/events")).json()["events"]
    assert [(e["tab"], e["cseq"]) for e in events] == [(TAB_A, 1), (TAB_A, 2), (TAB_A, 3)]


@contextlib.asynccontextmanager
async def store_refusing(store_url: str, marker: str) -> AsyncIterator[None]:
    """Make the real store refuse (as bad data) every event whose payload holds ``marker``."""
    if store_url.startswith("sqlite"):
        path = sqlite_path(store_url)
        with contextlib.closing(sqlite3.connect(path)) as db:
            db.execute(
                "CREATE TRIGGER refuse_marked BEFORE INSERT ON events"
                f" WHEN NEW.payload LIKE '%{marker}%'"
                " BEGIN SELECT RAISE(ABORT, 'refused for the test'); END"
            )
            db.commit()
        try:
            yield
        finally:
            with contextlib.closing(sqlite3.connect(path)) as db:
                db.execute("DROP TRIGGER refuse_marked")
                db.commit()
        return
    dsn, schema = split_schema(store_url)
    admin = await asyncpg.connect(dsn, server_settings={"search_path": schema})
    try:
        await admin.execute(
            "CREATE FUNCTION refuse_marked() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
            f" IF NEW.payload::text LIKE '%{marker}%' THEN"
            "  RAISE EXCEPTION 'refused for the test' USING ERRCODE = 'check_violation';"
            " END IF; RETURN NEW; END $$;"
            " CREATE TRIGGER refuse_marked BEFORE INSERT ON events"
            " FOR EACH ROW EXECUTE FUNCTION refuse_marked()"
        )
        yield
    finally:
        await admin.execute("DROP TRIGGER IF EXISTS refuse_marked ON events")
        await admin.close()


async def test_an_event_the_store_failed_to_write_is_never_skipped(
    server: LiveServer, store_url: str
) -> None:
    """When one write fails, nothing after it is stored: welcome.ack cannot skip the lost event."""
    hello = Hello(
        v=1, site="demo", tab=TAB_A, identity=TokenIdentity(user="u-ada", token=demo_token())
    )
    async with tab_client(server) as tab:
        await tab.send(hello)
        await tab.recv_until(Welcome)
        await tab.send(location(1, "http://127.0.0.1:8001/home"))
        assert await tab.recv_until(Ack) == Ack(upto=1)
        async with store_refusing(store_url, "fail-me"):
            await tab.send(location(2, "http://127.0.0.1:8001/fail-me"))
            for cseq in (3, 4):
                await tab.send(location(cseq, f"http://127.0.0.1:8001/p{cseq}"))
            code, _ = await tab.closed()
            assert code == 1011
            async with tab_client(server) as again:
                await again.send(hello)
                welcome = await again.recv_until(Welcome)
                # 2 was not stored, so neither are 3 and 4: the client keeps all three.
                assert welcome.ack == 1
        async with tab_client(server) as again:  # the store accepts it now
            await again.send(hello)
            assert (await again.recv_until(Welcome)).ack == 1
            await again.send(location(2, "http://127.0.0.1:8001/fail-me"))
            for cseq in (3, 4):
                await again.send(location(cseq, f"http://127.0.0.1:8001/p{cseq}"))
            while (await again.recv_until(Ack)).upto < 4:
                pass
    events = (await api(server, "/api/users/demo/u-ada/events")).json()["events"]
    assert [e["cseq"] for e in events] == [1, 2, 3, 4]


async def test_two_tabs_are_listed_with_the_focused_one(server: LiveServer) -> None:
    token = demo_token()
    async with tab_client(server) as a, tab_client(server) as b:
        for tab, tab_id, url in ((a, TAB_A, "/invoices"), (b, TAB_B, "/reports")):
            await tab.send(
                Hello(
                    v=1, site="demo", tab=tab_id, identity=TokenIdentity(user="u-ada", token=token)
                )
            )
            await tab.recv_until(Welcome)
            await tab.send(location(1, f"http://127.0.0.1:8001{url}"))
            await tab.recv_until(Ack)
        await a.send(Focus(cseq=2, at=now_ms(), focused=True, visible=True))
        await a.recv_until(Ack)
        await a.send(Focus(cseq=3, at=now_ms(), focused=False, visible=True))
        await a.recv_until(Ack)
        await b.send(Focus(cseq=2, at=now_ms(), focused=True, visible=True))
        await b.recv_until(Ack)
        live = (await api(server, "/api/users/demo/u-ada/location")).json()
    assert {t["tab"]: t["process"] for t in live["tabs"]} == {
        TAB_A: "find-invoice",
        TAB_B: "export-report",
    }
    assert live["focused_tab"] == TAB_B


async def test_a_tab_that_reconnects_stays_listed_when_its_old_connection_ends(
    server: LiveServer,
) -> None:
    hello = Hello(
        v=1, site="demo", tab=TAB_A, identity=TokenIdentity(user="u-ada", token=demo_token())
    )
    async with tab_client(server) as old:
        await old.send(hello)
        await old.recv_until(Welcome)
        async with tab_client(
            server
        ) as new:  # the same tab, reconnected before the old socket died
            await new.send(hello)
            await new.recv_until(Welcome)
            await new.send(location(1, "http://127.0.0.1:8001/reports"))
            await new.recv_until(Ack)
            await old.ws.close()
            for _ in range(100):  # until the server has finished with the old connection
                if (await api(server, "/healthz")).json()["connections"] == 1:
                    break
                await asyncio.sleep(0.05)
            else:
                raise AssertionError("the old connection never ended")
            live = (await api(server, "/api/users/demo/u-ada/location")).json()
            assert [(t["tab"], t["url"]) for t in live["tabs"]] == [
                (TAB_A, "http://127.0.0.1:8001/reports")
            ]


async def test_a_second_connection_of_a_tab_replaces_the_first(server: LiveServer) -> None:
    """One connection per tab: the older one is closed (1008 tab_taken) and no longer reports it."""
    hello = Hello(
        v=1, site="demo", tab=TAB_A, identity=TokenIdentity(user="u-ada", token=demo_token())
    )
    async with tab_client(server) as old:
        await old.send(hello)
        await old.recv_until(Welcome)
        await old.send(location(1, "http://127.0.0.1:8001/invoices"))
        assert await old.recv_until(Ack) == Ack(upto=1)
        async with tab_client(server) as new:
            await new.send(hello)
            assert (await new.recv_until(Welcome)).ack == 1
            code, reason = await old.closed()
            assert code == 1008 and reason.startswith("tab_taken:")
            await new.send(location(2, "http://127.0.0.1:8001/reports"))
            assert await new.recv_until(Ack) == Ack(upto=2)
            live = (await api(server, "/api/users/demo/u-ada/location")).json()
            assert [(t["tab"], t["url"]) for t in live["tabs"]] == [
                (TAB_A, "http://127.0.0.1:8001/reports")
            ]
            for _ in range(100):  # until the server has finished with the old connection
                if (await api(server, "/healthz")).json()["connections"] == 1:
                    break
                await asyncio.sleep(0.05)
            else:
                raise AssertionError("the old connection never ended")
            live = (await api(server, "/api/users/demo/u-ada/location")).json()
            assert [t["tab"] for t in live["tabs"]] == [TAB_A]  # the old one's end left it listed
    events = (await api(server, "/api/users/demo/u-ada/events")).json()["events"]
    assert [(e["cseq"], e["payload"]["url"]) for e in events] == [
        (1, "http://127.0.0.1:8001/invoices"),
        (2, "http://127.0.0.1:8001/reports"),
    ]


async def test_an_older_connection_never_overwrites_the_newer_ones_live_entry(
    server: LiveServer,
) -> None:
    """A connection that lost its tab (here: to a newer one on another node) stops reporting it."""
    from server.live import TabState

    hello = Hello(
        v=1, site="demo", tab=TAB_A, identity=TokenIdentity(user="u-ada", token=demo_token())
    )
    async with tab_client(server) as tab:
        await tab.send(hello)
        await tab.recv_until(Welcome)
        # Another node's connection, newer (numbered by the broker at its hello), takes the tab
        # over in the shared live state.
        seq = await server.state.live.number("demo", TAB_A)
        elsewhere = TabState(
            tab=TAB_A, conn="other-node", seq=seq, url="http://127.0.0.1:8001/team"
        )
        assert await server.state.live.put("demo", "u-ada", elsewhere, take=True)
        await tab.send(location(1, "http://127.0.0.1:8001/invoices"))
        code, reason = await tab.closed()
        assert code == 1008 and reason.startswith("tab_taken:")
    live = (await api(server, "/api/users/demo/u-ada/location")).json()
    assert [(t["tab"], t["url"]) for t in live["tabs"]] == [(TAB_A, "http://127.0.0.1:8001/team")]


async def test_a_newer_connection_takes_its_entry_back_from_an_older_one_that_reported_late(
    server: LiveServer,
) -> None:
    """Two connections of a tab report it in whatever order the network allows: the broker's
    numbers decide which one holds the entry, not who wrote last."""
    from server.live import TabState

    older_seq = await server.state.live.number("demo", TAB_A)  # an older connection elsewhere
    hello = Hello(
        v=1, site="demo", tab=TAB_A, identity=TokenIdentity(user="u-ada", token=demo_token())
    )
    async with tab_client(server) as tab:
        await tab.send(hello)
        await tab.recv_until(Welcome)
        # The older connection's first report arrives only now, and takes the entry over.
        late = TabState(tab=TAB_A, conn="older-node", seq=older_seq, url="http://127.0.0.1:8001/x")
        assert await server.state.live.put("demo", "u-ada", late, take=True)
        # The newer connection's next report takes it back instead of closing.
        await tab.send(location(1, "http://127.0.0.1:8001/invoices"))
        assert isinstance(await tab.recv_until(Ack), Ack)

        async def taken_back() -> bool:
            live = (await api(server, "/api/users/demo/u-ada/location")).json()
            return [(t["tab"], t["url"]) for t in live["tabs"]] == [
                (TAB_A, "http://127.0.0.1:8001/invoices")
            ]

        await eventually(taken_back, within=10)
        await tab.send(location(2, "http://127.0.0.1:8001/team"))
        assert await tab.recv_until(Ack) == Ack(upto=2)  # still open


async def test_the_heartbeat_closes_a_tab_taken_without_a_word_and_keeps_an_idle_one_live(
    server: LiveServer,
) -> None:
    """A silent tab is still reported live by the node's heartbeat timer (its entry outlives its
    time to live), and the beat that finds the tab taken elsewhere — that word having been lost —
    closes it as ``tab_taken``, with nothing sent by the page."""
    from server.live import TabState

    server.state.live.ttl_ms = 600  # a beat every 0.2 s
    hello = Hello(
        v=1, site="demo", tab=TAB_A, identity=TokenIdentity(user="u-ada", token=demo_token())
    )
    async with tab_client(server) as tab:
        await tab.send(hello)
        await tab.recv_until(Welcome)
        await tab.send(location(1, "http://127.0.0.1:8001/invoices"))
        assert await tab.recv_until(Ack) == Ack(upto=1)
        await asyncio.sleep(1.5)  # 2.5 times the entry's time to live, the page silent
        live = (await api(server, "/api/users/demo/u-ada/location")).json()
        assert [t["tab"] for t in live["tabs"]] == [TAB_A]
        seq = await server.state.live.number("demo", TAB_A)
        elsewhere = TabState(tab=TAB_A, conn="other-node", seq=seq, url="http://127.0.0.1:8001/x")
        assert await server.state.live.put("demo", "u-ada", elsewhere, take=True)
        code, reason = await tab.closed(within=5)
        assert code == 1008 and reason.startswith("tab_taken:")


async def test_an_idle_tab_has_no_task_of_its_own(server: LiveServer) -> None:
    """Once its events are stored and acknowledged, a tab's connection runs nothing but the task
    receiving its frames: no store writer, mail reader or heartbeat task waits for work."""
    async with contextlib.AsyncExitStack() as stack:
        for i in range(5):
            tab = await stack.enter_async_context(tab_client(server))
            await tab.send(Hello(v=1, site="demo", tab=f"tab-idle-{i:012d}"))
            await tab.recv_until(Welcome)
            await tab.send(location(1, "http://127.0.0.1:8001/invoices"))
            assert await tab.recv_until(Ack) == Ack(upto=1)
        await asyncio.sleep(0.1)
        conns = list(server.state.connections)
        assert len(conns) == 5
        assert all(
            (c.writer, c.courier, c.beating, c.inbox) == (None, None, None, None) for c in conns
        )
        own = [t for t in asyncio.all_tasks() if "TabConnection" in repr(t.get_coro())]
        assert own == []
        assert len(server.state.beats) == 5  # the node's one timer knows every tab


# --- shutdown -------------------------------------------------------------------------------------


async def test_shutdown_closes_with_1012(store_url: str, tmp_path: Path) -> None:
    settings = Settings(store_url=store_url, content_dir=content_dir(tmp_path))
    async with live_server(settings) as live, tab_client(live) as tab:
        await tab.send(Hello(v=1, site="demo", tab=TAB_A))
        await tab.recv_until(Welcome)
        live.server.should_exit = True
        code, _ = await tab.closed()
    assert code == 1012


@pytest.mark.parametrize(
    "store_url", ["postgres"], indirect=True
)  # SQLite is in-process: it cannot go away
async def test_a_store_that_goes_away_loses_nothing(server: LiveServer, store_url: str) -> None:
    """PostgreSQL drops the server's connections mid-stream; the client resends what was not acknowledged."""
    import asyncpg

    from server.store.postgres import PostgresStore

    store = PostgresStore(store_url)
    hello = Hello(
        v=1, site="demo", tab=TAB_A, identity=TokenIdentity(user="u-ada", token=demo_token())
    )
    sent = 0
    stored_upto = 0
    async with tab_client(server) as tab:
        await tab.send(hello)
        await tab.recv_until(Welcome)
        await tab.send(location(1, "http://127.0.0.1:8001/p1"))
        assert await tab.recv_until(Ack) == Ack(upto=1)
        sent = stored_upto = 1
        dsn = store_url.split("?")[0]
        admin = await asyncpg.connect(dsn)
        try:
            killed = await admin.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1",
                store.application_name,
            )
        finally:
            await admin.close()
        assert killed >= 1
    # A client keeps resending from its outbox until everything is acknowledged.
    for attempt in range(20):
        try:
            async with tab_client(server) as tab:
                await tab.send(hello)
                welcome = await tab.recv_until(Welcome)
                stored_upto = welcome.ack
                for cseq in range(stored_upto + 1, 4):
                    await tab.send(location(cseq, f"http://127.0.0.1:8001/p{cseq}"))
                    sent = max(sent, cseq)
                while stored_upto < 3:
                    stored_upto = (await tab.recv_until(Ack)).upto
                break
        except Exception:  # the server closed the connection (1011): try again
            await asyncio.sleep(0.2 * (attempt + 1))
    assert stored_upto == 3
    events = (await api(server, "/api/users/demo/u-ada/events")).json()["events"]
    assert [e["cseq"] for e in events] == [1, 2, 3]
