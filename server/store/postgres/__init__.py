"""PostgreSQL backend (for scale-out), through asyncpg.

The URL may carry ``?schema=NAME``: the store then lives in that schema (created
when missing), which is how test runs and co-hosted deployments stay apart.
"""

from __future__ import annotations

from server.store.postgres.accounts import PostgresAccounts, PostgresAudit
from server.store.postgres.events import PostgresEvents
from server.store.postgres.knowledge import PostgresKnowledge
from server.store.postgres.privacy import PostgresPrivacy
from server.store.postgres.profiles import PostgresProfiles
from server.store.postgres.runs import PostgresRuns
from server.store.postgres.verifications import PostgresVerifications


class PostgresStore(
    PostgresProfiles,
    PostgresEvents,
    PostgresKnowledge,
    PostgresRuns,
    PostgresAccounts,
    PostgresAudit,
    PostgresPrivacy,
    PostgresVerifications,
):
    """The PostgreSQL store: every concern's queries over one connection setup."""
