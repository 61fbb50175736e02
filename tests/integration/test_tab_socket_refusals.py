"""The tab WebSocket refuses what it must: bad frames, bad tokens, unverified visitors on strict sites."""

from __future__ import annotations

import time
from collections.abc import Callable

import msgspec
import pytest

from server.identity.tokens import sign_visitor_token
from server.protocol.messages import Ack, Error, Hello, Identified, Identify, TokenIdentity, Welcome
from tests.integration.live_server import SHOP_KEY, LiveServer, api, demo_token, tab_client
from tests.integration.test_tab_socket import TAB_A, TAB_B, location

pytestmark = [pytest.mark.anyio, pytest.mark.store]


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


async def test_values_no_store_can_keep_are_refused_and_the_connection_stays(
    server: LiveServer,
) -> None:
    """NUL in a string broke PostgreSQL's inserts (a tab stuck resending); NaN traits closed with 1011."""
    hello = Hello(
        v=1, site="demo", tab=TAB_A, identity=TokenIdentity(user="u-ada", token=demo_token())
    )
    async with tab_client(server) as tab:
        await tab.send(hello)
        await tab.recv_until(Welcome)
        await tab.send(location(1, "http://127.0.0.1:8001/home", title="Home\x00"))
        nul = await tab.recv()
        assert isinstance(nul, Error)
        assert (nul.code, nul.field, nul.cseq) == ("invalid", "title", 1)
        await tab.send(
            msgspec.msgpack.encode(
                {
                    "kind": "identify",
                    "user": "u-ada",
                    "token": demo_token(),
                    "traits": {"score": float("nan")},
                }
            )
        )
        nan = await tab.recv()
        assert isinstance(nan, Error)
        assert (nan.code, nan.field) == ("invalid", "traits")
        await tab.send(
            Identify(user="u-ada", token=demo_token(traits={"plan": "pro", "seats": float("inf")}))
        )
        refused = await tab.recv()
        assert isinstance(refused, Error)
        assert refused.code == "identity_refused" and "finite" in refused.message
        # Still open, and what follows is stored and acknowledged.
        await tab.send(location(2, "http://127.0.0.1:8001/home", title="Home"))
        assert await tab.recv_until(Ack) == Ack(upto=2)
        await tab.send(Identify(user="u-ada", token=demo_token(), traits={"score": 1.5}))
        assert await tab.recv() == Identified(user="u-ada")
    events = (await api(server, "/api/users/demo/u-ada/events")).json()["events"]
    assert [(e["cseq"], e["payload"]["title"]) for e in events] == [(2, "Home")]
    profile = (await api(server, "/api/users/demo/u-ada/profile")).json()
    assert profile["traits"] == {"score": 1.5}


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
