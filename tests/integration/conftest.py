"""Fixtures for tests that run a real server: signing keys in the environment, the server itself."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from server.settings import Settings
from tests.integration.live_server import (
    ADMIN_TOKEN,
    DEMO_KEY,
    SHOP_KEY,
    LiveServer,
    content_dir,
    live_server,
)


@pytest.fixture(autouse=True)
def signing_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """The demo and shop sites' signing secrets, as their site.yaml files name them."""
    monkeypatch.setenv("TANDEM_DEMO_SIGNING_KEY", DEMO_KEY)
    monkeypatch.setenv("TANDEM_TEST_SHOP_KEY", SHOP_KEY)


@pytest.fixture
async def server(store_url: str, tmp_path: Path) -> AsyncIterator[LiveServer]:
    """A real server on a free port, on each store backend, with the demo and shop sites."""
    settings = Settings(
        store_url=store_url, content_dir=content_dir(tmp_path), admin_token=ADMIN_TOKEN
    )
    async with live_server(settings) as live:
        yield live
