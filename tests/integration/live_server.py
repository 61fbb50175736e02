"""A real Tandem server on a free port inside the test's event loop, and a msgpack tab client."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import msgspec
import uvicorn
from starlette.applications import Starlette
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from server.identity.tokens import sign_visitor_token
from server.protocol import decode_server, encode
from server.protocol.messages import MAX_FRAME, Message, ServerMessage
from server.settings import Settings
from server.web.app import create_app
from server.web.state import AppState
from tests.conftest import REPO, free_port

DEMO_ORIGIN = "http://127.0.0.1:8001"
ADMIN_TOKEN = "test-admin-token"
SHOP_KEY = "shop-secret-for-tests-32-bytes-long!"

SHOP_SITE = """\
key: shop
name: Strict Shop
allowed_origins: ["https://shop.example.com"]
signing_keys:
  - kid: shop-1
    secret_env: TANDEM_TEST_SHOP_KEY
"""
SHOP_PROCESSES = """\
processes:
  - id: checkout
    title: Check out
    url_patterns: ["/checkout/*"]
    goal: { url: "/checkout/done" }
"""


def content_dir(tmp: Path) -> Path:
    """The demo content plus a strict site, ``shop``."""
    root = tmp / "content"
    shutil.copytree(REPO / "walkthroughs", root)
    (root / "shop").mkdir()
    (root / "shop" / "site.yaml").write_text(SHOP_SITE)
    (root / "shop" / "processes.yaml").write_text(SHOP_PROCESSES)
    return root


@dataclass
class LiveServer:
    url: str
    server: uvicorn.Server

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/ws"

    @property
    def state(self) -> AppState:
        """What the running server holds (its store, broker, live tabs), for tests that reach in."""
        app = self.server.config.loaded_app
        while not isinstance(app, Starlette):  # uvicorn wraps the app in its middleware
            app = app.app
        state: AppState = app.state.tandem
        return state


@contextlib.asynccontextmanager
async def live_server(settings: Settings) -> AsyncIterator[LiveServer]:
    port = free_port()
    config = uvicorn.Config(
        create_app(settings.with_(port=port)), host="127.0.0.1", port=port,
        log_level="warning", ws="websockets-sansio", ws_max_size=MAX_FRAME, lifespan="on",
    )  # fmt: skip
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", server)
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 30)


class TabClient:
    """A test stand-in for tandem.js: raw msgpack frames over a real WebSocket."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws

    async def send(self, message: Message | dict[str, Any] | bytes | str) -> None:
        if isinstance(message, Message):
            await self.ws.send(encode(message))
        elif isinstance(message, dict):
            await self.ws.send(msgspec.msgpack.encode(message))
        else:
            await self.ws.send(message)

    async def recv(self, within: float = 10) -> ServerMessage:
        frame = await asyncio.wait_for(self.ws.recv(), within)
        assert isinstance(frame, bytes), "the server sends binary frames"
        return decode_server(frame)

    async def recv_until(self, kind: type[Any], within: float = 10) -> Any:
        while True:
            message = await self.recv(within)
            if isinstance(message, kind):
                return message

    async def closed(self, within: float = 10) -> tuple[int | None, str]:
        """Wait for the server to close; return (code, reason)."""
        try:
            while True:
                await asyncio.wait_for(self.ws.recv(), within)
        except ConnectionClosed as closed:
            frame = closed.rcvd
            return (frame.code, frame.reason) if frame else (None, "")


@contextlib.asynccontextmanager
async def tab_client(
    server: LiveServer, *, site: str = "demo", origin: str = DEMO_ORIGIN
) -> AsyncIterator[TabClient]:
    async with connect(f"{server.ws_url}?site={site}", origin=origin, max_size=None) as ws:  # type: ignore[arg-type]
        yield TabClient(ws)


DEMO_KEY = "demo-key-for-tests-at-least-32-bytes"


def demo_token(user: str = "u-ada", **kw: object) -> str:
    """A visitor token for the demo site, signed as its backend would."""
    args: dict[str, object] = {
        "site": "demo",
        "kid": "demo-1",
        "secret": DEMO_KEY,
        "now": int(time.time()),
    }
    args.update(kw)
    return sign_visitor_token(user, **args)  # type: ignore[arg-type]


async def api(server: LiveServer, path: str) -> httpx2.Response:
    """GET an admin API path."""
    async with httpx2.AsyncClient(
        base_url=server.url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    ) as client:
        return await client.get(path)
