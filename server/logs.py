"""Logging: plain lines for a person at a terminal, or one JSON object per line for a log
pipeline (``TANDEM_LOG_FORMAT=json``), each carrying the ids of what it is about.

The ids live in context variables set where work starts — an HTTP request
(``request``: the caller's ``X-Request-Id`` or a fresh one, sent back in the
response), a tab's connection (``request``: the connection's id, ``site``,
``tab``), an agent's live view (``site``, ``session``) — so every line logged
while handling it carries them, uvicorn's own lines included. Visitor ids are
never added: tabs and sessions are enough to follow a story, and say nothing
about a person.
"""

from __future__ import annotations

import contextvars
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

CONTEXT: dict[str, contextvars.ContextVar[str]] = {
    name: contextvars.ContextVar(f"tandem_log_{name}", default="")
    for name in ("request", "site", "tab", "session")
}


def bind(**ids: str) -> None:
    """Set ids for the rest of the current task (and the tasks it starts)."""
    for name, value in ids.items():
        CONTEXT[name].set(value)


def context() -> dict[str, str]:
    return {name: var.get() for name, var in CONTEXT.items() if var.get()}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, the ids, the error."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **context(),
        }
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        ids = " ".join(f"{k}={v}" for k, v in context().items())
        line = f"{record.levelname}:{' ' * max(1, 9 - len(record.levelname))}{record.getMessage()}"
        if ids:
            line += f"  [{ids}]"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def configure(level: str = "info", fmt: str = "text") -> None:
    """Route every logger (uvicorn's too) through one handler on stderr, in ``fmt``."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True


Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class RequestIds:
    """ASGI middleware: each HTTP request gets an id (the caller's ``X-Request-Id`` when it sends a
    sane one), bound for its log lines and sent back in the response's ``X-Request-Id``."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if 0 < len(given) <= 64 and given.isprintable() else secrets.token_hex(8)
        bind(request=request_id)

        async def send_with_id(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                headers.append((b"x-request-id", request_id.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_id)
