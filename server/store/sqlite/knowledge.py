"""The knowledge base: published walkthrough versions and FAQ search."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from server.store.base import (
    FaqHit,
    FaqRecord,
    VersionConflict,
    WalkthroughVersion,
    rank_hits,
    search_terms,
)
from server.store.sqlite.connection import SqliteConnection


class SqliteKnowledge(SqliteConnection):
    """The store's queries for the knowledge base and FAQ search."""

    async def publish_walkthrough(self, version: WalkthroughVersion) -> bool:
        v = version
        async with self._transaction() as db:
            async with db.execute(
                "SELECT digest FROM walkthrough_versions WHERE site = ? AND walkthrough = ? AND version = ?",
                (v.site, v.walkthrough, v.version),
            ) as cur:
                row = await cur.fetchone()
            if row is not None and row[0] != v.digest:
                raise VersionConflict(
                    f"{v.site}/{v.walkthrough} version {v.version} is already published with other steps: raise its version"
                )
            if row is None:
                await db.execute(
                    "INSERT INTO walkthrough_versions (site, walkthrough, version, process, digest, body, published_ms)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        v.site,
                        v.walkthrough,
                        v.version,
                        v.process,
                        v.digest,
                        json.dumps(v.body),
                        v.published_ms,
                    ),
                )
            upsert = (
                " ON CONFLICT (site, walkthrough) DO UPDATE SET version = excluded.version, updated_ms = excluded.updated_ms"
                if row is None
                else " ON CONFLICT (site, walkthrough) DO NOTHING"
            )
            await db.execute(
                "INSERT INTO walkthroughs (site, walkthrough, version, updated_ms) VALUES (?, ?, ?, ?)"
                + upsert,
                (v.site, v.walkthrough, v.version, v.published_ms),
            )
        return row is None

    async def walkthrough_versions(self, site: str, walkthrough: str) -> list[WalkthroughVersion]:
        async with self.reader.execute(
            "SELECT site, walkthrough, version, process, digest, body, published_ms FROM walkthrough_versions"
            " WHERE site = ? AND walkthrough = ? ORDER BY version",
            (site, walkthrough),
        ) as cur:
            rows = await cur.fetchall()
        return [_version(r) for r in rows]

    async def walkthrough_index(self, site: str) -> dict[str, int | None]:
        async with self.reader.execute(
            "SELECT walkthrough, version FROM walkthroughs WHERE site = ? ORDER BY walkthrough",
            (site,),
        ) as cur:
            rows = await cur.fetchall()
        return {r[0]: r[1] for r in rows}

    async def set_published(
        self, site: str, walkthrough: str, version: int | None, *, now_ms: int
    ) -> bool:
        async with self._transaction() as db:
            if version is not None:
                async with db.execute(
                    "SELECT 1 FROM walkthrough_versions WHERE site = ? AND walkthrough = ? AND version = ?",
                    (site, walkthrough, version),
                ) as cur:
                    if await cur.fetchone() is None:
                        return False
            cursor = await db.execute(
                "UPDATE walkthroughs SET version = ?, updated_ms = ? WHERE site = ? AND walkthrough = ?",
                (version, now_ms, site, walkthrough),
            )
            changed = cursor.rowcount
            await cursor.close()
        return changed == 1

    async def walkthrough_version(
        self, site: str, walkthrough: str, version: int
    ) -> WalkthroughVersion | None:
        async with self.reader.execute(
            "SELECT site, walkthrough, version, process, digest, body, published_ms FROM walkthrough_versions"
            " WHERE site = ? AND walkthrough = ? AND version = ?",
            (site, walkthrough, version),
        ) as cur:
            row = await cur.fetchone()
        return _version(row) if row else None

    async def published_walkthroughs(self, site: str) -> list[WalkthroughVersion]:
        async with self.reader.execute(
            "SELECT v.site, v.walkthrough, v.version, v.process, v.digest, v.body, v.published_ms"
            " FROM walkthroughs w JOIN walkthrough_versions v"
            "  ON v.site = w.site AND v.walkthrough = w.walkthrough AND v.version = w.version"
            " WHERE w.site = ? ORDER BY w.walkthrough",
            (site,),
        ) as cur:
            rows = await cur.fetchall()
        return [_version(r) for r in rows]

    async def replace_faq(self, site: str, entries: Sequence[FaqRecord]) -> None:
        async with self._transaction() as db:
            await db.execute("DELETE FROM faq_search WHERE site = ?", (site,))
            await db.executemany(
                "INSERT INTO faq_search (site, entry, processes, questions, answer) VALUES (?, ?, ?, ?, ?)",
                [
                    (site, e.entry, " ".join(e.processes), "\n".join(e.questions), e.answer)
                    for e in entries
                ],
            )

    async def search_faq(
        self, site: str, query: str, *, process: str | None = None, limit: int = 5
    ) -> list[FaqHit]:
        terms = search_terms(query)
        if not terms:
            return []
        match = " OR ".join(f'"{t}"' for t in terms)
        # Per term: does the entry match it? (coverage); bm25 is lower for better matches,
        # and questions count twice as much as answers.
        coverage = " + ".join(
            "(rowid IN (SELECT rowid FROM faq_search WHERE faq_search MATCH ?))" for _ in terms
        )
        async with self.reader.execute(
            f"SELECT entry, -bm25(faq_search, 0, 0, 0, 2.0, 1.0), processes, {coverage} FROM faq_search"
            " WHERE faq_search MATCH ? AND site = ? ORDER BY bm25(faq_search, 0, 0, 0, 2.0, 1.0) LIMIT 50",
            (*(f'"{t}"' for t in terms), match, site),
        ) as cur:
            rows = await cur.fetchall()
        return rank_hits(
            [(r[0], float(r[1]), r[2].split(), int(r[3])) for r in rows], len(terms), process, limit
        )


def _version(row: Any) -> WalkthroughVersion:
    return WalkthroughVersion(row[0], row[1], row[2], row[3], row[4], json.loads(row[5]), row[6])
