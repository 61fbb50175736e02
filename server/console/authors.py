"""The console's pages for authors (and admins): the walkthrough library, each walkthrough's
versions side by side, publish / unpublish / roll back, a preview on the site, and the step
funnel of each version with the steps whose targets are drifting toward breaking.

Versions are immutable and come from the content folder (``tandem load``, start-up);
what the console changes is which one visitors get. Runs already under way stay on the
version they started with.
"""

from __future__ import annotations

import asyncio
import difflib
import time
from typing import Any
from urllib.parse import quote

import yaml
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from server.console.signin import (
    audit,
    page,
    posted_as,
    signed_in_as,
    state_of,
)
from server.knowledge.site import Site
from server.knowledge.walkthrough import WalkthroughFile
from server.publishing import load_catalog
from server.store.base import WalkthroughVersion
from server.support.run import DRIFT_MARGIN, RESOLVER_THRESHOLD, drifting
from server.web import catalogs
from server.web.funnels import version_funnel

AUTHOR_ROLES = frozenset({"author", "admin"})
NOT_FOR_YOU = "Walkthroughs are for authors and admins."


def _title(version: WalkthroughVersion) -> str:
    return str(version.body.get("title") or version.walkthrough)


def _yaml(version: WalkthroughVersion) -> list[str]:
    text = yaml.safe_dump(version.body, sort_keys=False, allow_unicode=True, width=100)
    return text.splitlines()


def preview_url(site: Site, version: WalkthroughVersion) -> str | None:
    """The page the walkthrough starts on, with the walkthrough started (``#tandem-start=ID``)."""
    if not site.config.allowed_origins:
        return None
    process = next((p for p in site.processes if p.id == version.process), None)
    path = "/"
    for pattern in process.url_patterns if process else []:
        candidate = pattern if isinstance(pattern, str) else pattern.get("pathname", "")
        if candidate.startswith("/") and not any(c in candidate for c in "*:(){}?"):
            path = candidate
            break
    return f"{site.config.allowed_origins[0]}{path}#tandem-start={quote(version.walkthrough)}"


async def library(request: Request) -> Response:
    site_key = request.path_params["site"]
    found = await signed_in_as(request, site_key, AUTHOR_ROLES, NOT_FOR_YOU)
    if isinstance(found, Response):
        return found
    who, account = found
    state = state_of(request)
    site = state.sites[site_key]
    index = await state.store.walkthrough_index(site_key)
    by_process: dict[str, list[dict[str, Any]]] = {}
    for walkthrough, published in index.items():
        versions = await state.store.walkthrough_versions(site_key, walkthrough)
        if not versions:
            continue
        latest = versions[-1]
        by_process.setdefault(latest.process, []).append(
            {
                "id": walkthrough,
                "title": _title(latest),
                "published": published,
                "latest": latest.version,
                "versions": len(versions),
            }
        )
    titles = {p.id: p.title for p in site.processes}
    processes = [
        {"id": process, "title": titles.get(process, process), "walkthroughs": rows}
        for process, rows in sorted(by_process.items(), key=lambda kv: titles.get(kv[0], kv[0]))
    ]
    return page(
        "walkthroughs.html", site=site_key, account=account, csrf=who.csrf, processes=processes
    )


async def walkthrough_page(request: Request) -> Response:
    site_key, walkthrough = request.path_params["site"], request.path_params["walkthrough"]
    found = await signed_in_as(request, site_key, AUTHOR_ROLES, NOT_FOR_YOU)
    if isinstance(found, Response):
        return found
    who, account = found
    state = state_of(request)
    versions = await state.store.walkthrough_versions(site_key, walkthrough)
    if not versions:
        return page("refused.html", 404, message="There is no such walkthrough on this site.")
    published = (await state.store.walkthrough_index(site_key)).get(walkthrough)
    by_number = {v.version: v for v in versions}
    shown = by_number.get(_key(request.query_params.get("version"))) or by_number.get(
        published or 0, versions[-1]
    )
    compare = by_number.get(_key(request.query_params.get("compare")))
    diff = None
    if compare is not None and compare.version != shown.version:
        older, newer = sorted((compare, shown), key=lambda v: v.version)
        diff = difflib.HtmlDiff(wrapcolumn=60).make_table(
            _yaml(older), _yaml(newer), f"version {older.version}", f"version {newer.version}",
            context=True, numlines=2,
        )  # fmt: skip
    steps = [str(step["id"]) for step in shown.body.get("steps", [])]
    rows = await version_funnel(state, site_key, walkthrough, shown.version, steps)
    widest = max((r.shown for r in rows), default=0) or 1
    funnel = [
        {**r.as_dict(), "drifting": drifting(r), "bar": round(100 * r.shown / widest),
         "done": round(100 * r.completed / widest),
         "missing_rate": f"{100 * r.missing_target / r.shown:.0f}%" if r.shown else "—"}
        for r in rows
    ]  # fmt: skip
    verified = await state.store.latest_verifications(site_key, walkthrough, limit=3)
    return page(
        "walkthrough.html", site=site_key, account=account, csrf=who.csrf, walkthrough=walkthrough,
        verified=verified,
        title=_title(shown), versions=versions, published=published, shown=shown, compare=compare,
        diff=diff, funnel=funnel, preview=preview_url(state.sites[site_key], shown),
        threshold=RESOLVER_THRESHOLD, margin=DRIFT_MARGIN,
    )  # fmt: skip


async def publish(request: Request) -> Response:
    """Publish a version (rolling back is publishing an older one) or unpublish the walkthrough."""
    site_key, walkthrough = request.path_params["site"], request.path_params["walkthrough"]
    posted = await posted_as(request, site_key, AUTHOR_ROLES, NOT_FOR_YOU)
    if isinstance(posted, Response):
        return posted
    account, form = posted
    wanted = str(form.get("version", ""))
    version = None if wanted == "none" else _int(wanted)
    if wanted != "none" and version is None:
        return page("refused.html", 400, message="Publish a version number, or none.")
    state = state_of(request)
    if (
        version is not None
    ):  # one stored under an older format must still load before visitors get it
        stored = await state.store.walkthrough_version(site_key, walkthrough, version)
        if stored is None:
            return page("refused.html", 404, message="There is no such walkthrough or version.")
        try:
            WalkthroughFile.model_validate(stored.body)
        except ValidationError as exc:
            return page("refused.html", 400, message=f"Version {version} no longer loads: {exc}")
    lock = state.publishing.setdefault(site_key, asyncio.Lock())
    async with lock:  # one publish of a site at a time here: the catalog loaded is the last one
        before = (await state.store.walkthrough_index(site_key)).get(walkthrough)
        now_ms = time.time_ns() // 1_000_000
        if not await state.store.set_published(site_key, walkthrough, version, now_ms=now_ms):
            return page("refused.html", 404, message="There is no such walkthrough or version.")
        state.catalogs[site_key] = await load_catalog(state.store, state.sites[site_key])
    await catalogs.changed(state, site_key)  # the other nodes load it too
    await audit(
        request, site_key, account.email,
        "walkthrough.unpublished" if version is None else "walkthrough.published", walkthrough,
        version=version, previous=before,
    )  # fmt: skip
    return RedirectResponse(
        f"/console/{site_key}/walkthroughs/{quote(walkthrough)}", status_code=303
    )


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _key(value: str | None) -> int:
    """A version asked for in the query; 0 (no version) when absent or not a number."""
    return _int(value) or 0


def author_routes() -> list[BaseRoute]:
    return [
        Route("/console/{site}/walkthroughs", library, include_in_schema=False),
        Route(
            "/console/{site}/walkthroughs/{walkthrough}", walkthrough_page, include_in_schema=False
        ),
        Route(
            "/console/{site}/walkthroughs/{walkthrough}/publish",
            publish,
            methods=["POST"],
            include_in_schema=False,
        ),
    ]
