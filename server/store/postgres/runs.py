"""Walkthrough runs and the step events funnels read."""

from __future__ import annotations

from typing import Any

from server.store.base import (
    StoredEvent,
    StoredRun,
    run_from_row,
    run_row,
)
from server.store.postgres.connection import PostgresConnection
from server.support.run import Run


class PostgresRuns(PostgresConnection):
    """The store's queries for walkthrough runs."""

    async def save_run(self, site: str, user_id: str, tab: str, run: Run) -> None:
        await self.pool.execute(
            "INSERT INTO runs (id, site, user_id, tab, walkthrough, version, step, status, completed, started_ms, updated_ms, session)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
            " ON CONFLICT (id) DO UPDATE SET tab = excluded.tab, step = excluded.step, status = excluded.status,"
            " completed = excluded.completed, updated_ms = excluded.updated_ms, revision = runs.revision + 1",
            *run_row(site, user_id, tab, run),
        )

    async def update_run(self, site: str, tab: str, run: Run, *, revision: int) -> bool:
        changed = await self.pool.fetchval(
            "UPDATE runs SET tab = $1, step = $2, status = $3, completed = $4, updated_ms = $5,"
            " revision = revision + 1 WHERE site = $6 AND id = $7 AND revision = $8 RETURNING id",
            tab, run.step, run.status.value, list(run.completed_steps), run.updated_ms, site,
            run.id, revision,
        )  # fmt: skip
        return changed is not None

    _RUN_SELECT = (
        "SELECT r.id, r.site, r.user_id, r.tab, r.walkthrough, r.version, r.step, r.status, r.completed,"
        " r.started_ms, r.updated_ms, r.session, v.body, r.revision FROM runs r JOIN walkthrough_versions v"
        " ON v.site = r.site AND v.walkthrough = r.walkthrough AND v.version = r.version"
    )

    @staticmethod
    def _stored_run(row: Any) -> StoredRun:
        return run_from_row(
            tuple(row), [step["id"] for step in row["body"]["steps"]], revision=row["revision"]
        )

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

    async def step_events(self, site: str, walkthrough: str, version: int) -> list[StoredEvent]:
        rows = await self.pool.fetch(
            "SELECT id, site, user_id, tab, cseq, kind, at_ms, received_ms, payload FROM events"
            " WHERE site = $1 AND kind = 'step' AND payload->>'walkthrough' = $2"
            " AND payload->'version' = to_jsonb($3::int) ORDER BY id",
            site,
            walkthrough,
            version,
        )
        return [StoredEvent(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8]) for r in rows]
