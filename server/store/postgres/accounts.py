"""Accounts of the people who run Tandem (agents, authors, admins)."""

from __future__ import annotations

from typing import Any

import asyncpg

from server.store.base import AccountExists, AccountRecord, AuditEntry
from server.store.postgres.connection import PostgresConnection

_COLUMNS = "site, email, name, role, password_hash, skills, capacity, created_ms"


class PostgresAccounts(PostgresConnection):
    """The store's queries for accounts."""

    async def add_account(self, account: AccountRecord) -> None:
        try:
            await self.pool.execute(
                f"INSERT INTO accounts ({_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                account.site, account.email.lower(), account.name, account.role,
                account.password_hash, list(account.skills), account.capacity, account.created_ms,
            )  # fmt: skip
        except asyncpg.UniqueViolationError as exc:
            raise AccountExists(f"{account.site} already has an account {account.email!r}") from exc

    async def get_account(self, site: str, email: str) -> AccountRecord | None:
        row = await self.pool.fetchrow(
            f"SELECT {_COLUMNS} FROM accounts WHERE site = $1 AND email = $2", site, email.lower()
        )
        if row is None:
            return None
        return AccountRecord(row[0], row[1], row[2], row[3], row[4], tuple(row[5]), row[6], row[7])

    async def set_password(self, site: str, email: str, password_hash: str) -> bool:
        changed = await self.pool.fetchval(
            "UPDATE accounts SET password_hash = $1 WHERE site = $2 AND email = $3 RETURNING email",
            password_hash, site, email.lower(),
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
