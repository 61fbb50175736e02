"""SQLite backend (the embedded default), through aiosqlite.

WAL journal, so the reader connection never blocks the writer; one writer
connection whose transactions are serialised by a lock; events go through a
group-commit writer task, so many concurrent writes share one transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import aiosqlite

from server.store.base import (
    EventRecord,
    Store,
    StoreError,
    StoreUnavailable,
    migrations_for,
)
from server.store.writer import GroupCommitWriter

_PRAGMAS = (
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = NORMAL",
    "PRAGMA foreign_keys = ON",
    "PRAGMA busy_timeout = 5000",
)


EVENT_COLUMNS = "id, site, user_id, tab, cseq, kind, at_ms, received_ms, payload"


def sqlite_path(url: str) -> str:
    """``sqlite:///var/t.db`` → ``var/t.db``; ``sqlite:////abs/t.db`` → ``/abs/t.db``."""
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        raise StoreError(f"a SQLite URL looks like sqlite:///PATH, not {url!r}")
    path = url[len(prefix) :].split("?", 1)[0]
    if not path:
        raise StoreError("the SQLite URL names no file")
    return path


class SqliteConnection(Store):
    """Connecting, migrating and transactions; each concern's queries live in a module of its own."""

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

    async def server_value(self, key: str, default: str) -> str:
        await self._write(
            "INSERT INTO server_state (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
            (key, default),
        )
        async with self.db.execute("SELECT value FROM server_state WHERE key = ?", (key,)) as cur:
            row = await cur.fetchone()
        assert row is not None
        return str(row[0])

    async def _flush_events(self, events: list[EventRecord]) -> None:
        """Commit one batch of events (implemented with the other event queries)."""
        raise NotImplementedError
