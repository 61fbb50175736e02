"""The knowledge base: published walkthrough versions and FAQ search."""

from __future__ import annotations

from collections.abc import Sequence

from server.store.base import (
    FaqHit,
    FaqRecord,
    VersionConflict,
    WalkthroughVersion,
    rank_hits,
    search_terms,
)
from server.store.postgres.connection import PostgresConnection


class PostgresKnowledge(PostgresConnection):
    """The store's queries for the knowledge base and FAQ search."""

    async def publish_walkthrough(self, version: WalkthroughVersion) -> bool:
        v = version
        async with self.pool.acquire() as conn, conn.transaction():
            # Serialise publishers of the same walkthrough (another node may load the same folder).
            await conn.execute(
                "SELECT pg_advisory_xact_lock(hashtext($1))", f"{v.site}/{v.walkthrough}"
            )
            digest = await conn.fetchval(
                "SELECT digest FROM walkthrough_versions WHERE site = $1 AND walkthrough = $2 AND version = $3",
                v.site, v.walkthrough, v.version,
            )  # fmt: skip
            if digest is not None and digest != v.digest:
                raise VersionConflict(
                    f"{v.site}/{v.walkthrough} version {v.version} is already published with other steps: raise its version"
                )
            if digest is None:
                await conn.execute(
                    "INSERT INTO walkthrough_versions (site, walkthrough, version, process, digest, body, published_ms)"
                    " VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    v.site, v.walkthrough, v.version, v.process, v.digest, v.body, v.published_ms,
                )  # fmt: skip
            upsert = (
                " ON CONFLICT (site, walkthrough) DO UPDATE SET version = excluded.version, updated_ms = excluded.updated_ms"
                if digest is None
                else " ON CONFLICT (site, walkthrough) DO NOTHING"
            )
            await conn.execute(
                "INSERT INTO walkthroughs (site, walkthrough, version, updated_ms) VALUES ($1, $2, $3, $4)"
                + upsert,
                v.site, v.walkthrough, v.version, v.published_ms,
            )  # fmt: skip
        return digest is None

    async def walkthrough_versions(self, site: str, walkthrough: str) -> list[WalkthroughVersion]:
        rows = await self.pool.fetch(
            "SELECT site, walkthrough, version, process, digest, body, published_ms FROM walkthrough_versions"
            " WHERE site = $1 AND walkthrough = $2 ORDER BY version",
            site, walkthrough,
        )  # fmt: skip
        return [WalkthroughVersion(*tuple(r)) for r in rows]

    async def walkthrough_index(self, site: str) -> dict[str, int | None]:
        rows = await self.pool.fetch(
            "SELECT walkthrough, version FROM walkthroughs WHERE site = $1 ORDER BY walkthrough",
            site,
        )
        return {r[0]: r[1] for r in rows}

    async def set_published(
        self, site: str, walkthrough: str, version: int | None, *, now_ms: int
    ) -> bool:
        async with self.pool.acquire() as conn, conn.transaction():
            if version is not None and not await conn.fetchval(
                "SELECT 1 FROM walkthrough_versions WHERE site = $1 AND walkthrough = $2 AND version = $3",
                site, walkthrough, version,
            ):  # fmt: skip
                return False
            status = await conn.execute(
                "UPDATE walkthroughs SET version = $1, updated_ms = $2 WHERE site = $3 AND walkthrough = $4",
                version, now_ms, site, walkthrough,
            )  # fmt: skip
        return status.split()[-1] == "1"

    async def walkthrough_version(
        self, site: str, walkthrough: str, version: int
    ) -> WalkthroughVersion | None:
        row = await self.pool.fetchrow(
            "SELECT site, walkthrough, version, process, digest, body, published_ms FROM walkthrough_versions"
            " WHERE site = $1 AND walkthrough = $2 AND version = $3",
            site, walkthrough, version,
        )  # fmt: skip
        return WalkthroughVersion(*tuple(row)) if row else None

    async def published_walkthroughs(self, site: str) -> list[WalkthroughVersion]:
        rows = await self.pool.fetch(
            "SELECT v.site, v.walkthrough, v.version, v.process, v.digest, v.body, v.published_ms"
            " FROM walkthroughs w JOIN walkthrough_versions v"
            "  ON v.site = w.site AND v.walkthrough = w.walkthrough AND v.version = w.version"
            " WHERE w.site = $1 ORDER BY w.walkthrough",
            site,
        )
        return [WalkthroughVersion(*tuple(r)) for r in rows]

    async def replace_faq(self, site: str, entries: Sequence[FaqRecord]) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("DELETE FROM faq_entries WHERE site = $1", site)
            await conn.executemany(
                "INSERT INTO faq_entries (site, entry, processes, questions, answer) VALUES ($1, $2, $3, $4, $5)",
                [
                    (site, e.entry, list(e.processes), "\n".join(e.questions), e.answer)
                    for e in entries
                ],
            )

    async def search_faq(
        self, site: str, query: str, *, process: str | None = None, limit: int = 5
    ) -> list[FaqHit]:
        terms = search_terms(query)
        if not terms:
            return []
        # Each term goes through plainto_tsquery (stemming, stop words), then OR-ed together.
        rows = await self.pool.fetch(
            "WITH t AS (SELECT plainto_tsquery('english', w) AS q FROM unnest($2::text[]) AS w),"
            " q AS (SELECT to_tsquery('english', string_agg(NULLIF(q::text, ''), ' | ')) AS query FROM t)"
            " SELECT entry, ts_rank_cd(document, q.query) AS rank, processes,"
            "  (SELECT count(*) FROM t WHERE t.q::text <> '' AND document @@ t.q) AS matched"
            " FROM faq_entries, q"
            " WHERE site = $1 AND q.query IS NOT NULL AND document @@ q.query ORDER BY rank DESC LIMIT 50",
            site,
            terms,
        )
        return rank_hits(
            [(r["entry"], float(r["rank"]), r["processes"], int(r["matched"])) for r in rows],
            len(terms),
            process,
            limit,
        )
