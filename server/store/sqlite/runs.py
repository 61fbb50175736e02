"""Walkthrough runs and the step events funnels read."""

from __future__ import annotations

import json
from typing import Any

from server.store.base import (
    StoredEvent,
    StoredRun,
    run_from_row,
    run_row,
)
from server.store.sqlite.connection import EVENT_COLUMNS, SqliteConnection
from server.support.run import Run


class SqliteRuns(SqliteConnection):
    """The store's queries for walkthrough runs."""

    async def save_run(self, site: str, user_id: str, tab: str, run: Run) -> None:
        row = list(run_row(site, user_id, tab, run))
        row[8] = json.dumps(row[8])
        await self._write(
            "INSERT INTO runs (id, site, user_id, tab, walkthrough, version, step, status, completed, started_ms, updated_ms, session)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (id) DO UPDATE SET tab = excluded.tab, step = excluded.step, status = excluded.status,"
            " completed = excluded.completed, updated_ms = excluded.updated_ms, revision = runs.revision + 1",
            row,
        )

    async def update_run(self, site: str, tab: str, run: Run, *, revision: int) -> bool:
        async with self._lock:
            cursor = await self.db.execute(
                "UPDATE runs SET tab = ?, step = ?, status = ?, completed = ?, updated_ms = ?,"
                " revision = revision + 1 WHERE site = ? AND id = ? AND revision = ?",
                (
                    tab, run.step, run.status.value, json.dumps(list(run.completed_steps)),
                    run.updated_ms, site, run.id, revision,
                ),
            )  # fmt: skip
            changed = cursor.rowcount
            await cursor.close()
        return changed == 1

    _RUN_SELECT = (
        "SELECT r.id, r.site, r.user_id, r.tab, r.walkthrough, r.version, r.step, r.status, r.completed,"
        " r.started_ms, r.updated_ms, r.session, v.body, r.revision FROM runs r JOIN walkthrough_versions v"
        " ON v.site = r.site AND v.walkthrough = r.walkthrough AND v.version = r.version"
    )

    @staticmethod
    def _stored_run(row: Any) -> StoredRun:
        values = list(row)
        values[8] = json.loads(values[8])
        return run_from_row(
            values, [step["id"] for step in json.loads(row[12])["steps"]], revision=row[13]
        )

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

    async def step_events(self, site: str, walkthrough: str, version: int) -> list[StoredEvent]:
        async with self.reader.execute(
            f"SELECT {EVENT_COLUMNS} FROM events WHERE site = ? AND kind = 'step'"
            " AND json_extract(payload, '$.walkthrough') = ?"
            " AND json_extract(payload, '$.version') = ? ORDER BY id",
            (site, walkthrough, version),
        ) as cur:
            rows = await cur.fetchall()
        return [
            StoredEvent(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], json.loads(r[8]))
            for r in rows
        ]
