"""Accounts of the people who run Tandem (agents, authors, admins), agents' assignments, the audit log."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from server.store.base import AccountExists, AccountRecord, Assignment, AuditEntry
from server.store.postgres.connection import PostgresConnection

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
        row[0], row[1], row[2], row[3], row[4], tuple(row[5]), row[6], row[7], row[8], row[9],
        row[10], row[11],
    )  # fmt: skip


def _assignment(row: Any) -> Assignment:
    return Assignment(
        row[0], row[1], row[2], row[3], row[4], row[5], tuple(row[6]), tuple(row[7]), row[8],
        row[9], row[10], row[11],
    )  # fmt: skip


class PostgresAccounts(PostgresConnection):
    """The store's queries for accounts and assignments."""

    async def add_account(self, account: AccountRecord) -> None:
        try:
            await self.pool.execute(
                f"INSERT INTO accounts ({_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                account.site, account.email.lower(), account.name, account.role,
                account.password_hash, list(account.skills), account.capacity, account.created_ms,
                account.presence, account.seen_ms, account.idle_since_ms, account.session_version,
            )  # fmt: skip
        except asyncpg.UniqueViolationError as exc:
            raise AccountExists(f"{account.site} already has an account {account.email!r}") from exc

    async def get_account(self, site: str, email: str) -> AccountRecord | None:
        row = await self.pool.fetchrow(
            f"SELECT {_COLUMNS} FROM accounts WHERE site = $1 AND email = $2", site, email.lower()
        )
        return _account(row) if row is not None else None

    async def list_accounts(self, site: str) -> list[AccountRecord]:
        rows = await self.pool.fetch(
            f"SELECT {_COLUMNS} FROM accounts WHERE site = $1 ORDER BY email", site
        )
        return [_account(r) for r in rows]

    async def end_sessions(self, site: str, email: str) -> None:
        await self.pool.execute(
            "UPDATE accounts SET session_version = session_version + 1 WHERE site = $1 AND email = $2",
            site, email.lower(),
        )  # fmt: skip

    async def set_password(self, site: str, email: str, password_hash: str) -> bool:
        changed = await self.pool.fetchval(
            "UPDATE accounts SET password_hash = $1 WHERE site = $2 AND email = $3 RETURNING email",
            password_hash, site, email.lower(),
        )  # fmt: skip
        return changed is not None

    async def set_presence(self, site: str, email: str, presence: str, *, now_ms: int) -> None:
        await self.pool.execute(
            "UPDATE accounts SET idle_since_ms = CASE WHEN presence <> 'online' AND $1 = 'online'"
            " THEN $2 ELSE idle_since_ms END, presence = $1, seen_ms = $2 WHERE site = $3 AND email = $4",
            presence, now_ms, site, email.lower(),
        )  # fmt: skip

    async def set_agent_profile(
        self, site: str, email: str, *, skills: Sequence[str], capacity: int
    ) -> bool:
        status = await self.pool.execute(
            "UPDATE accounts SET skills = $1, capacity = $2 WHERE site = $3 AND email = $4",
            list(skills), capacity, site, email.lower(),
        )  # fmt: skip
        return bool(status.split()[-1] == "1")

    async def finished_session(self, site: str, email: str, *, now_ms: int) -> None:
        await self.pool.execute(
            "UPDATE accounts SET idle_since_ms = $1 WHERE site = $2 AND email = $3",
            now_ms, site, email.lower(),
        )  # fmt: skip

    async def seen(self, site: str, email: str, *, now_ms: int) -> None:
        await self.pool.execute(
            "UPDATE accounts SET seen_ms = $1 WHERE site = $2 AND email = $3",
            now_ms, site, email.lower(),
        )  # fmt: skip

    async def add_assignment(self, assignment: Assignment) -> bool:
        a = assignment
        added = await self.pool.fetchval(
            f"INSERT INTO assignments ({_ASSIGNMENT}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
            " ON CONFLICT (site, session) DO NOTHING RETURNING session",
            a.site, a.session, a.user_id, a.state, a.queued_ms, a.agent, list(a.needs),
            list(a.skipped), a.offered_ms, a.accepted_ms, a.closed_ms, a.revision,
        )  # fmt: skip
        return added is not None

    async def open_assignments(self, site: str) -> list[Assignment]:
        rows = await self.pool.fetch(
            f"SELECT {_ASSIGNMENT} FROM assignments WHERE site = $1 AND state <> 'closed'"
            " ORDER BY queued_ms, session",
            site,
        )
        return [_assignment(r) for r in rows]

    async def open_assignment(self, site: str, session: str) -> Assignment | None:
        row = await self.pool.fetchrow(
            f"SELECT {_ASSIGNMENT} FROM assignments WHERE site = $1 AND session = $2"
            " AND state <> 'closed'",
            site, session,
        )  # fmt: skip
        return _assignment(row) if row is not None else None

    async def update_assignment(self, assignment: Assignment, *, revision: int) -> bool:
        a = assignment
        changed = await self.pool.fetchval(
            "UPDATE assignments SET state = $1, agent = $2, skipped = $3, offered_ms = $4, accepted_ms = $5,"
            " closed_ms = $6, revision = revision + 1 WHERE site = $7 AND session = $8 AND revision = $9"
            " RETURNING session",
            a.state, a.agent, list(a.skipped), a.offered_ms, a.accepted_ms, a.closed_ms, a.site,
            a.session, revision,
        )  # fmt: skip
        return changed is not None


class PostgresAudit(PostgresConnection):
    """The store's queries for the audit log."""

    async def append_audit(
        self, site: str, *, at_ms: int, actor: str, action: str, target: str = "",
        detail: dict[str, Any] | None = None,
    ) -> int:  # fmt: skip
        new_id = await self.pool.fetchval(
            "INSERT INTO audit_log (site, at_ms, actor, action, target, detail)"
            " VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            site, at_ms, actor, action, target, detail or {},
        )  # fmt: skip
        return int(new_id)

    async def read_audit(self, site: str, *, limit: int = 200) -> list[AuditEntry]:
        rows = await self.pool.fetch(
            "SELECT id, site, at_ms, actor, action, target, detail FROM audit_log"
            " WHERE site = $1 ORDER BY id DESC LIMIT $2",
            site,
            limit,
        )
        return [AuditEntry(r[0], r[1], r[2], r[3], r[4], r[5], r[6]) for r in rows]
