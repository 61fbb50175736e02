"""Accounts of the people who run Tandem (agents, authors, admins)."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from server.store.base import AccountExists, AccountRecord, AuditEntry
from server.store.sqlite.connection import SqliteConnection

_COLUMNS = "site, email, name, role, password_hash, skills, capacity, created_ms"


class SqliteAccounts(SqliteConnection):
    """The store's queries for accounts."""

    async def add_account(self, account: AccountRecord) -> None:
        try:
            await self._write(
                f"INSERT INTO accounts ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    account.site, account.email.lower(), account.name, account.role,
                    account.password_hash, json.dumps(list(account.skills)), account.capacity,
                    account.created_ms,
                ),
            )  # fmt: skip
        except sqlite3.IntegrityError as exc:
            raise AccountExists(f"{account.site} already has an account {account.email!r}") from exc

    async def get_account(self, site: str, email: str) -> AccountRecord | None:
        async with self.reader.execute(
            f"SELECT {_COLUMNS} FROM accounts WHERE site = ? AND email = ?", (site, email.lower())
        ) as cur:
            row = await cur.fetchone()
        if row is None:
            return None
        return AccountRecord(
            row[0], row[1], row[2], row[3], row[4], tuple(json.loads(row[5])), row[6], row[7]
        )

    async def set_password(self, site: str, email: str, password_hash: str) -> bool:
        async with self._lock:
            cursor = await self.db.execute(
                "UPDATE accounts SET password_hash = ? WHERE site = ? AND email = ?",
                (password_hash, site, email.lower()),
            )
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
