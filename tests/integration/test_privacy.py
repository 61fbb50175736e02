"""A visitor's data, on both stores: exported whole, erased whole (nothing of theirs left in any
table — checked by scanning every row), audit entries kept under a pseudonym that no longer
leads to them; and the site's retention deleting old events."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from server.protocol.messages import Ack, Chat, HelpAnswer, Location, Rating
from server.store.base import EventRecord, Store
from server.web.privacy import DAY_MS, apply_retention
from tests.integration.live_server import ADMIN_TOKEN, LiveServer, tab_client
from tests.integration.test_agent_routing import agent, go_online
from tests.integration.test_agent_sessions import console_csrf, greet
from tests.integration.test_cobrowse import referred_and_taken
from tests.integration.test_console import client, sign_in

pytestmark = pytest.mark.anyio


async def every_row(store: Store) -> list[str]:
    """Every row of every table of the store, as text."""
    rows: list[str] = []
    if store.backend == "sqlite":
        db = store.db  # type: ignore[attr-defined]
        async with db.execute("SELECT name FROM sqlite_master WHERE type = 'table'") as cur:
            tables = [r[0] for r in await cur.fetchall()]
        for table in tables:
            async with db.execute(f"SELECT * FROM {table}") as cur:
                rows += [repr(tuple(r)) for r in await cur.fetchall()]
    else:
        pool = store.pool  # type: ignore[attr-defined]
        tables = await pool.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = $1",
            store.schema,  # type: ignore[attr-defined]
        )
        for (table,) in tables:
            rows += [repr(tuple(r)) for r in await pool.fetch(f'SELECT * FROM "{table}"')]
    return rows


async def test_a_visitor_is_exported_whole_and_erased_whole(server: LiveServer) -> None:
    await agent(server, "ada@acme.test")
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    async with client(server) as http, tab_client(server) as tab:
        await sign_in(http, "demo", "ada@acme.test")
        await go_online(http)
        session = await referred_and_taken(server, http, tab)
        await http.get(f"/console/demo/sessions/{session}")  # viewed: audited
        url = "http://127.0.0.1:8001/billing?card=u-grace-card"
        await tab.send(Location(cseq=1, at=int(time.time() * 1000), url=url))
        await tab.send(Chat(cseq=2, at=1, session=session, text="my card u-grace-card fails"))
        await tab.recv_until(Ack)
        csrf = await console_csrf(http)
        await http.post(f"/console/demo/sessions/{session}/close", data={"csrf": csrf, "outcome": "resolved"})  # fmt: skip
        await tab.recv_until(HelpAnswer)
        await tab.send(Rating(cseq=3, at=2, session=session, score=5))  # audited, by pseudonym
        ack = await tab.recv_until(Ack)
        while ack.upto < 3:
            ack = await tab.recv_until(Ack)
    # Someone else's data stays.
    async with tab_client(server) as other:
        await greet(other, "u-alan", "tab-alan-privacy")
        await other.send(Location(cseq=1, at=1, url="http://127.0.0.1:8001/team"))
        await other.recv_until(Ack)

    store = server.state.store
    before = await every_row(store)
    assert any("u-grace" in row for row in before)
    async with client(server) as http:
        exported = (await http.get("/api/users/demo/u-grace/export", headers=headers)).json()
        tables: dict[str, list[dict[str, Any]]] = exported["tables"]
        assert {k for k, v in tables.items() if v} >= {
            "profiles", "events", "support_items", "assignments", "pseudonyms", "audit_log"
        }  # fmt: skip
        pseudonym = tables["pseudonyms"][0]["pseudonym"]
        named = {(e["action"], e["actor"]) for e in tables["audit_log"]}
        assert ("session.rated", f"visitor:{pseudonym}") in named
        assert any(a == "session.viewed" for a, _ in named)
        assert "my card u-grace-card fails" in json.dumps(tables["support_items"])
        # The audit log never holds the visitor's id, only their pseudonym.
        assert not [e for e in await store.read_audit("demo", limit=500) if "u-grace" in repr(e)]

        erased = await http.delete("/api/users/demo/u-grace", headers=headers)
        assert erased.status_code == 200
        deleted = erased.json()["deleted"]
        assert deleted["profiles"] == 1 and deleted["events"] >= 1 and deleted["pseudonyms"] == 1

        after = await every_row(store)
        assert [row for row in after if "u-grace" in row] == []
        assert any(pseudonym in row for row in after)  # the audit entries stay, linked to no one
        assert any("u-alan" in row for row in after)
        again = (await http.get("/api/users/demo/u-grace/export", headers=headers)).json()
        assert all(rows == [] for table, rows in again["tables"].items())
        assert (await http.delete("/api/users/demo/u-grace")).status_code == 401
    actions = [e.action for e in await store.read_audit("demo", limit=500)]
    assert actions.count("visitor.exported") == 2 and actions.count("visitor.erased") == 1


async def test_retention_deletes_only_events_older_than_the_site_keeps_them(store: Store) -> None:
    now = int(time.time() * 1000)
    await store.upsert_profile("demo", "u-old", {}, now_ms=now)
    ages = [40, 31, 29, 1]  # days
    await store.write_events(
        [EventRecord("demo", "u-old", "tab-retention", i + 1, "location", now - d * DAY_MS,
                     now - d * DAY_MS, {"url": f"https://a.test/{d}"})
         for i, d in enumerate(ages)]
    )  # fmt: skip
    await store.write_events(
        [EventRecord("shop", "u-old", "tab-retention-shop", 1, "location", 0, 0, {"url": "x"})]
    )
    assert await apply_retention(store, {"demo": 30}, now=now) == {"demo": 2}
    left = await store.read_events("demo", user_id="u-old")
    assert [e.payload["url"] for e in left] == ["https://a.test/29", "https://a.test/1"]
    assert len(await store.read_events("shop", user_id="u-old")) == 1  # another site keeps its own
    [entry] = [e for e in await store.read_audit("demo") if e.action == "retention.applied"]
    assert entry.detail["events_deleted"] == 2 and entry.detail["days"] == 30


async def test_erasing_a_connected_visitor_closes_their_tab_and_nothing_comes_back(
    server: LiveServer,
) -> None:
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    async with tab_client(server) as tab:
        await greet(tab, "u-leaving", "tab-erased-live")
        await tab.send(Location(cseq=1, at=1, url="http://127.0.0.1:8001/team"))
        await tab.recv_until(Ack)
        async with client(server) as http:
            erased = await http.delete("/api/users/demo/u-leaving", headers=headers)
            assert erased.status_code == 200
        code, reason = await tab.closed()
        assert (code, reason.split(":")[0]) == (1008, "erased")
    assert [row for row in await every_row(server.state.store) if "u-leaving" in row] == []
    assert await server.state.live.tabs("demo", "u-leaving") == []
