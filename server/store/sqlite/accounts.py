"""Accounts of the people who run Tandem (agents, authors, admins), agents' assignments, the audit log."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from server.store.base import AccountExists, AccountRecord, Assignment, AuditEntry
from server.store.sqlite.connection import SqliteConnection

_COLUMNS = (
    "site, email, name, role, password_hash, skills, capacity, created_ms, presence, seen_ms,"
    " idle_since_ms, session_version"
)
_ASSIGNMENT = (
    "site, session, user_id, state, queued_ms, agent, needs, skipped, offered_ms, accepted_ms,"
    " closed_ms, revision"
)


def _account(row: Any) -> AccountRecord:
    return AccountRecord(
        row[0], row[1], row[2], row[3], row[4], tuple(json.loads(row[5])), row[6], row[7], row[8],
        row[9], row[10], row[11],
    )  # fmt: skip


def _assignment(row: Any) -> Assignment:
    return Assignment(
        row[0], row[1], row[2], row[3], row[4], row[5], tuple(json.loads(row[6])),
        tuple(json.loads(row[7])), row[8], row[9], row[10], row[11],
    )  # fmt: skip


class SqliteAccounts(SqliteConnection):
    """The store's queries for accounts and assignments."""

    async def add_account(self, account: AccountRecord) -> None:
        try:
            await self._write(
                f"INSERT INTO accounts ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    account.site, account.email.lower(), account.name, account.role,
                    account.password_hash, json.dumps(list(account.skills)), account.capacity,
                    account.created_ms, account.presence, account.seen_ms, account.idle_since_ms,
                    account.session_version,
                ),
            )  # fmt: skip
        except sqlite3.IntegrityError as exc:
            raise AccountExists(f"{account.site} already has an account {account.email!r}") from exc

    async def get_account(self, site: str, email: str) -> AccountRecord | None:
        async with self.reader.execute(
            f"SELECT {_COLUMNS} FROM accounts WHERE site = ? AND email = ?", (site, email.lower())
        ) as cur:
            row = await cur.fetchone()
        return _account(row) if row is not None else None

    async def list_accounts(self, site: str) -> list[AccountRecord]:
        async with self.reader.execute(
            f"SELECT {_COLUMNS} FROM accounts WHERE site = ? ORDER BY email", (site,)
        ) as cur:
            return [_account(r) for r in await cur.fetchall()]

    async def end_sessions(self, site: str, email: str) -> None:
        await self._update(
            "UPDATE accounts SET session_version = session_version + 1 WHERE site = ? AND email = ?",
            (site, email.lower()),
        )

    async def set_password(self, site: str, email: str, password_hash: str) -> bool:
        return await self._update(
            "UPDATE accounts SET password_hash = ? WHERE site = ? AND email = ?",
            (password_hash, site, email.lower()),
        )

    async def set_presence(self, site: str, email: str, presence: str, *, now_ms: int) -> None:
        await self._update(
            "UPDATE accounts SET idle_since_ms = CASE WHEN presence <> 'online' AND ? = 'online'"
            " THEN ? ELSE idle_since_ms END, presence = ?, seen_ms = ? WHERE site = ? AND email = ?",
            (presence, now_ms, presence, now_ms, site, email.lower()),
        )

    async def set_agent_profile(
        self, site: str, email: str, *, skills: Sequence[str], capacity: int
    ) -> bool:
        return await self._update(
            "UPDATE accounts SET skills = ?, capacity = ? WHERE site = ? AND email = ?",
            (json.dumps(list(skills)), capacity, site, email.lower()),
        )

    async def finished_session(self, site: str, email: str, *, now_ms: int) -> None:
        await self._update(
            "UPDATE accounts SET idle_since_ms = ? WHERE site = ? AND email = ?",
            (now_ms, site, email.lower()),
        )

    async def seen(self, site: str, email: str, *, now_ms: int) -> None:
        await self._update(
            "UPDATE accounts SET seen_ms = ? WHERE site = ? AND email = ?",
            (now_ms, site, email.lower()),
        )

    async def add_assignment(self, assignment: Assignment) -> bool:
        a = assignment
        return await self._update(
            f"INSERT INTO assignments ({_ASSIGNMENT}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (site, session) DO NOTHING",
            (
                a.site, a.session, a.user_id, a.state, a.queued_ms, a.agent, json.dumps(list(a.needs)),
                json.dumps(list(a.skipped)), a.offered_ms, a.accepted_ms, a.closed_ms, a.revision,
            ),
        )  # fmt: skip

    async def open_assignments(self, site: str) -> list[Assignment]:
        async with self.reader.execute(
            f"SELECT {_ASSIGNMENT} FROM assignments WHERE site = ? AND state <> 'closed'"
            " ORDER BY queued_ms, session",
            (site,),
        ) as cur:
            return [_assignment(r) for r in await cur.fetchall()]

    async def open_assignment(self, site: str, session: str) -> Assignment | None:
        async with self.reader.execute(
            f"SELECT {_ASSIGNMENT} FROM assignments WHERE site = ? AND session = ?"
            " AND state <> 'closed'",
            (site, session),
        ) as cur:
            row = await cur.fetchone()
        return _assignment(row) if row is not None else None

    async def update_assignment(self, assignment: Assignment, *, revision: int) -> bool:
        a = assignment
        return await self._update(
            "UPDATE assignments SET state = ?, agent = ?, skipped = ?, offered_ms = ?, accepted_ms = ?,"
            " closed_ms = ?, revision = revision + 1 WHERE site = ? AND session = ? AND revision = ?",
            (
                a.state, a.agent, json.dumps(list(a.skipped)), a.offered_ms, a.accepted_ms,
                a.closed_ms, a.site, a.session, revision,
            ),
        )  # fmt: skip

    async def _update(self, sql: str, params: tuple[Any, ...]) -> bool:
        async with self._lock:
            cursor = await self.db.execute(sql, params)
            changed = cursor.rowcount
            await cursor.close()
        return changed == 1


class SqliteAudit(SqliteConnection):
    """The store's queries for the audit log."""

    async def append_audit(
        self, site: str, *, at_ms: int, actor: str, action: str, target: str = "",
        detail: dict[str, Any] | None = None,
    ) -> int:  # fmt: skip
        rowid = await self._write(
            "INSERT INTO audit_log (site, at_ms, actor, action, target, detail) VALUES (?, ?, ?, ?, ?, ?)",
            (site, at_ms, actor, action, target, json.dumps(detail or {})),
        )
        return int(rowid or 0)

    async def read_audit(self, site: str, *, limit: int = 200) -> list[AuditEntry]:
        async with self.reader.execute(
            "SELECT id, site, at_ms, actor, action, target, detail FROM audit_log"
            " WHERE site = ? ORDER BY id DESC LIMIT ?",
            (site, limit),
        ) as cur:
            rows = await cur.fetchall()
        return [AuditEntry(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6])) for r in rows]
