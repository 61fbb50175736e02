"""Profiles and their append-only support data items."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from server.store.base import (
    StoreError,
)
from server.store.sqlite.connection import SqliteConnection
from server.support.profile import Profile, SupportItem


class SqliteProfiles(SqliteConnection):
    """The store's queries for profiles and support data items."""

    async def upsert_profile(
        self, site: str, user_id: str, traits: dict[str, Any], *, now_ms: int
    ) -> None:
        await self._write(
            "INSERT INTO profiles (site, user_id, traits, created_ms, updated_ms)"
            " VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (site, user_id) DO UPDATE SET"
            "  traits = json_patch(profiles.traits, excluded.traits),"
            "  updated_ms = excluded.updated_ms",
            (site, user_id, json.dumps(traits), now_ms, now_ms),
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
            item_id = await self._write(
                "INSERT INTO support_items (site, user_id, kind, at_ms, payload, failure, failure_reason)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (site, user_id, kind, at_ms, json.dumps(payload), int(failure), failure_reason),
            )
        except sqlite3.IntegrityError as exc:
            raise StoreError(f"no profile for {site}/{user_id}: {exc}") from exc
        assert item_id is not None
        return item_id

    async def get_profile(self, site: str, user_id: str) -> Profile | None:
        async with self.reader.execute(
            "SELECT traits, created_ms FROM profiles WHERE site = ? AND user_id = ?",
            (site, user_id),
        ) as cur:
            row = await cur.fetchone()
        if row is None:
            return None
        async with self.reader.execute(
            "SELECT id, kind, at_ms, payload, failure, failure_reason FROM support_items"
            " WHERE site = ? AND user_id = ? ORDER BY id",
            (site, user_id),
        ) as cur:
            items = tuple(
                SupportItem(r[0], r[1], r[2], json.loads(r[3]), bool(r[4]), r[5])
                for r in await cur.fetchall()
            )
        return Profile(site, user_id, json.loads(row[0]), row[1], items)

    async def recent_referrals(
        self, site: str, *, limit: int = 50
    ) -> list[tuple[str, SupportItem]]:
        async with self.reader.execute(
            "SELECT user_id, id, kind, at_ms, payload, failure, failure_reason FROM support_items"
            " WHERE site = ? AND json_extract(payload, '$.referral') IS NOT NULL ORDER BY id DESC LIMIT ?",
            (site, limit),
        ) as cur:
            rows = list(await cur.fetchall())
        return [
            (r[0], SupportItem(r[1], r[2], r[3], json.loads(r[4]), bool(r[5]), r[6])) for r in rows
        ]

    async def support_items_between(
        self, site: str, since_ms: int, until_ms: int
    ) -> list[tuple[str, SupportItem]]:
        async with self.reader.execute(
            "SELECT user_id, id, kind, at_ms, payload, failure, failure_reason FROM support_items"
            " WHERE site = ? AND at_ms >= ? AND at_ms < ? ORDER BY id",
            (site, since_ms, until_ms),
        ) as cur:
            rows = list(await cur.fetchall())
        return [
            (r[0], SupportItem(r[1], r[2], r[3], json.loads(r[4]), bool(r[5]), r[6])) for r in rows
        ]

    async def support_session(
        self, site: str, session: str
    ) -> tuple[str, list[SupportItem]] | None:
        async with self.reader.execute(
            "SELECT user_id, id, kind, at_ms, payload, failure, failure_reason FROM support_items"
            " WHERE site = ? AND json_extract(payload, '$.session') = ? ORDER BY id",
            (site, session),
        ) as cur:
            rows = list(await cur.fetchall())
        if not rows:
            return None
        return rows[0][0], [
            SupportItem(r[1], r[2], r[3], json.loads(r[4]), bool(r[5]), r[6]) for r in rows
        ]
