"""A visitor's data as a whole: their pseudonym, an export, an erasure; retention of events."""

from __future__ import annotations

import json
from typing import Any

from server.store.base import JSON_COLUMNS, VISITOR_TABLES, new_pseudonym
from server.store.sqlite.connection import SqliteConnection


class SqlitePrivacy(SqliteConnection):
    async def visitor_pseudonym(self, site: str, user_id: str) -> str:
        await self._write(
            "INSERT INTO pseudonyms (site, user_id, pseudonym) VALUES (?, ?, ?)"
            " ON CONFLICT (site, user_id) DO NOTHING",
            (site, user_id, new_pseudonym()),
        )
        async with self.db.execute(
            "SELECT pseudonym FROM pseudonyms WHERE site = ? AND user_id = ?", (site, user_id)
        ) as cur:
            row = await cur.fetchone()
        assert row is not None
        return str(row[0])

    async def export_visitor(self, site: str, user_id: str) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        for table in VISITOR_TABLES:
            out[table] = await self._rows(
                f"SELECT * FROM {table} WHERE site = ? AND user_id = ?", (site, user_id)
            )
        pseudonyms = [r["pseudonym"] for r in out["pseudonyms"]]
        out["audit_log"] = []
        for pseudonym in pseudonyms:
            out["audit_log"] += await self._rows(
                "SELECT * FROM audit_log WHERE site = ? AND (actor = ? OR target = ? OR instr(detail, ?) > 0)"
                " ORDER BY id",
                (site, f"visitor:{pseudonym}", f"visitor:{pseudonym}", json.dumps(pseudonym)),
            )
        return out

    async def _rows(self, sql: str, params: tuple[Any, ...]) -> list[dict[str, Any]]:
        async with self.db.execute(sql, params) as cur:
            names = [d[0] for d in cur.description]
            rows = await cur.fetchall()
        return [
            {n: json.loads(v) if n in JSON_COLUMNS and isinstance(v, str) else v
             for n, v in zip(names, row, strict=True)}
            for row in rows
        ]  # fmt: skip

    async def erase_visitor(self, site: str, user_id: str) -> dict[str, int]:
        deleted: dict[str, int] = {}
        async with self._transaction() as db:
            for table in VISITOR_TABLES:
                cursor = await db.execute(
                    f"DELETE FROM {table} WHERE site = ? AND user_id = ?", (site, user_id)
                )
                deleted[table] = cursor.rowcount
                await cursor.close()
        return deleted

    async def delete_events_before(self, site: str, before_ms: int) -> int:
        async with self._transaction() as db:
            cursor = await db.execute(
                "DELETE FROM events WHERE site = ? AND received_ms < ?", (site, before_ms)
            )
            count = cursor.rowcount
            await cursor.close()
        return count
