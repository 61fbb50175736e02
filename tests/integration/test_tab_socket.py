"""The tab WebSocket over a real server and real connections, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx2
import msgspec
import pytest
from websockets.exceptions import InvalidStatus

from server.identity.tokens import sign_visitor_token
from server.protocol.messages import (
    Ack,
    AnonymousIdentity,
    Error,
    Focus,
    Hello,
    Identified,
    Identify,
    Location,
    TokenIdentity,
    Welcome,
)
from server.settings import Settings
from tests.integration.live_server import (
    ADMIN_TOKEN,
    SHOP_KEY,
    LiveServer,
    content_dir,
    live_server,
    tab_client,
)

pytestmark = [pytest.mark.anyio, pytest.mark.store]

TAB_A = "tab-aaaaaaaaaaaa"
TAB_B = "tab-bbbbbbbbbbbb"
DEMO_KEY = "demo-key-for-tests-at-least-32-bytes"


def now_ms() -> int:
    return int(time.time() * 1000)


def demo_token(user: str = "u-ada", **kw: object) -> str:
    args: dict[str, object] = {
        "site": "demo",
        "kid": "demo-1",
        "secret": DEMO_KEY,
        "now": int(time.time()),
    }
    args.update(kw)
    return sign_visitor_token(user, **args)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def signing_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TANDEM_DEMO_SIGNING_KEY", DEMO_KEY)
    monkeypatch.setenv("TANDEM_TEST_SHOP_KEY", SHOP_KEY)


@pytest.fixture
async def server(store_url: str, tmp_path: Path) -> AsyncIterator[LiveServer]:
    settings = Settings(
        store_url=store_url, content_dir=content_dir(tmp_path), admin_token=ADMIN_TOKEN
    )
    async with live_server(settings) as live:
        yield live


async def api(server: LiveServer, path: str) -> httpx2.Response:
    async with httpx2.AsyncClient(
        base_url=server.url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    ) as client:
        return await client.get(path)


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


# --- bad frames -----------------------------------------------------------------------


async def test_every_bad_frame_gets_an_error_and_the_connection_stays(server: LiveServer) -> None:
    async with tab_client(server) as tab:
        await tab.send({"kind": "location", "cseq": 1, "at": 1, "url": "x"})
        assert (await tab.recv()).code == "unexpected"  # type: ignore[union-attr]
        await tab.send(Hello(v=1, site="demo", tab=TAB_A))
        await tab.recv_until(Welcome)
        await tab.send("a text frame")
        assert (await tab.recv()) == Error(
            code="not_binary", message="frames must be binary (msgpack)"
        )
        await tab.send(b"\xc1\xc1")
        assert (await tab.recv()).code == "malformed"  # type: ignore[union-attr]
        await tab.send({"kind": "location", "cseq": 1, "at": 1, "url": 42})
        invalid = await tab.recv()
        assert isinstance(invalid, Error)
        assert (invalid.code, invalid.field) == ("invalid", "url")
        await tab.send(
            {"kind": "location", "cseq": 1, "at": 1, "url": "u", "markers": ["ok", "Not A Slug"]}
        )
        assert (await tab.recv()).field == "markers[1]"  # type: ignore[union-attr]
        await tab.send({"kind": "teleport", "to": "mars"})
        unknown = await tab.recv()
        assert isinstance(unknown, Error)
        assert (unknown.code, unknown.field) == ("unknown_kind", "kind")
        await tab.send(Hello(v=1, site="demo", tab=TAB_A))
        assert (await tab.recv()).code == "unexpected"  # type: ignore[union-attr]
        # Still open and working:
        await tab.send(location(1, "http://127.0.0.1:8001/home"))
        assert await tab.recv_until(Ack) == Ack(upto=1)


async def test_oversize_message_closes_with_1009(server: LiveServer) -> None:
    async with tab_client(server) as tab:
        await tab.send(Hello(v=1, site="demo", tab=TAB_A))
        await tab.recv_until(Welcome)
        await tab.send(
            msgspec.msgpack.encode(
                {"kind": "location", "cseq": 1, "at": 1, "url": "u", "title": "x" * 20_000}
            )
        )
        code, reason = await tab.closed()
    assert code == 1009
    assert "location message" in reason and "16384" in reason


async def test_frame_over_the_largest_limit_closes_with_1009(server: LiveServer) -> None:
    async with tab_client(server) as tab:
        await tab.send(b"\x00" * 200_000)
        code, _ = await tab.closed()
    assert code == 1009


async def test_repeated_abuse_closes_with_1008(server: LiveServer) -> None:
    async with tab_client(server) as tab:
        for _ in range(25):
            await tab.send(b"\xc1")
        code, reason = await tab.closed()
    assert (code, reason) == (1008, "too many invalid messages")


# --- tokens ---------------------------------------------------------------------------------


def _tampered(token: str) -> str:
    header, payload, signature = token.split(".")
    import base64
    import json

    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = "u-grace"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


BAD_TOKENS: dict[str, tuple[Callable[[], str], str]] = {
    "expired": (lambda: demo_token(now=int(time.time()) - 7200, lifetime_s=600), "expired"),
    "wrong key": (
        lambda: demo_token(secret="not-the-key-but-32-bytes-long-too"),
        "signature does not match",
    ),
    "unknown kid": (lambda: demo_token(kid="demo-9"), "unknown key id"),
    "tampered": (lambda: _tampered(demo_token()), "signature does not match"),
    "other site": (lambda: demo_token(site="shop"), "another site"),
    "too long-lived": (lambda: demo_token(lifetime_s=30 * 24 * 3600), "lives too long"),
}


@pytest.mark.parametrize("case", sorted(BAD_TOKENS))
async def test_bad_tokens_are_refused(server: LiveServer, case: str) -> None:
    make, reason = BAD_TOKENS[case]
    user = "u-grace" if case == "tampered" else "u-ada"
    async with tab_client(server) as tab:
        await tab.send(Hello(v=1, site="demo", tab=TAB_A))
        await tab.recv_until(Welcome)
        await tab.send(Identify(user=user, token=make()))
        refused = await tab.recv()
        assert isinstance(refused, Error)
        assert refused.code == "identity_refused"
        assert reason in refused.message
    assert (await api(server, f"/api/users/demo/{user}/profile")).status_code == 404


async def test_strict_site_refuses_unverified_visitors(server: LiveServer) -> None:
    origin = "https://shop.example.com"
    async with tab_client(server, site="shop", origin=origin) as tab:
        await tab.send(Hello(v=1, site="shop", tab=TAB_A))
        welcome = await tab.recv()
        assert isinstance(welcome, Welcome)
        assert welcome.needs_identity and welcome.user == "" and welcome.anonymous is None
        await tab.send(location(1, "https://shop.example.com/checkout/cart"))
        held = await tab.recv()
        assert isinstance(held, Error)
        assert (held.code, held.cseq) == ("identity_required", 1)
        token = sign_visitor_token(
            "c-1", site="shop", kid="shop-1", secret=SHOP_KEY, now=int(time.time())
        )
        await tab.send(Identify(user="c-1", token=token))
        assert await tab.recv() == Identified(user="c-1")
        await tab.send(location(1, "https://shop.example.com/checkout/cart"))
        assert await tab.recv_until(Ack) == Ack(upto=1)
    async with tab_client(server, site="shop", origin=origin) as tab:
        bad = TokenIdentity(user="c-1", token=token + "x")
        await tab.send(Hello(v=1, site="shop", tab=TAB_B, identity=bad))
        code, reason = await tab.closed()
    assert code == 1008 and reason.startswith("identity_refused")


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
