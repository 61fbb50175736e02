"""What ``tandem verify`` found of walkthrough versions, kept for the console."""

from __future__ import annotations

import json

from server.store.base import Verification
from server.store.sqlite.connection import SqliteConnection


class SqliteVerifications(SqliteConnection):
    async def add_verification(self, verification: Verification) -> None:
        v = verification
        await self._write(
            "INSERT INTO verifications (site, walkthrough, version, at_ms, base_url, ok, steps)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (v.site, v.walkthrough, v.version, v.at_ms, v.base_url, int(v.ok), json.dumps(v.steps)),
        )

    async def latest_verifications(
        self, site: str, walkthrough: str, *, limit: int = 5
    ) -> list[Verification]:
        async with self.reader.execute(
            "SELECT site, walkthrough, version, at_ms, base_url, ok, steps FROM verifications"
            " WHERE site = ? AND walkthrough = ? ORDER BY id DESC LIMIT ?",
            (site, walkthrough, limit),
        ) as cur:
            rows = await cur.fetchall()
        return [
            Verification(r[0], r[1], r[2], r[3], r[4], bool(r[5]), json.loads(r[6])) for r in rows
        ]
