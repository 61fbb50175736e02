"""The Tandem server's ASGI application: routes are assembled here, in one place."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from server import __version__
from server.content import load_sites
from server.knowledge.site import Site
from server.settings import Settings
from server.store import Store, StoreUnavailable, open_store


class ClientBundleMissing(RuntimeError):
    """The browser client has not been built."""


@dataclass
class AppState:
    settings: Settings
    sites: dict[str, Site]
    store: Store


def check_client_bundle(settings: Settings) -> None:
    if not settings.client_bundle.is_file():
        raise ClientBundleMissing(
            f"the browser client is not built ({settings.client_bundle} is missing): "
            "run `make client` (or `npm --prefix client_js run build`)"
        )


def state_of(request: Request) -> AppState:
    state: AppState = request.app.state.tandem
    return state


async def healthz(request: Request) -> Response:
    state = state_of(request)
    try:
        await state.store.ping()
    except StoreUnavailable as exc:
        return JSONResponse({"status": "unavailable", "store": str(exc)}, status_code=503)
    return JSONResponse(
        {
            "status": "ok",
            "version": __version__,
            "store": state.store.backend,
            "schema_version": await state.store.schema_version(),
            "sites": sorted(state.sites),
        }
    )


async def client_script(request: Request) -> Response:
    bundle = state_of(request).settings.client_bundle
    # Sites load this cross-origin with a plain <script> tag; no-cache keeps
    # deployments current while still allowing conditional requests (ETag).
    return FileResponse(
        bundle,
        media_type="text/javascript; charset=utf-8",
        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
    )


def create_app(settings: Settings) -> Starlette:
    """Build the server. Fails fast when content is invalid or the client is not built."""
    check_client_bundle(settings)
    sites = load_sites(settings.content_dir)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        store = open_store(settings.store_url)
        await store.open()
        app.state.tandem = AppState(settings=settings, sites=sites, store=store)
        try:
            yield
        finally:
            await store.close()

    routes = [
        Route("/healthz", healthz),
        Route("/tandem.js", client_script),
    ]
    return Starlette(routes=routes, lifespan=lifespan)
