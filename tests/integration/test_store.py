"""Store smoke tests: one suite, run on SQLite and on PostgreSQL."""

from __future__ import annotations

from dataclasses import replace

import pytest

from server.store import RecordsRefused, Store, StoreError, open_store
from server.store.base import Assignment, EventRecord, migrations_for

pytestmark = [pytest.mark.anyio, pytest.mark.store]


async def test_opening_applies_every_migration(store: Store) -> None:
    assert await store.schema_version() == len(migrations_for(store.backend))
    await store.ping()


async def test_reopening_does_not_reapply_migrations(store_url: str) -> None:
    async with open_store(store_url) as first:
        version = await first.schema_version()
        await first.upsert_profile("demo", "u1", {}, now_ms=1)
    async with open_store(store_url) as second:
        assert await second.schema_version() == version
        assert await second.get_profile("demo", "u1") is not None


async def test_profile_traits_merge(store: Store) -> None:
    await store.upsert_profile(
        "demo", "u-ada", {"first_name": "Ada", "plan": "starter"}, now_ms=1_000
    )
    await store.upsert_profile("demo", "u-ada", {"plan": "business"}, now_ms=2_000)
    profile = await store.get_profile("demo", "u-ada")
    assert profile is not None
    assert profile.traits == {"first_name": "Ada", "plan": "business"}
    assert profile.created_ms == 1_000


async def test_support_items_are_appended_in_order(store: Store) -> None:
    await store.upsert_profile("demo", "u-ada", {}, now_ms=1)
    first = await store.append_support_item(
        "demo", "u-ada", "support_session", at_ms=10, payload={"process": "invite-teammate"}
    )
    second = await store.append_support_item(
        "demo", "u-ada", "support_session", at_ms=20, payload={"score": 0.2},
        failure=True, failure_reason="goal not reached",
    )  # fmt: skip
    assert second > first
    profile = await store.get_profile("demo", "u-ada")
    assert profile is not None
    assert [i.payload for i in profile.items] == [{"process": "invite-teammate"}, {"score": 0.2}]
    assert [i.failure for i in profile.items] == [False, True]
    assert profile.failures()[0].failure_reason == "goal not reached"


async def test_profiles_of_sites_are_separate(store: Store) -> None:
    await store.upsert_profile("demo", "u1", {"a": 1}, now_ms=1)
    await store.upsert_profile("other", "u1", {"b": 2}, now_ms=1)
    demo = await store.get_profile("demo", "u1")
    assert demo is not None and demo.traits == {"a": 1}
    assert await store.get_profile("demo", "nobody") is None


async def test_appending_to_an_unknown_profile_is_an_error(store: Store) -> None:
    with pytest.raises(StoreError, match="no profile"):
        await store.append_support_item("demo", "ghost", "x", at_ms=1, payload={})


async def test_unknown_store_url_is_refused() -> None:
    with pytest.raises(StoreError, match="unsupported store URL"):
        open_store("mysql://localhost/x")


def _event(
    cseq: int, *, tab: str = "tab-aaaaaaaa", user: str = "u-ada", kind: str = "location"
) -> EventRecord:
    return EventRecord(
        "demo", user, tab, cseq, kind, 1_000 + cseq, 2_000 + cseq, {"url": f"http://x/{cseq}"}
    )


async def test_events_are_stored_once_per_tab_and_cseq(store: Store) -> None:
    await store.write_events([_event(1), _event(2)])
    await store.write_events([_event(2), _event(3)])  # 2 is a resend
    events = await store.read_events("demo", tab="tab-aaaaaaaa")
    assert [e.cseq for e in events] == [1, 2, 3]
    assert events[1].payload == {"url": "http://x/2"}
    assert await store.last_cseq("demo", "tab-aaaaaaaa") == 3
    assert await store.last_cseq("demo", "tab-unknown") == 0


async def test_events_can_be_read_from_a_time_on(store: Store) -> None:
    await store.write_events([_event(c) for c in (1, 2, 3, 4)])  # received at 2001 … 2004
    later = await store.read_events("demo", tab="tab-aaaaaaaa", received_since_ms=2003)
    assert [e.cseq for e in later] == [3, 4]
    paged = await store.read_events("demo", received_since_ms=2002, after_id=later[0].id)
    assert [e.cseq for e in paged] == [4]


async def test_concurrent_writes_share_commits(store: Store) -> None:
    import asyncio

    tabs = [f"tab-{i:08d}" for i in range(50)]
    await asyncio.gather(*(store.write_events([_event(c, tab=t) for c in (1, 2)]) for t in tabs))
    events = await store.read_events("demo", limit=10_000)
    assert len(events) == 100
    writer = store._events  # type: ignore[attr-defined]
    assert writer.batches < 50, "concurrent writes should be grouped into fewer commits"


async def _write_together(store: Store, *writes: list[EventRecord]) -> list[object]:
    """Writes queued at once, so the store commits them in one batch first."""
    import asyncio

    return await asyncio.gather(*(store.write_events(w) for w in writes), return_exceptions=True)


async def test_an_event_the_store_refuses_fails_its_own_write_only(store: Store) -> None:
    bad = EventRecord("demo", "u-bad", "tab-bad00000", 2, "location", 1, 1, {"x": float("nan")})
    outcomes = await _write_together(
        store,
        [_event(1, tab="tab-aaaaaaaa"), _event(2, tab="tab-aaaaaaaa")],
        [_event(1, tab="tab-bad00000"), bad, _event(3, tab="tab-bad00000")],
        [_event(1, tab="tab-cccccccc")],
    )
    assert outcomes[0] is None and outcomes[2] is None
    assert isinstance(outcomes[1], RecordsRefused)
    stored = await store.read_events("demo", limit=100)
    # The refused write stored nothing, not even its good events: no gap for that tab.
    assert [(e.tab, e.cseq) for e in stored] == [
        ("tab-aaaaaaaa", 1),
        ("tab-aaaaaaaa", 2),
        ("tab-cccccccc", 1),
    ]
    assert await store.last_cseq("demo", "tab-bad00000") == 0


@pytest.mark.parametrize("store_url", ["postgres"], indirect=True)  # SQLite stores NUL
async def test_a_nul_postgres_refuses_fails_its_own_write_only(store: Store) -> None:
    """A NUL in text or jsonb makes PostgreSQL refuse the whole statement; other tabs still commit."""
    in_payload = EventRecord("demo", "u-ada", "tab-nul00000", 1, "location", 1, 1, {"t": "a\x00"})
    in_column = _event(1, tab="tab-nul11111", user="u-\x00")
    outcomes = await _write_together(
        store,
        [_event(1, tab="tab-aaaaaaaa")],
        [in_payload],
        [_event(1, tab="tab-bbbbbbbb")],
        [in_column],
        [_event(2, tab="tab-aaaaaaaa")],
    )
    assert [type(o).__name__ for o in outcomes] == [
        "NoneType",
        "RecordsRefused",
        "NoneType",
        "RecordsRefused",
        "NoneType",
    ]
    stored = await store.read_events("demo", limit=100)
    assert [(e.tab, e.cseq) for e in stored] == [
        ("tab-aaaaaaaa", 1),
        ("tab-bbbbbbbb", 1),
        ("tab-aaaaaaaa", 2),
    ]


async def test_events_are_read_by_range_and_filter(store: Store) -> None:
    await store.write_events(
        [_event(i, kind="focus" if i % 2 else "location") for i in range(1, 11)]
    )
    await store.write_events([_event(1, tab="tab-bbbbbbbb", user="u-grace")])
    first = await store.read_events("demo", user_id="u-ada", limit=4)
    assert [e.cseq for e in first] == [1, 2, 3, 4]
    rest = await store.read_events("demo", user_id="u-ada", after_id=first[-1].id)
    assert [e.cseq for e in rest] == [5, 6, 7, 8, 9, 10]
    locations = await store.read_events("demo", user_id="u-ada", kinds=["location"])
    assert {e.kind for e in locations} == {"location"} and len(locations) == 5
    assert [e.user_id for e in await store.read_events("demo", tab="tab-bbbbbbbb")] == ["u-grace"]


async def test_server_value_keeps_the_first_value(store: Store) -> None:
    assert await store.server_value("anon-secret", "first") == "first"
    assert await store.server_value("anon-secret", "second") == "first"


async def test_the_audit_log_is_append_only(store: Store) -> None:
    first = await store.append_audit(
        "demo",
        at_ms=1,
        actor="ada@acme.test",
        action="session.viewed",
        target="sess-1",
        detail={"address": "10.0.0.1"},
    )
    second = await store.append_audit("demo", at_ms=2, actor="ada@acme.test", action="signed_out")
    await store.append_audit("shop", at_ms=3, actor="sam@shop.test", action="signed_in")
    entries = await store.read_audit("demo")
    assert [(e.id, e.action, e.target) for e in entries] == [
        (second, "signed_out", ""),
        (first, "session.viewed", "sess-1"),
    ]
    assert entries[1].detail == {"address": "10.0.0.1"}
    # Not through the store's API, nor behind its back: the database itself refuses.
    statements = ["UPDATE audit_log SET actor = 'eve'", "DELETE FROM audit_log"]
    if getattr(store, "db", None) is None:
        statements.append("TRUNCATE audit_log")  # PostgreSQL: row triggers alone would not see it
    for statement in statements:
        with pytest.raises(Exception, match="append-only"):
            await _raw(store, statement)
    assert len(await store.read_audit("demo")) == 2


async def test_one_sessions_open_assignment_is_read_alone(store: Store) -> None:
    queued = Assignment("demo", "sess-1", "u-ada", "queued", 10, needs=("billing",))
    assert await store.add_assignment(queued)
    assert await store.add_assignment(Assignment("demo", "sess-2", "u-bob", "queued", 20))
    assert await store.add_assignment(Assignment("shop", "sess-1", "u-cy", "queued", 5))
    assert await store.open_assignment("demo", "sess-1") == queued
    assert await store.open_assignment("demo", "nope") is None
    listed = {a.session: a for a in await store.open_assignments("demo")}
    assert await store.open_assignment("demo", "sess-2") == listed["sess-2"]
    offered = replace(queued, state="offered", agent="ada@acme.test", offered_ms=30)
    assert await store.update_assignment(offered, revision=0)
    assert await store.open_assignment("demo", "sess-1") == replace(offered, revision=1)
    closed = replace(offered, state="closed", closed_ms=40)
    assert await store.update_assignment(closed, revision=1)
    assert await store.open_assignment("demo", "sess-1") is None  # closed: as open_assignments
    assert [a.session for a in await store.open_assignments("demo")] == ["sess-2"]
    assert (found := await store.open_assignment("shop", "sess-1")) is not None
    assert found.user_id == "u-cy"


async def _raw(store: Store, statement: str) -> None:
    db = getattr(store, "db", None)
    if db is not None:  # SQLite
        await db.execute(statement)
    else:
        await store.pool.execute(statement)  # type: ignore[attr-defined]
