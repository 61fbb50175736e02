"""Event streams: grouped commits in, ranges out."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from server.store.base import (
    EventRecord,
    RecordsRefused,
    StoredEvent,
)
from server.store.sqlite.connection import EVENT_COLUMNS, SqliteConnection


class SqliteEvents(SqliteConnection):
    """The store's queries for the event streams."""

    async def write_events(self, events: Sequence[EventRecord]) -> None:
        await self._events.write(events)

    async def _flush_events(self, events: list[EventRecord]) -> None:
        try:
            rows = [
                (
                    e.site,
                    e.user_id,
                    e.tab,
                    e.cseq,
                    e.kind,
                    e.at_ms,
                    e.received_ms,
                    json.dumps(e.payload, allow_nan=False),
                )
                for e in events
            ]
        except (TypeError, ValueError) as exc:  # a payload JSON cannot hold (NaN, an object)
            raise RecordsRefused(f"an event's payload is not JSON: {exc}") from exc
        try:
            async with self._transaction():
                await self.db.executemany(
                    "INSERT OR IGNORE INTO events"
                    " (site, user_id, tab, cseq, kind, at_ms, received_ms, payload)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
        except (sqlite3.DataError, sqlite3.IntegrityError, OverflowError) as exc:
            raise RecordsRefused(f"SQLite refused the events: {exc}") from exc

    async def last_cseq(self, site: str, tab: str) -> int:
        async with self.reader.execute(
            "SELECT COALESCE(MAX(cseq), 0) FROM events WHERE site = ? AND tab = ?", (site, tab)
        ) as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def read_events(
        self,
        site: str,
        *,
        user_id: str | None = None,
        tab: str | None = None,
        kinds: Sequence[str] | None = None,
        after_id: int = 0,
        limit: int = 1000,
        received_since_ms: int | None = None,
    ) -> list[StoredEvent]:
        where = ["site = ?", "id > ?"]
        params: list[Any] = [site, after_id]
        if user_id is not None:
            where.append("user_id = ?")
            params.append(user_id)
        if tab is not None:
            where.append("tab = ?")
            params.append(tab)
        if kinds:
            where.append(f"kind IN ({', '.join('?' * len(kinds))})")
            params.extend(kinds)
        if received_since_ms is not None:
            where.append("received_ms >= ?")
            params.append(received_since_ms)
        params.append(limit)
        sql = f"SELECT {EVENT_COLUMNS} FROM events WHERE {' AND '.join(where)} ORDER BY id LIMIT ?"
        async with self.reader.execute(sql, params) as cur:
            rows = await cur.fetchall()
        return [
            StoredEvent(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], json.loads(r[8]))
            for r in rows
        ]
