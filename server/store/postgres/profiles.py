"""Profiles and their append-only support data items."""

from __future__ import annotations

from typing import Any

import asyncpg

from server.store.base import (
    StoreError,
)
from server.store.postgres.connection import PostgresConnection
from server.support.profile import Profile, SupportItem


class PostgresProfiles(PostgresConnection):
    """The store's queries for profiles and support data items."""

    async def upsert_profile(
        self, site: str, user_id: str, traits: dict[str, Any], *, now_ms: int
    ) -> None:
        await self.pool.execute(
            "INSERT INTO profiles (site, user_id, traits, created_ms, updated_ms)"
            " VALUES ($1, $2, $3, $4, $4)"
            " ON CONFLICT (site, user_id) DO UPDATE SET"
            "  traits = profiles.traits || excluded.traits, updated_ms = excluded.updated_ms",
            site,
            user_id,
            traits,
            now_ms,
        )

    async def append_support_item(
        self,
        site: str,
        user_id: str,
        kind: str,
        *,
        at_ms: int,
        payload: dict[str, Any],
        failure: bool = False,
        failure_reason: str | None = None,
    ) -> int:
        try:
            item_id = await self.pool.fetchval(
                "INSERT INTO support_items (site, user_id, kind, at_ms, payload, failure, failure_reason)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
                site,
                user_id,
                kind,
                at_ms,
                payload,
                failure,
                failure_reason,
            )
        except asyncpg.ForeignKeyViolationError as exc:
            raise StoreError(f"no profile for {site}/{user_id}: {exc}") from exc
        return int(item_id)

    async def get_profile(self, site: str, user_id: str) -> Profile | None:
        async with self.pool.acquire() as conn:
            row = await conn.fetchrow(
                "SELECT traits, created_ms FROM profiles WHERE site = $1 AND user_id = $2",
                site,
                user_id,
            )
            if row is None:
                return None
            rows = await conn.fetch(
                "SELECT id, kind, at_ms, payload, failure, failure_reason FROM support_items"
                " WHERE site = $1 AND user_id = $2 ORDER BY id",
                site,
                user_id,
            )
        items = tuple(
            SupportItem(
                r["id"], r["kind"], r["at_ms"], r["payload"], r["failure"], r["failure_reason"]
            )
            for r in rows
        )
        return Profile(site, user_id, row["traits"], row["created_ms"], items)

    async def support_items_between(
        self, site: str, since_ms: int, until_ms: int
    ) -> list[tuple[str, SupportItem]]:
        rows = await self.pool.fetch(
            "SELECT user_id, id, kind, at_ms, payload, failure, failure_reason FROM support_items"
            " WHERE site = $1 AND at_ms >= $2 AND at_ms < $3 ORDER BY id",
            site, since_ms, until_ms,
        )  # fmt: skip
        return [
            (r["user_id"], SupportItem(r["id"], r["kind"], r["at_ms"], r["payload"], r["failure"], r["failure_reason"]))
            for r in rows
        ]  # fmt: skip

    async def recent_referrals(
        self, site: str, *, limit: int = 50
    ) -> list[tuple[str, SupportItem]]:
        rows = await self.pool.fetch(
            "SELECT user_id, id, kind, at_ms, payload, failure, failure_reason FROM support_items"
            " WHERE site = $1 AND payload ? 'referral' ORDER BY id DESC LIMIT $2",
            site,
            limit,
        )
        return [
            (
                r["user_id"],
                SupportItem(
                    r["id"], r["kind"], r["at_ms"], r["payload"], r["failure"], r["failure_reason"]
                ),
            )
            for r in rows
        ]

    async def support_session(
        self, site: str, session: str
    ) -> tuple[str, list[SupportItem]] | None:
        rows = await self.pool.fetch(
            "SELECT user_id, id, kind, at_ms, payload, failure, failure_reason FROM support_items"
            " WHERE site = $1 AND payload->>'session' = $2 ORDER BY id",
            site,
            session,
        )
        if not rows:
            return None
        return rows[0]["user_id"], [
            SupportItem(
                r["id"], r["kind"], r["at_ms"], r["payload"], r["failure"], r["failure_reason"]
            )
            for r in rows
        ]
