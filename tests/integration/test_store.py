"""Store smoke tests: one suite, run on SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest

from server.store import Store, StoreError, open_store
from server.store.base import migrations_for

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
