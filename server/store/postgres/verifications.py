"""What ``tandem verify`` found of walkthrough versions, kept for the console."""

from __future__ import annotations

from server.store.base import Verification
from server.store.postgres.connection import PostgresConnection


class PostgresVerifications(PostgresConnection):
    async def add_verification(self, verification: Verification) -> None:
        v = verification
        await self.pool.execute(
            "INSERT INTO verifications (site, walkthrough, version, at_ms, base_url, ok, steps)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7)",
            v.site, v.walkthrough, v.version, v.at_ms, v.base_url, v.ok, v.steps,
        )  # fmt: skip

    async def latest_verifications(
        self, site: str, walkthrough: str, *, limit: int = 5
    ) -> list[Verification]:
        rows = await self.pool.fetch(
            "SELECT site, walkthrough, version, at_ms, base_url, ok, steps FROM verifications"
            " WHERE site = $1 AND walkthrough = $2 ORDER BY id DESC LIMIT $3",
            site, walkthrough, limit,
        )  # fmt: skip
        return [Verification(*tuple(r)) for r in rows]
