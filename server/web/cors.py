"""CORS per site: a browser on one of a site's allowed origins may call that site's API."""

from __future__ import annotations

import re

from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.knowledge.site import Site

SITE_PATH = re.compile(r"^/api/(?:users|sites)/(?P<site>[a-z0-9][a-z0-9-]*)(?:/|$)")
ALLOW_METHODS = "GET, POST, PUT, DELETE, OPTIONS"
ALLOW_HEADERS = "Authorization, Content-Type"


class SiteCors:
    def __init__(self, app: ASGIApp, sites: dict[str, Site]) -> None:
        self.app = app
        self.sites = sites

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        origin = Headers(scope=scope).get("origin")
        match = SITE_PATH.match(scope["path"])
        if origin is None or match is None:
            await self.app(scope, receive, send)
            return
        site = self.sites.get(match["site"])
        allowed = site is not None and origin in site.config.allowed_origins
        preflight = scope["method"] == "OPTIONS" and "access-control-request-method" in Headers(
            scope=scope
        )
        if not allowed:
            response = PlainTextResponse(
                f"origin {origin} is not allowed for this site", status_code=403
            )
            await response(scope, receive, send)
            return
        cors = {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}
        if preflight:
            response = PlainTextResponse(
                "",
                status_code=204,
                headers={
                    **cors,
                    "Access-Control-Allow-Methods": ALLOW_METHODS,
                    "Access-Control-Allow-Headers": ALLOW_HEADERS,
                    "Access-Control-Max-Age": "600",
                },
            )
            await response(scope, receive, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [(k.lower().encode(), v.encode()) for k, v in cors.items()]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_cors)
