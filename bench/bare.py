"""The bare baselines, each run as its own server process by ``bench.servers``:

``python -m bench.bare starlette|websockets echo|relay PORT``

- ``starlette``: a Starlette WebSocket app under uvicorn, run the way ``tandem serve`` runs
  Tandem (the same ``websockets-sansio`` implementation), without per-message compression;
- ``websockets``: a bare ``websockets`` server, no compression;
- ``echo`` (``/ws``): every binary frame is sent back — what an idle connection costs when it
  does nothing of its own;
- ``relay`` (``/relay/SESSION/visitor`` and ``/relay/SESSION/agent``): every frame of a
  session's visitor goes to each of that session's agents, as it is (Starlette: one
  ``send_bytes`` per agent; websockets: ``broadcast()``). An agent is told ``ready`` once
  registered.

Both run on uvloop when it is installed, as uvicorn runs Tandem.
"""

from __future__ import annotations

import sys
from typing import Any

from bench.harness import run_fast

READY = b"ready"


def _path_parts(path: str) -> tuple[str, str]:
    """(session, role) of ``/relay/SESSION/ROLE``."""
    parts = path.strip("/").split("/")
    return (parts[1], parts[2]) if len(parts) == 3 and parts[0] == "relay" else ("", "")


def starlette_app(role: str) -> Any:
    """The baseline app: ``/ws`` echoes (role echo), ``/relay/SESSION/ROLE`` relays."""
    from starlette.applications import Starlette
    from starlette.routing import WebSocketRoute
    from starlette.websockets import WebSocket

    rooms: dict[str, set[WebSocket]] = {}

    async def echo(ws: WebSocket) -> None:
        await ws.accept()
        async for data in ws.iter_bytes():
            await ws.send_bytes(data)

    async def relay(ws: WebSocket) -> None:
        await ws.accept()
        session, who = ws.path_params["session"], ws.path_params["role"]
        if who == "agent":
            room = rooms.setdefault(session, set())
            room.add(ws)
            try:
                await ws.send_bytes(READY)
                async for _ in ws.iter_bytes():
                    pass
            finally:
                room.discard(ws)
            return
        async for data in ws.iter_bytes():
            for agent in list(rooms.get(session, ())):
                await agent.send_bytes(data)

    route = (
        WebSocketRoute("/ws", echo)
        if role == "echo"
        else WebSocketRoute("/relay/{session}/{role}", relay)
    )
    return Starlette(routes=[route])


def run_starlette(role: str, port: int) -> None:
    """Serve the Starlette baseline as ``tandem serve`` serves Tandem, without compression."""
    import uvicorn

    uvicorn.run(
        starlette_app(role), host="127.0.0.1", port=port, log_level="warning", lifespan="off",
        ws="websockets-sansio", ws_per_message_deflate=False,
    )  # fmt: skip


async def serve_websockets(role: str, port: int) -> None:
    """Serve the bare ``websockets`` baseline, without compression, until stopped."""
    from websockets.asyncio.server import ServerConnection, broadcast, serve

    rooms: dict[str, set[ServerConnection]] = {}

    async def echo(ws: ServerConnection) -> None:
        async for message in ws:
            await ws.send(message)

    async def relay(ws: ServerConnection) -> None:
        session, who = _path_parts(ws.request.path if ws.request else "")
        if who == "agent":
            room = rooms.setdefault(session, set())
            room.add(ws)
            try:
                await ws.send(READY)
                await ws.wait_closed()
            finally:
                room.discard(ws)
            return
        async for message in ws:
            broadcast(rooms.get(session, set()), message)

    handler = echo if role == "echo" else relay
    async with serve(handler, "127.0.0.1", port, compression=None, max_size=None) as server:
        await server.serve_forever()


def main(argv: list[str]) -> int:
    """``KIND ROLE PORT`` from the command line."""
    kind, role, port = argv[0], argv[1], int(argv[2])
    if role not in ("echo", "relay"):
        raise SystemExit(f"role is echo or relay, not {role!r}")
    if kind == "starlette":
        run_starlette(role, port)
    elif kind == "websockets":
        run_fast(serve_websockets(role, port))
    else:
        raise SystemExit(f"kind is starlette or websockets, not {kind!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
