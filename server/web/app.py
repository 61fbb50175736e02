"""The Tandem server's ASGI application: routes are assembled here, in one place."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import time
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.schemas import SchemaGenerator

from server import __version__
from server.broker import open_broker
from server.console.web import console_routes
from server.content import load_sites
from server.live import LiveTabs
from server.logs import RequestIds
from server.publishing import load_catalog, publish_site
from server.settings import Settings
from server.store import open_store
from server.visitors import Visitors, load_site_keys
from server.web import api, privacy
from server.web import catalogs as published
from server.web.cors import SiteCors
from server.web.state import AppState
from server.web.tab_socket import tab_socket

ANONYMOUS_SECRET_KEY = "anonymous-id-secret"


class ClientBundleMissing(RuntimeError):
    """The browser client has not been built."""


class ContentConflict(RuntimeError):
    """A walkthrough changed without raising its version."""


def check_client_bundle(settings: Settings) -> None:
    if not settings.client_bundle.is_file():
        raise ClientBundleMissing(
            f"the browser client is not built ({settings.client_bundle} is missing): "
            "run `make client` (or `npm --prefix client_js run build`)"
        )


async def client_script(request: Request) -> Response:
    """
    summary: The browser client, tandem.js
    responses:
      200: {description: "JavaScript"}
    """
    bundle = api.state_of(request).settings.client_bundle
    # Cached for five minutes, so pages keep loading the client while a server
    # restarts; ETag revalidation keeps deployments current after that.
    return FileResponse(
        bundle,
        media_type="text/javascript; charset=utf-8",
        headers={
            "Cache-Control": "public, max-age=300",
            "Access-Control-Allow-Origin": "*",
            "X-Content-Type-Options": "nosniff",
        },
    )


def _on_demand_script(request: Request, name: str) -> Response:
    """One of the bundles tandem.js loads on demand, beside it in the client's build, cached as it is."""
    bundle = api.state_of(request).settings.client_bundle.with_name(name)
    return FileResponse(
        bundle,
        media_type="text/javascript; charset=utf-8",
        headers={
            "Cache-Control": "public, max-age=300",
            "Access-Control-Allow-Origin": "*",
            "X-Content-Type-Options": "nosniff",
        },
    )


async def cobrowse_script(request: Request) -> Response:
    """
    summary: The co-browse consent questions and banner, loaded by tandem.js only once an agent asks
    responses:
      200: {description: "JavaScript"}
    """
    return _on_demand_script(request, "tandem-cobrowse.js")


async def mirror_script(request: Request) -> Response:
    """
    summary: The co-browse recorder, loaded by tandem-cobrowse.js only once the visitor shares the page
    responses:
      200: {description: "JavaScript"}
    """
    return _on_demand_script(request, "tandem-mirror.js")


schemas = SchemaGenerator({"openapi": "3.0.3", "info": {"title": "Tandem", "version": __version__}})


async def metrics(request: Request) -> Response:
    """
    summary: Metrics for Prometheus (connections, messages in and out by kind, errors, queue, store and broker latency)
    responses:
      200: {description: "Prometheus text format"}
    """
    from prometheus_client import CONTENT_TYPE_LATEST

    return Response(api.state_of(request).metrics.exposition(), media_type=CONTENT_TYPE_LATEST)


async def openapi(request: Request) -> Response:
    """
    summary: This API's OpenAPI description
    responses:
      200: {description: "OpenAPI 3 document"}
    """
    return JSONResponse(schemas.get_schema(routes=request.app.routes))


def routes() -> list[BaseRoute]:
    return [
        Route("/healthz", api.healthz),
        Route("/metrics", metrics),
        Route("/tandem.js", client_script),
        Route("/tandem-cobrowse.js", cobrowse_script),
        Route("/tandem-mirror.js", mirror_script),
        Route("/openapi.json", openapi, include_in_schema=True),
        Route("/api/users/{site}/{user_id}/location", api.user_location),
        Route("/api/users/{site}/{user_id}/profile", api.user_profile),
        Route("/api/users/{site}/{user_id}/events", api.user_events),
        Route("/api/users/{site}/{user_id}/export", api.user_export),
        Route("/api/users/{site}/{user_id}", api.user_erase, methods=["DELETE"]),
        Route("/api/sites/{site}/walkthroughs/{walkthrough}/funnel", api.walkthrough_funnel),
        Route("/api/sites/{site}/help", api.help_request, methods=["POST"]),
        Route("/api/sites/{site}/support-sessions/{session}", api.support_session),
        WebSocketRoute("/ws", tab_socket),
        *console_routes(),
    ]


def create_app(settings: Settings) -> Starlette:
    """Build the server. Fails fast when content is invalid, a key is missing or the client is not built."""
    check_client_bundle(settings)
    sites = load_sites(settings.content_dir)
    site_keys = load_site_keys(sites, os.environ)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        store = open_store(settings.store_url)
        await store.open()
        catalogs = {}
        for site in sites.values():
            report = await publish_site(store, site, now_ms=int(time.time() * 1000))
            if report.conflicts:
                await store.close()
                raise ContentConflict("\n".join(report.conflicts))
            catalogs[site.key] = await load_catalog(store, site)
        broker = open_broker(settings.broker_url)
        await broker.start()
        secret = settings.secret or await store.server_value(
            ANONYMOUS_SECRET_KEY, secrets.token_hex(32)
        )
        app.state.tandem = AppState(
            settings=settings,
            sites=sites,
            store=store,
            broker=broker,
            live=LiveTabs(broker),
            visitors=Visitors(site_keys, secret.encode()),
            secret=secret.encode(),
            catalogs=catalogs,
        )
        retention = asyncio.create_task(privacy.retention_loop(app.state.tandem))
        following = asyncio.create_task(published.follow(app.state.tandem))
        tandem = app.state.tandem
        tandem.metrics.count_connections("tab", lambda: len(tandem.connections))
        tandem.metrics.count_connections("agent", lambda: len(tandem.watchers))
        try:
            yield
        finally:
            retention.cancel()
            following.cancel()
            await asyncio.gather(following, return_exceptions=True)
            await app.state.tandem.scoring.close()
            background = app.state.tandem.frustration.background
            if background:  # referrals and handoffs under way get a moment to finish
                await asyncio.wait(set(background), timeout=5)
            await broker.close()
            await store.close()

    return Starlette(
        routes=routes(),
        lifespan=lifespan,
        middleware=[Middleware(RequestIds), Middleware(SiteCors, sites=sites)],
    )
