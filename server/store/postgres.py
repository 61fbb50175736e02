"""PostgreSQL backend (for scale-out), through asyncpg.

The URL may carry ``?schema=NAME``: the store then lives in that schema (created
when missing), which is how test runs and co-hosted deployments stay apart.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg

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


class PostgresStore(Store):
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

    async def upsert_profile(
        self, site: str, user_id: str, traits: dict[str, Any], *, now_ms: int
    ) -> None:
        await self.pool.execute(
            "INSERT INTO profiles (site, user_id, traits, created_ms, updated_ms)"
            " VALUES ($1, $2, $3, $4, $4)"
            " ON CONFLICT (site, user_id) DO UPDATE SET"
            "  traits = profiles.traits || excluded.traits, updated_ms = excluded.updated_ms",
            site,
            user_id,
            traits,
            now_ms,
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
            item_id = await self.pool.fetchval(
                "INSERT INTO support_items (site, user_id, kind, at_ms, payload, failure, failure_reason)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
                site,
                user_id,
                kind,
                at_ms,
                payload,
                failure,
                failure_reason,
            )
        except asyncpg.ForeignKeyViolationError as exc:
            raise StoreError(f"no profile for {site}/{user_id}: {exc}") from exc
        return int(item_id)

    async def get_profile(self, site: str, user_id: str) -> Profile | None:
        async with self.pool.acquire() as conn:
            row = await conn.fetchrow(
                "SELECT traits, created_ms FROM profiles WHERE site = $1 AND user_id = $2",
                site,
                user_id,
            )
            if row is None:
                return None
            rows = await conn.fetch(
                "SELECT id, kind, at_ms, payload, failure, failure_reason FROM support_items"
                " WHERE site = $1 AND user_id = $2 ORDER BY id",
                site,
                user_id,
            )
        items = tuple(
            SupportItem(
                r["id"], r["kind"], r["at_ms"], r["payload"], r["failure"], r["failure_reason"]
            )
            for r in rows
        )
        return Profile(site, user_id, row["traits"], row["created_ms"], items)

    # --- events ---------------------------------------------------------------

    async def write_events(self, events: Sequence[EventRecord]) -> None:
        await self._events.write(events)

    async def _flush_events(self, events: list[EventRecord]) -> None:
        # One statement for the whole batch: arrays unnested into rows.
        columns: list[list[Any]] = [[] for _ in range(8)]
        for e in events:
            for column, value in zip(
                columns,
                (
                    e.site,
                    e.user_id,
                    e.tab,
                    e.cseq,
                    e.kind,
                    e.at_ms,
                    e.received_ms,
                    json.dumps(e.payload),
                ),
                strict=True,
            ):
                column.append(value)
        try:
            await self.pool.execute(
                "INSERT INTO events (site, user_id, tab, cseq, kind, at_ms, received_ms, payload)"
                " SELECT site, user_id, tab, cseq, kind, at_ms, received_ms, payload::jsonb FROM unnest("
                " $1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::bigint[], $7::bigint[], $8::text[]"
                ") AS t(site, user_id, tab, cseq, kind, at_ms, received_ms, payload)"
                " ON CONFLICT (site, tab, cseq) DO NOTHING",
                *columns,
            )
        except (OSError, asyncpg.InterfaceError, asyncpg.PostgresConnectionError) as exc:
            raise StoreUnavailable(f"PostgreSQL went away: {exc}") from exc
        except asyncpg.AdminShutdownError as exc:
            raise StoreUnavailable(f"PostgreSQL closed the connection: {exc}") from exc

    async def last_cseq(self, site: str, tab: str) -> int:
        value = await self.pool.fetchval(
            "SELECT COALESCE(MAX(cseq), 0) FROM events WHERE site = $1 AND tab = $2", site, tab
        )
        return int(value)

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
        where = ["site = $1", "id > $2"]
        params: list[Any] = [site, after_id]
        if user_id is not None:
            params.append(user_id)
            where.append(f"user_id = ${len(params)}")
        if tab is not None:
            params.append(tab)
            where.append(f"tab = ${len(params)}")
        if kinds:
            params.append(list(kinds))
            where.append(f"kind = ANY(${len(params)}::text[])")
        params.append(limit)
        rows = await self.pool.fetch(
            "SELECT id, site, user_id, tab, cseq, kind, at_ms, received_ms, payload FROM events"
            f" WHERE {' AND '.join(where)} ORDER BY id LIMIT ${len(params)}",
            *params,
        )
        return [StoredEvent(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8]) for r in rows]

    async def server_value(self, key: str, default: str) -> str:
        value = await self.pool.fetchval(
            "WITH ins AS (INSERT INTO server_state (key, value) VALUES ($1, $2)"
            " ON CONFLICT (key) DO NOTHING RETURNING value)"
            " SELECT value FROM ins UNION ALL SELECT value FROM server_state WHERE key = $1 LIMIT 1",
            key,
            default,
        )
        return str(value)

    # --- knowledge base -----------------------------------------------------------

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
            await conn.execute(
                "INSERT INTO walkthroughs (site, walkthrough, version, updated_ms) VALUES ($1, $2, $3, $4)"
                " ON CONFLICT (site, walkthrough) DO UPDATE SET version = excluded.version, updated_ms = excluded.updated_ms",
                v.site, v.walkthrough, v.version, v.published_ms,
            )  # fmt: skip
        return digest is None

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

    # --- FAQ search ------------------------------------------------------------------

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

    # --- walkthrough runs --------------------------------------------------------------

    async def save_run(self, site: str, user_id: str, tab: str, run: Run) -> None:
        await self.pool.execute(
            "INSERT INTO runs (id, site, user_id, tab, walkthrough, version, step, status, completed, started_ms, updated_ms, session)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
            " ON CONFLICT (id) DO UPDATE SET tab = excluded.tab, step = excluded.step, status = excluded.status,"
            " completed = excluded.completed, updated_ms = excluded.updated_ms",
            *run_row(site, user_id, tab, run),
        )

    _RUN_SELECT = (
        "SELECT r.id, r.site, r.user_id, r.tab, r.walkthrough, r.version, r.step, r.status, r.completed,"
        " r.started_ms, r.updated_ms, r.session, v.body FROM runs r JOIN walkthrough_versions v"
        " ON v.site = r.site AND v.walkthrough = r.walkthrough AND v.version = r.version"
    )

    @staticmethod
    def _stored_run(row: Any) -> StoredRun:
        return run_from_row(tuple(row), [step["id"] for step in row["body"]["steps"]])

    async def get_run(self, site: str, run_id: str) -> StoredRun | None:
        row = await self.pool.fetchrow(
            f"{self._RUN_SELECT} WHERE r.site = $1 AND r.id = $2", site, run_id
        )
        return self._stored_run(row) if row else None

    async def latest_runs(self, site: str, user_id: str, *, limit: int = 20) -> list[StoredRun]:
        rows = await self.pool.fetch(
            f"{self._RUN_SELECT} WHERE r.site = $1 AND r.user_id = $2 ORDER BY r.updated_ms DESC LIMIT $3",
            site,
            user_id,
            limit,
        )
        return [self._stored_run(r) for r in rows]

    async def step_events(self, site: str, walkthrough: str) -> list[StoredEvent]:
        rows = await self.pool.fetch(
            "SELECT id, site, user_id, tab, cseq, kind, at_ms, received_ms, payload FROM events"
            " WHERE site = $1 AND kind = 'step' AND payload->>'walkthrough' = $2 ORDER BY id",
            site,
            walkthrough,
        )
        return [StoredEvent(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8]) for r in rows]
