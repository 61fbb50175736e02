"""SQLite backend (the embedded default), through aiosqlite.

WAL journal, so the reader connection never blocks the writer; one writer
connection whose transactions are serialised by a lock; events go through a
group-commit writer task, so many concurrent writes share one transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import aiosqlite

from server.store.base import (
    EventRecord,
    FaqHit,
    FaqRecord,
    Store,
    StoredEvent,
    StoredRun,
    StoreError,
    StoreUnavailable,
    VersionConflict,
    WalkthroughVersion,
    migrations_for,
    rank_hits,
    run_from_row,
    run_row,
    search_terms,
)
from server.store.writer import GroupCommitWriter
from server.support.profile import Profile, SupportItem
from server.support.run import Run

_PRAGMAS = (
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = NORMAL",
    "PRAGMA foreign_keys = ON",
    "PRAGMA busy_timeout = 5000",
)

_EVENT_COLUMNS = "id, site, user_id, tab, cseq, kind, at_ms, received_ms, payload"


def sqlite_path(url: str) -> str:
    """``sqlite:///var/t.db`` → ``var/t.db``; ``sqlite:////abs/t.db`` → ``/abs/t.db``."""
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        raise StoreError(f"a SQLite URL looks like sqlite:///PATH, not {url!r}")
    path = url[len(prefix) :].split("?", 1)[0]
    if not path:
        raise StoreError("the SQLite URL names no file")
    return path


class SqliteStore(Store):
    backend = "sqlite"

    def __init__(self, url: str) -> None:
        self.url = url
        self.path = sqlite_path(url)
        self._db: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()
        self._events: GroupCommitWriter[EventRecord] = GroupCommitWriter(self._flush_events)

    @property
    def db(self) -> aiosqlite.Connection:
        if self._db is None:
            raise StoreUnavailable("the store is not open")
        return self._db

    @property
    def reader(self) -> aiosqlite.Connection:
        return self._reader or self.db

    async def _connect(self) -> aiosqlite.Connection:
        try:
            conn = await aiosqlite.connect(self.path, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"cannot open SQLite database {self.path}: {exc}") from exc
        for pragma in _PRAGMAS:
            await conn.execute(pragma)
        return conn

    async def open(self) -> None:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._db = await self._connect()
        await self._migrate()
        if self.path != ":memory:":
            self._reader = await self._connect()
        self._events.start()

    async def close(self) -> None:
        await self._events.close()
        for attr in ("_reader", "_db"):
            conn = getattr(self, attr)
            if conn is not None:
                setattr(self, attr, None)
                await conn.close()

    async def _migrate(self) -> None:
        await self.db.execute(
            "CREATE TABLE IF NOT EXISTS tandem_migrations ("
            " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_ms INTEGER NOT NULL)"
        )
        current = await self.schema_version()
        for migration in migrations_for(self.backend):
            if migration.version <= current:
                continue
            # BEGIN IMMEDIATE takes the write lock, so two processes never apply one twice.
            script = (
                "BEGIN IMMEDIATE;\n"
                f"{migration.sql}\n"
                "INSERT INTO tandem_migrations (version, name, applied_ms) VALUES "
                f"({migration.version}, '{migration.name}', {int(time.time() * 1000)});\n"
                "COMMIT;"
            )
            try:
                await self.db.executescript(script)
            except sqlite3.Error as exc:
                if self.db.in_transaction:
                    await self.db.execute("ROLLBACK")
                if await self.schema_version() >= migration.version:
                    continue  # another process applied it first
                raise StoreError(f"migration {migration.version} failed: {exc}") from exc

    async def ping(self) -> None:
        try:
            await self.reader.execute("SELECT 1")
        except (sqlite3.Error, ValueError) as exc:
            raise StoreUnavailable(str(exc)) from exc

    async def schema_version(self) -> int:
        async with self.db.execute(
            "SELECT COALESCE(MAX(version), 0) FROM tandem_migrations"
        ) as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def _write(self, sql: str, params: Sequence[Any]) -> int | None:
        """One statement in its own transaction; returns lastrowid."""
        async with self._lock:
            cursor = await self.db.execute(sql, params)
            rowid = cursor.lastrowid
            await cursor.close()
            return rowid

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

    # --- events ---------------------------------------------------------------

    async def write_events(self, events: Sequence[EventRecord]) -> None:
        await self._events.write(events)

    async def _flush_events(self, events: list[EventRecord]) -> None:
        rows = [
            (
                e.site,
                e.user_id,
                e.tab,
                e.cseq,
                e.kind,
                e.at_ms,
                e.received_ms,
                json.dumps(e.payload),
            )
            for e in events
        ]
        async with self._transaction():
            await self.db.executemany(
                "INSERT OR IGNORE INTO events"
                " (site, user_id, tab, cseq, kind, at_ms, received_ms, payload)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """One write transaction at a time; rolled back when the block raises."""
        async with self._lock:
            await self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                await self.db.execute("ROLLBACK")
                raise
            await self.db.execute("COMMIT")

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
        params.append(limit)
        sql = f"SELECT {_EVENT_COLUMNS} FROM events WHERE {' AND '.join(where)} ORDER BY id LIMIT ?"
        async with self.reader.execute(sql, params) as cur:
            rows = await cur.fetchall()
        return [
            StoredEvent(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], json.loads(r[8]))
            for r in rows
        ]

    async def server_value(self, key: str, default: str) -> str:
        await self._write(
            "INSERT INTO server_state (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
            (key, default),
        )
        async with self.db.execute("SELECT value FROM server_state WHERE key = ?", (key,)) as cur:
            row = await cur.fetchone()
        assert row is not None
        return str(row[0])

    # --- knowledge base -----------------------------------------------------------

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
            await db.execute(
                "INSERT INTO walkthroughs (site, walkthrough, version, updated_ms) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (site, walkthrough) DO UPDATE SET version = excluded.version, updated_ms = excluded.updated_ms",
                (v.site, v.walkthrough, v.version, v.published_ms),
            )
        return row is None

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

    # --- FAQ search ------------------------------------------------------------------

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

    # --- walkthrough runs --------------------------------------------------------------

    async def save_run(self, site: str, user_id: str, tab: str, run: Run) -> None:
        row = list(run_row(site, user_id, tab, run))
        row[8] = json.dumps(row[8])
        await self._write(
            "INSERT INTO runs (id, site, user_id, tab, walkthrough, version, step, status, completed, started_ms, updated_ms, session)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (id) DO UPDATE SET tab = excluded.tab, step = excluded.step, status = excluded.status,"
            " completed = excluded.completed, updated_ms = excluded.updated_ms",
            row,
        )

    _RUN_SELECT = (
        "SELECT r.id, r.site, r.user_id, r.tab, r.walkthrough, r.version, r.step, r.status, r.completed,"
        " r.started_ms, r.updated_ms, r.session, v.body FROM runs r JOIN walkthrough_versions v"
        " ON v.site = r.site AND v.walkthrough = r.walkthrough AND v.version = r.version"
    )

    @staticmethod
    def _stored_run(row: Any) -> StoredRun:
        values = list(row)
        values[8] = json.loads(values[8])
        return run_from_row(values, [step["id"] for step in json.loads(row[12])["steps"]])

    async def get_run(self, site: str, run_id: str) -> StoredRun | None:
        async with self.reader.execute(
            f"{self._RUN_SELECT} WHERE r.site = ? AND r.id = ?", (site, run_id)
        ) as cur:
            row = await cur.fetchone()
        return self._stored_run(row) if row else None

    async def latest_runs(self, site: str, user_id: str, *, limit: int = 20) -> list[StoredRun]:
        async with self.reader.execute(
            f"{self._RUN_SELECT} WHERE r.site = ? AND r.user_id = ? ORDER BY r.updated_ms DESC LIMIT ?",
            (site, user_id, limit),
        ) as cur:
            rows = await cur.fetchall()
        return [self._stored_run(r) for r in rows]

    async def step_events(self, site: str, walkthrough: str) -> list[StoredEvent]:
        async with self.reader.execute(
            f"SELECT {_EVENT_COLUMNS} FROM events WHERE site = ? AND kind = 'step'"
            " AND json_extract(payload, '$.walkthrough') = ? ORDER BY id",
            (site, walkthrough),
        ) as cur:
            rows = await cur.fetchall()
        return [
            StoredEvent(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], json.loads(r[8]))
            for r in rows
        ]


def _version(row: Any) -> WalkthroughVersion:
    return WalkthroughVersion(row[0], row[1], row[2], row[3], row[4], json.loads(row[5]), row[6])
