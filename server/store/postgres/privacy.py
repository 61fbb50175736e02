"""A visitor's data as a whole: their pseudonym, an export, an erasure; retention of events."""

from __future__ import annotations

import json
from typing import Any

from server.store.base import VISITOR_TABLES, new_pseudonym
from server.store.postgres.connection import PostgresConnection


class PostgresPrivacy(PostgresConnection):
    async def visitor_pseudonym(self, site: str, user_id: str) -> str:
        await self.pool.execute(
            "INSERT INTO pseudonyms (site, user_id, pseudonym) VALUES ($1, $2, $3)"
            " ON CONFLICT (site, user_id) DO NOTHING",
            site, user_id, new_pseudonym(),
        )  # fmt: skip
        found = await self.pool.fetchval(
            "SELECT pseudonym FROM pseudonyms WHERE site = $1 AND user_id = $2", site, user_id
        )
        return str(found)

    async def export_visitor(self, site: str, user_id: str) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        for table in VISITOR_TABLES:
            rows = await self.pool.fetch(
                f"SELECT * FROM {table} WHERE site = $1 AND user_id = $2", site, user_id
            )
            out[table] = [dict(r) for r in rows]
        out["audit_log"] = []
        for row in out["pseudonyms"]:
            pseudonym = row["pseudonym"]
            rows = await self.pool.fetch(
                "SELECT * FROM audit_log WHERE site = $1 AND (actor = $2 OR target = $2 OR strpos(detail::text, $3) > 0)"
                " ORDER BY id",
                site, f"visitor:{pseudonym}", json.dumps(pseudonym),
            )  # fmt: skip
            out["audit_log"] += [dict(r) for r in rows]
        return out

    async def erase_visitor(self, site: str, user_id: str) -> dict[str, int]:
        deleted: dict[str, int] = {}
        async with self.pool.acquire() as conn, conn.transaction():
            for table in VISITOR_TABLES:
                status = await conn.execute(
                    f"DELETE FROM {table} WHERE site = $1 AND user_id = $2", site, user_id
                )
                deleted[table] = int(status.split()[-1])
        return deleted

    async def delete_events_before(self, site: str, before_ms: int) -> int:
        status = await self.pool.execute(
            "DELETE FROM events WHERE site = $1 AND received_ms < $2", site, before_ms
        )
        return int(status.split()[-1])
