"""PostgreSQL backend (for scale-out), through asyncpg.

The URL may carry ``?schema=NAME``: the store then lives in that schema (created
when missing), which is how test runs and co-hosted deployments stay apart.
"""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg

from server.store.base import (
    EventRecord,
    Store,
    StoreError,
    StoreUnavailable,
    migrations_for,
)
from server.store.writer import GroupCommitWriter

_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
# Any fixed number: it serialises migrations between processes sharing a database.
_MIGRATION_LOCK = 0x74616E64


def split_schema(url: str) -> tuple[str, str]:
    """Remove ``schema=`` from the URL's query; return (dsn, schema)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    schema = next((v for k, v in query if k == "schema"), "public")
    if not _IDENT.match(schema):
        raise StoreError(f"schema {schema!r} must be a lower-case SQL identifier")
    rest = urlencode([(k, v) for k, v in query if k != "schema"])
    return urlunsplit(parts._replace(query=rest)), schema


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


class PostgresConnection(Store):
    """Connecting, migrating and transactions; each concern's queries live in a module of its own."""

    backend = "postgres"

    def __init__(self, url: str, *, min_size: int = 1, max_size: int = 10) -> None:
        self.url = url
        self.dsn, self.schema = split_schema(url)
        self._sizes = (min_size, max_size)
        self._pool: asyncpg.Pool | None = None
        self._events: GroupCommitWriter[EventRecord] = GroupCommitWriter(self._flush_events)

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise StoreError("the store is not open")
        return self._pool

    async def open(self) -> None:
        try:
            conn = await asyncpg.connect(self.dsn, timeout=10)
        except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
            raise StoreUnavailable(f"cannot reach PostgreSQL at {self._where()}: {exc}") from exc
        try:
            await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
        finally:
            await conn.close()
        self._pool = await asyncpg.create_pool(
            self.dsn,
            min_size=self._sizes[0],
            max_size=self._sizes[1],
            server_settings={"search_path": self.schema, "application_name": self.application_name},
            init=_init_connection,
        )
        await self._migrate()
        self._events.start()

    @property
    def application_name(self) -> str:
        """How this store's connections appear in pg_stat_activity."""
        return f"tandem {self.schema}"[:63]

    def _where(self) -> str:
        parts = urlsplit(self.dsn)
        return f"{parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path}"

    async def close(self) -> None:
        await self._events.close()
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    async def _migrate(self) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS tandem_migrations ("
                " version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
                " applied_ms BIGINT NOT NULL DEFAULT (extract(epoch FROM now()) * 1000)::bigint)"
            )
            current = await conn.fetchval("SELECT COALESCE(MAX(version), 0) FROM tandem_migrations")
            for migration in migrations_for(self.backend):
                if migration.version <= current:
                    continue
                try:
                    await conn.execute(migration.sql)
                except asyncpg.PostgresError as exc:
                    raise StoreError(f"migration {migration.version} failed: {exc}") from exc
                await conn.execute(
                    "INSERT INTO tandem_migrations (version, name) VALUES ($1, $2)",
                    migration.version,
                    migration.name,
                )

    async def ping(self) -> None:
        try:
            await self.pool.fetchval("SELECT 1")
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise StoreUnavailable(str(exc)) from exc

    async def schema_version(self) -> int:
        return int(
            await self.pool.fetchval("SELECT COALESCE(MAX(version), 0) FROM tandem_migrations")
        )

    async def server_value(self, key: str, default: str) -> str:
        value = await self.pool.fetchval(
            "WITH ins AS (INSERT INTO server_state (key, value) VALUES ($1, $2)"
            " ON CONFLICT (key) DO NOTHING RETURNING value)"
            " SELECT value FROM ins UNION ALL SELECT value FROM server_state WHERE key = $1 LIMIT 1",
            key,
            default,
        )
        return str(value)

    async def _flush_events(self, events: list[EventRecord]) -> None:
        """Commit one batch of events (implemented with the other event queries)."""
        raise NotImplementedError
