"""SQLite backend (the embedded default), through aiosqlite.

WAL journal so readers never block the writer; foreign keys on; every write
in an explicit transaction.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import aiosqlite

from server.store.base import Store, StoreError, StoreUnavailable, migrations_for
from server.support.profile import Profile, SupportItem

_PRAGMAS = (
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = NORMAL",
    "PRAGMA foreign_keys = ON",
    "PRAGMA busy_timeout = 5000",
)


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

    @property
    def db(self) -> aiosqlite.Connection:
        if self._db is None:
            raise StoreError("the store is not open")
        return self._db

    async def open(self) -> None:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = await aiosqlite.connect(self.path, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"cannot open SQLite database {self.path}: {exc}") from exc
        for pragma in _PRAGMAS:
            await self.db.execute(pragma)
        await self._migrate()

    async def close(self) -> None:
        if self._db is not None:
            db, self._db = self._db, None
            await db.close()

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
            await self.db.execute("SELECT 1")
        except (sqlite3.Error, ValueError) as exc:
            raise StoreUnavailable(str(exc)) from exc

    async def schema_version(self) -> int:
        async with self.db.execute(
            "SELECT COALESCE(MAX(version), 0) FROM tandem_migrations"
        ) as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def upsert_profile(
        self, site: str, user_id: str, traits: dict[str, Any], *, now_ms: int
    ) -> None:
        await self.db.execute(
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
            cursor = await self.db.execute(
                "INSERT INTO support_items (site, user_id, kind, at_ms, payload, failure, failure_reason)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (site, user_id, kind, at_ms, json.dumps(payload), int(failure), failure_reason),
            )
        except sqlite3.IntegrityError as exc:
            raise StoreError(f"no profile for {site}/{user_id}: {exc}") from exc
        item_id = cursor.lastrowid
        await cursor.close()
        assert item_id is not None
        return item_id

    async def get_profile(self, site: str, user_id: str) -> Profile | None:
        async with self.db.execute(
            "SELECT traits, created_ms FROM profiles WHERE site = ? AND user_id = ?",
            (site, user_id),
        ) as cur:
            row = await cur.fetchone()
        if row is None:
            return None
        async with self.db.execute(
            "SELECT id, kind, at_ms, payload, failure, failure_reason FROM support_items"
            " WHERE site = ? AND user_id = ? ORDER BY id",
            (site, user_id),
        ) as cur:
            items = tuple(
                SupportItem(r[0], r[1], r[2], json.loads(r[3]), bool(r[4]), r[5])
                for r in await cur.fetchall()
            )
        return Profile(site, user_id, json.loads(row[0]), row[1], items)
