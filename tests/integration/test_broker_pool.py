"""The Redis broker under a burst: more commands at once than its pool has connections wait for
one instead of failing (a node's pages all saying hello again after another node died)."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from server.broker.redis import RedisBroker
from tests.integration.test_broker import purge, with_prefix

pytestmark = pytest.mark.anyio


async def test_a_burst_larger_than_the_pool_waits_for_connections(redis_url: str) -> None:
    prefix = f"test-pool-{uuid.uuid4().hex}:"
    url = with_prefix(redis_url, prefix)
    small = url + ("&" if "?" in url else "?") + "max_connections=4"
    broker = RedisBroker.from_url(small)
    await broker.start()
    try:
        assert await broker.compare_and_set("k", b"v", expected_version=0) is not None
        found = await asyncio.gather(*(broker.get("k") for _ in range(200)))
        assert all(f is not None and f.value == b"v" for f in found)
    finally:
        await broker.close()
        await purge(redis_url, prefix)
