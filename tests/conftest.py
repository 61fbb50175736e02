"""Fixtures shared by every test layer.

Store tests run once per backend: SQLite in a temporary folder and PostgreSQL
on 127.0.0.1:5432 (database ``test``) in a schema of its own for each test, so
runs never see each other. Under ``CI=true`` an unreachable PostgreSQL fails
those tests instead of skipping them.

Broker tests run on the in-process broker and on Redis at 127.0.0.1:6379, each
test under a key prefix of its own that is deleted afterwards; Redis is
handled like PostgreSQL: skipped when unreachable, except under ``CI=true``.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
import redis

from server.store import Store, open_store

IN_CI = os.environ.get("CI", "").lower() == "true"
POSTGRES_DSN = os.environ.get("TANDEM_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TANDEM_TEST_REDIS", "redis://127.0.0.1:6379/0")
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _postgres_reachable() -> str | None:
    async def probe() -> None:
        conn = await asyncpg.connect(POSTGRES_DSN, timeout=5)
        await conn.close()

    try:
        asyncio.run(probe())
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        return f"PostgreSQL at {POSTGRES_DSN} is not reachable: {exc}"
    return None


@pytest.fixture(scope="session")
def postgres_dsn() -> str:
    problem = _postgres_reachable()
    if problem:
        if IN_CI:
            pytest.fail(f"{problem} (CI=true: store tests must run on PostgreSQL)")
        pytest.skip(
            f"{problem}: the PostgreSQL half of the store tests needs a PostgreSQL there (the SQLite half runs); under CI=true they fail instead"
        )
    return POSTGRES_DSN


def _redis_reachable() -> str | None:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=5, socket_timeout=5)
    try:
        client.ping()
    except (OSError, redis.RedisError) as exc:
        return f"Redis at {REDIS_URL} is not reachable: {exc}"
    finally:
        client.close()
    return None


@pytest.fixture(scope="session")
def redis_url() -> str:
    """Redis for the broker tests (which add a key prefix of their own)."""
    problem = _redis_reachable()
    if problem:
        if IN_CI:
            pytest.fail(f"{problem} (CI=true: broker tests must run on Redis)")
        pytest.skip(
            f"{problem}: the Redis half of the broker tests needs a Redis there (TANDEM_TEST_REDIS; the in-process half runs); under CI=true they fail instead"
        )
    return REDIS_URL


def _drop_schema(dsn: str, schema: str) -> None:
    async def drop() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()

    asyncio.run(drop())


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL for an empty store, once per backend; PostgreSQL gets a fresh schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'tandem.db'}"
        return
    dsn = request.getfixturevalue("postgres_dsn")
    schema = f"tandem_test_{uuid.uuid4().hex[:12]}"
    try:
        yield f"{dsn}?schema={schema}"
    finally:
        _drop_schema(dsn, schema)


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    async with open_store(store_url) as opened:
        yield opened
