"""Event streams: grouped commits in, ranges out."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import asyncpg

from server.store.base import (
    EventRecord,
    RecordsRefused,
    StoredEvent,
    StoreUnavailable,
)
from server.store.postgres.connection import PostgresConnection

#: Errors about the rows themselves (SQLSTATE classes 22 and 23, limits such as an
#: oversized row, and asyncpg's own refusal to encode a value, a ValueError): the
#: same rows would fail again, while other rows of the batch would not.
_REFUSED_DATA = (
    asyncpg.DataError,
    asyncpg.IntegrityConstraintViolationError,
    asyncpg.ProgramLimitExceededError,
    ValueError,
)


class PostgresEvents(PostgresConnection):
    """The store's queries for the event streams."""

    async def write_events(self, events: Sequence[EventRecord]) -> None:
        await self._events.write(events)

    async def _flush_events(self, events: list[EventRecord]) -> None:
        # One statement for the whole batch: arrays unnested into rows.
        columns: list[list[Any]] = [[] for _ in range(8)]
        try:
            for e in events:
                values = (
                    e.site, e.user_id, e.tab, e.cseq, e.kind, e.at_ms, e.received_ms,
                    json.dumps(e.payload, allow_nan=False),
                )  # fmt: skip
                for column, value in zip(columns, values, strict=True):
                    column.append(value)
        except (TypeError, ValueError) as exc:  # a payload JSON cannot hold (NaN, an object)
            raise RecordsRefused(f"an event's payload is not JSON: {exc}") from exc
        try:
            await self.pool.execute(
                "INSERT INTO events (site, user_id, tab, cseq, kind, at_ms, received_ms, payload)"
                " SELECT site, user_id, tab, cseq, kind, at_ms, received_ms, payload::jsonb FROM unnest("
                " $1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::bigint[], $7::bigint[], $8::text[]"
                ") AS t(site, user_id, tab, cseq, kind, at_ms, received_ms, payload)"
                " ON CONFLICT (site, tab, cseq) DO NOTHING",
                *columns,
            )
        except _REFUSED_DATA as exc:
            raise RecordsRefused(f"PostgreSQL refused the events: {exc}") from exc
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
        received_since_ms: int | None = None,
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
        if received_since_ms is not None:
            params.append(received_since_ms)
            where.append(f"received_ms >= ${len(params)}")
        params.append(limit)
        rows = await self.pool.fetch(
            "SELECT id, site, user_id, tab, cseq, kind, at_ms, received_ms, payload FROM events"
            f" WHERE {' AND '.join(where)} ORDER BY id LIMIT ${len(params)}",
            *params,
        )
        return [StoredEvent(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8]) for r in rows]
