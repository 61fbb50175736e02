"""SQLite backend (the embedded default), through aiosqlite.

WAL journal, so the reader connection never blocks the writer; one writer
connection whose transactions are serialised by a lock; events go through a
group-commit writer task, so many concurrent writes share one transaction.
"""

from __future__ import annotations

from server.store.sqlite.accounts import SqliteAccounts, SqliteAudit
from server.store.sqlite.events import SqliteEvents
from server.store.sqlite.knowledge import SqliteKnowledge
from server.store.sqlite.privacy import SqlitePrivacy
from server.store.sqlite.profiles import SqliteProfiles
from server.store.sqlite.runs import SqliteRuns
from server.store.sqlite.verifications import SqliteVerifications


class SqliteStore(
    SqliteProfiles,
    SqliteEvents,
    SqliteKnowledge,
    SqliteRuns,
    SqliteAccounts,
    SqliteAudit,
    SqlitePrivacy,
    SqliteVerifications,
):
    """The SQLite store: every concern's queries over one connection setup."""
