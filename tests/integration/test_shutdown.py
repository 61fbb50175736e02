"""A real server process: a graceful shutdown (SIGTERM) closes its WebSockets with 1012 so
clients reconnect elsewhere, and every event it acknowledged is in the store afterwards; its
logs, in JSON, carry the ids of what each line is about."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import msgspec
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Origin

from server.protocol import decode_server, encode
from server.protocol.messages import Ack, Hello, Location, Welcome
from tests.conftest import REPO, free_port
from tests.integration.live_server import DEMO_ORIGIN

pytestmark = pytest.mark.anyio
TANDEM = str(Path(sys.executable).parent / "tandem")


def start_server(tmp: Path, port: int, **extra: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "TANDEM_DEMO_SIGNING_KEY": "shutdown-test-key", **extra}
    server = subprocess.Popen(
        [TANDEM, "serve", "--port", str(port), "--store", f"sqlite:///{tmp / 'tandem.db'}"],
        cwd=REPO, env=env, stdout=(tmp / "server.log").open("ab"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert server.poll() is None, (tmp / "server.log").read_text()
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                return server
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise AssertionError("the server did not start")


async def acks_until_closed(ws: ClientConnection) -> tuple[int, int | None]:
    """The last acknowledgement before the server closed the socket, and the close code."""
    acked = 0
    try:
        while True:
            message = decode_server(await ws.recv())  # type: ignore[arg-type]
            if isinstance(message, Ack):
                acked = max(acked, message.upto)
    except ConnectionClosed as closed:
        return acked, closed.rcvd.code if closed.rcvd else None


async def test_sigterm_closes_sockets_with_1012_and_loses_no_acknowledged_event(
    tmp_path: Path,
) -> None:
    port = free_port()
    server = start_server(tmp_path, port)
    acked = 0
    sent = 0
    try:
        async with connect(
            f"ws://127.0.0.1:{port}/ws?site=demo", origin=Origin(DEMO_ORIGIN), max_size=None
        ) as ws:
            await ws.send(encode(Hello(v=1, site="demo", tab="tab-shutdown-1")))
            assert isinstance(decode_server(await ws.recv()), Welcome)  # type: ignore[arg-type]

            async def keep_sending() -> None:
                nonlocal sent
                while True:
                    sent += 1
                    url = f"http://127.0.0.1:8001/team?visit={sent}"
                    await ws.send(encode(Location(cseq=sent, at=int(time.time() * 1000), url=url)))
                    await asyncio.sleep(0.002)

            sender = asyncio.create_task(keep_sending())
            while acked < 50:
                message = decode_server(await ws.recv())  # type: ignore[arg-type]
                if isinstance(message, Ack):
                    acked = message.upto
            server.send_signal(signal.SIGTERM)  # while events keep coming
            last, code = await acks_until_closed(ws)
            acked = max(acked, last)
            sender.cancel()
        assert code == 1012
        # uvicorn finishes its shutdown, then lets the signal end the process as it would have.
        assert server.wait(timeout=30) in (0, -signal.SIGTERM)
        assert "Application shutdown complete" in (tmp_path / "server.log").read_text()
    finally:
        if server.poll() is None:
            server.kill()
    rows = sqlite3.connect(tmp_path / "tandem.db").execute(
        "SELECT cseq FROM events WHERE tab = 'tab-shutdown-1' ORDER BY cseq"
    )
    stored = [cseq for (cseq,) in rows]
    assert acked >= 50 and sent >= acked
    assert stored[:acked] == list(range(1, acked + 1)), "an acknowledged event was lost"
    assert msgspec.json.encode(stored)  # the rows are readable after the server stopped


def test_json_logs_carry_the_request_id_and_say_nothing_of_the_visitor(tmp_path: Path) -> None:
    import json

    port = free_port()
    server = start_server(tmp_path, port, TANDEM_LOG_FORMAT="json")
    try:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/healthz", headers={"X-Request-Id": "req-from-the-caller"}
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.headers["X-Request-Id"] == "req-from-the-caller"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
            made = response.headers["X-Request-Id"]
            assert made and made != "req-from-the-caller"
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    lines = [json.loads(line) for line in (tmp_path / "server.log").read_text().splitlines()]
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    access = [line for line in lines if line["logger"] == "uvicorn.access"]
    # (the first ones are start_server's own probes)
    assert [line.get("request") for line in access][-2:] == ["req-from-the-caller", made]
    assert any(line["message"] == "Application startup complete." for line in lines)
