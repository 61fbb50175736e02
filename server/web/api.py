"""The HTTP API (JSON). Admin endpoints need ``Authorization: Bearer TANDEM_ADMIN_TOKEN``.

Each endpoint's docstring holds its OpenAPI description (served at /openapi.json).
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from functools import wraps

import msgspec
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from server import __version__
from server.live import focused_tab
from server.store import StoreUnavailable
from server.store.base import StoredRun
from server.web.funnels import version_funnel
from server.web.state import AppState

Endpoint = Callable[[Request], Awaitable[Response]]


def state_of(request: Request) -> AppState:
    state: AppState = request.app.state.tandem
    return state


def problem(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def admin(endpoint: Endpoint) -> Endpoint:
    """Require the admin token; refuse unknown sites with 404."""

    @wraps(endpoint)
    async def guarded(request: Request) -> Response:
        token = state_of(request).settings.admin_token
        if not token:
            return problem(503, "the admin API is off: set TANDEM_ADMIN_TOKEN")
        given = request.headers.get("authorization", "")
        scheme, _, value = given.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(value.encode(), token.encode()):
            return JSONResponse(
                {"error": "missing or wrong admin token"},
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer realm="tandem"'},
            )
        site = request.path_params.get("site")
        if site is not None and site not in state_of(request).sites:
            return problem(404, f"unknown site {site!r}")
        return await endpoint(request)

    return guarded


async def healthz(request: Request) -> Response:
    """
    summary: Health of the server and its store
    responses:
      200: {description: "ok, with version, store backend and schema version"}
      503: {description: "the store is unavailable"}
    """
    state = state_of(request)
    try:
        await state.store.ping()
        schema_version = await state.store.schema_version()
    except StoreUnavailable as exc:
        return JSONResponse({"status": "unavailable", "store": str(exc)}, status_code=503)
    return JSONResponse(
        {
            "status": "ok",
            "version": __version__,
            "store": state.store.backend,
            "schema_version": schema_version,
            "sites": sorted(state.sites),
            "connections": len(state.connections),
        }
    )


@admin
async def user_location(request: Request) -> Response:
    """
    summary: Where a visitor is now, in each open tab
    parameters:
      - {name: site, in: path, required: true, schema: {type: string}}
      - {name: user_id, in: path, required: true, schema: {type: string}}
    responses:
      200: {description: "every live tab (url, title, process, focus, visibility) and which one has focus"}
      401: {description: "missing or wrong admin token"}
      404: {description: "unknown site"}
    """
    state = state_of(request)
    site, user = request.path_params["site"], request.path_params["user_id"]
    tabs = await state.live.tabs(site, user)
    return JSONResponse(
        {
            "site": site,
            "user": user,
            "online": bool(tabs),
            "focused_tab": focused_tab(tabs),
            "tabs": [
                {
                    "tab": t.tab,
                    "url": t.url,
                    "title": t.title,
                    "process": t.process,
                    "nav": t.nav,
                    "focused": t.focused,
                    "visible": t.visible,
                    "connected_ms": t.connected_ms,
                    "updated_ms": t.updated_ms,
                }
                for t in tabs
            ],
        }
    )


@admin
async def user_export(request: Request) -> Response:
    """
    summary: Everything held about a visitor (audited)
    parameters:
      - {name: site, in: path, required: true, schema: {type: string}}
      - {name: user_id, in: path, required: true, schema: {type: string}}
    responses:
      200: {description: "every row of theirs, table by table: profile, support items, events, runs, assignments, their pseudonym and the audit entries naming it"}
      401: {description: "missing or wrong admin token"}
      404: {description: "unknown site"}
    """
    from server.web import privacy

    state = state_of(request)
    site, user = request.path_params["site"], request.path_params["user_id"]
    document = await privacy.export_visitor(state.store, site, user, actor="admin-api")
    return JSONResponse(
        document,
        headers={"Content-Disposition": f'attachment; filename="{site}-visitor-export.json"'},
    )


@admin
async def user_erase(request: Request) -> Response:
    """
    summary: Erase a visitor (audited under a pseudonym that goes with them)
    parameters:
      - {name: site, in: path, required: true, schema: {type: string}}
      - {name: user_id, in: path, required: true, schema: {type: string}}
    responses:
      200: {description: "the rows deleted, table by table"}
      401: {description: "missing or wrong admin token"}
      404: {description: "unknown site"}
    """
    from server.web import privacy

    state = state_of(request)
    site, user = request.path_params["site"], request.path_params["user_id"]
    await privacy.forget_live(state, site, user)
    deleted = await privacy.erase_visitor(state.store, site, user, actor="admin-api")
    return JSONResponse({"site": site, "deleted": deleted})


@admin
async def user_profile(request: Request) -> Response:
    """
    summary: A visitor's profile and support history
    parameters:
      - {name: site, in: path, required: true, schema: {type: string}}
      - {name: user_id, in: path, required: true, schema: {type: string}}
    responses:
      200: {description: "traits, support data items (oldest first) and walkthrough runs (newest first: every attempt, how far it got and whether it completed)"}
      401: {description: "missing or wrong admin token"}
      404: {description: "unknown site or visitor"}
    """
    state = state_of(request)
    profile = await state.store.get_profile(
        request.path_params["site"], request.path_params["user_id"]
    )
    if profile is None:
        return problem(404, "no such visitor")
    runs = await state.store.latest_runs(profile.site, profile.user_id, limit=100)
    return JSONResponse(
        {
            "site": profile.site,
            "user": profile.user_id,
            "traits": profile.traits,
            "created_ms": profile.created_ms,
            "support_items": [asdict(item) for item in profile.items],
            "runs": [_run_summary(stored) for stored in runs],
        }
    )


def _run_summary(stored: StoredRun) -> dict[str, object]:
    run = stored.run
    return {
        "run": run.id, "walkthrough": run.walkthrough, "version": run.version, "tab": stored.tab,
        "status": run.status.value, "step": run.step, "completed_steps": list(run.completed_steps),
        "steps": len(run.steps), "session": run.session, "started_ms": run.started_ms,
        "updated_ms": run.updated_ms,
    }  # fmt: skip


@admin
async def user_events(request: Request) -> Response:
    """
    summary: A visitor's stored events (locations, focus changes), in order
    parameters:
      - {name: site, in: path, required: true, schema: {type: string}}
      - {name: user_id, in: path, required: true, schema: {type: string}}
      - {name: tab, in: query, required: false, schema: {type: string}}
      - {name: kind, in: query, required: false, schema: {type: string}}
      - {name: after, in: query, required: false, schema: {type: integer}, description: "return events after this id"}
      - {name: limit, in: query, required: false, schema: {type: integer, maximum: 1000}}
    responses:
      200: {description: "events and the id to continue after"}
      400: {description: "a bad query parameter"}
      401: {description: "missing or wrong admin token"}
    """
    query = request.query_params
    try:
        after = int(query.get("after", "0"))
        limit = min(max(int(query.get("limit", "500")), 1), 1000)
    except ValueError:
        return problem(400, "after and limit must be whole numbers")
    events = await state_of(request).store.read_events(
        request.path_params["site"],
        user_id=request.path_params["user_id"],
        tab=query.get("tab"),
        kinds=query.getlist("kind") or None,
        after_id=after,
        limit=limit,
    )
    return JSONResponse(
        {
            "events": [asdict(e) for e in events],
            "next_after": events[-1].id if events else after,
        }
    )


@admin
async def walkthrough_funnel(request: Request) -> Response:
    """
    summary: A walkthrough's step funnel (shown → completed, drop-off, missing targets, how targets were found)
    parameters:
      - {name: site, in: path, required: true, schema: {type: string}}
      - {name: walkthrough, in: path, required: true, schema: {type: string}}
      - {name: version, in: query, required: false, schema: {type: integer, minimum: 1}, description: "the version to count (default: the published one)"}
    responses:
      200: {description: "the version counted (and the published one); per step of that version: shown, completed, skipped, failed, missing_target, drop_off, strategies, similarity_min"}
      400: {description: "version is not a whole number"}
      401: {description: "missing or wrong admin token"}
      404: {description: "unknown site, walkthrough or version"}
    """
    state = state_of(request)
    site, walkthrough = request.path_params["site"], request.path_params["walkthrough"]
    catalog = state.catalogs.get(site)
    published = next(
        (p for p in (catalog.published if catalog else ()) if p.walkthrough.id == walkthrough), None
    )
    asked = request.query_params.get("version")
    if asked is None:
        if published is None:
            return problem(404, f"no published walkthrough {walkthrough!r}")
        version = published.version
        steps = [s.id for s in published.walkthrough.steps]
    else:
        try:
            version = int(asked)
        except ValueError:
            return problem(400, "version must be a whole number")
        stored = (
            await state.store.walkthrough_version(site, walkthrough, version)
            if version > 0
            else None
        )
        if stored is None:
            return problem(404, f"no version {asked} of walkthrough {walkthrough!r}")
        steps = [step["id"] for step in stored.body["steps"]]
    rows = await version_funnel(state, site, walkthrough, version, steps)
    return JSONResponse(
        {
            "site": site,
            "walkthrough": walkthrough,
            "version": version,
            "published_version": published.version if published else None,
            "steps": [r.as_dict() for r in rows],
        }
    )


@admin
async def help_request(request: Request) -> Response:
    """
    summary: Ask for help on a visitor's behalf (from the site's backend); the answer also goes to their tab
    parameters:
      - {name: site, in: path, required: true, schema: {type: string}}
    requestBody:
      content:
        application/json:
          schema:
            type: object
            required: [user_id]
            properties:
              user_id: {type: string}
              question: {type: string, maxLength: 500}
              tab: {type: string}
    responses:
      200: {description: "the answer: session, offer, persona, text, walkthrough, faq; delivered_to names the tab it was pushed to"}
      400: {description: "a malformed body"}
      401: {description: "missing or wrong admin token"}
    """
    from server.web.help import answer_help, push_to_tab

    state = state_of(request)
    try:
        body = await request.json()
    except ValueError:
        return problem(400, "send a JSON object")
    if (
        not isinstance(body, dict)
        or not isinstance(body.get("user_id"), str)
        or not body["user_id"]
    ):
        return problem(400, "user_id (a string) is required")
    question = body.get("question", "")
    tab = body.get("tab")
    if (
        not isinstance(question, str)
        or len(question) > 500
        or (tab is not None and not isinstance(tab, str))
    ):
        return problem(400, "question is a string of at most 500 characters; tab is a string")
    if any("\x00" in value for value in (body["user_id"], question, tab or "")):
        return problem(400, "user_id, question and tab may not contain NUL characters")
    site = state.sites[request.path_params["site"]]
    answer = await answer_help(
        state,
        site,
        body["user_id"],
        question=question,
        person=body.get("person") is True,
        tab=tab,
        channel="api",
        now_ms=time.time_ns() // 1_000_000,
    )
    delivered = await push_to_tab(state, site.key, body["user_id"], answer)
    return JSONResponse({**msgspec.to_builtins(answer), "delivered_to": delivered})


@admin
async def support_session(request: Request) -> Response:
    """
    summary: Explain a support session - who answered, what was offered and why, what the visitor did
    parameters:
      - {name: site, in: path, required: true, schema: {type: string}}
      - {name: session, in: path, required: true, schema: {type: string}}
    responses:
      200: {description: "the decision trail: persona, offer, reasons, FAQ shown, the run it started and how far it got"}
      401: {description: "missing or wrong admin token"}
      404: {description: "unknown site or session"}
    """
    state = state_of(request)
    site, session = request.path_params["site"], request.path_params["session"]
    found = await state.store.support_session(site, session)
    if found is None:
        return problem(404, f"no support session {session!r}")
    user, items = found
    first = items[0].payload
    runs = [
        s.run
        for s in await state.store.latest_runs(site, user, limit=100)
        if s.run.session == session
    ]
    return JSONResponse(
        {
            "session": session,
            "site": site,
            "user": user,
            "asked": {
                "question": first.get("question", ""),
                "url": first.get("url", ""),
                "channel": first.get("channel"),
            },
            "place": first.get("place"),
            "persona": first.get("persona"),
            "offer": {
                "kind": first.get("offer"),
                "walkthrough": first.get("walkthrough"),
                "step": first.get("step"),
            },
            "faq": first.get("faq", []),
            "reasons": [
                *first.get("reasons", []),
                *(
                    r
                    for i in items[1:]
                    if "referral" in i.payload
                    for r in i.payload.get("reasons", [])
                ),
            ],
            "referral": next(
                (i.payload["referral"] for i in items if "referral" in i.payload), None
            ),
            "frustration": first.get("frustration"),
            "effectiveness": next(
                (
                    i.payload["effectiveness"]
                    for i in reversed(items)
                    if "effectiveness" in i.payload
                ),
                None,
            ),
            "feedback": [i.payload["feedback"] for i in items if "feedback" in i.payload],
            "runs": [
                {
                    "run": r.id,
                    "walkthrough": r.walkthrough,
                    "version": r.version,
                    "step": r.step,
                    "status": r.status.value,
                    "completed_steps": list(r.completed_steps),
                    "updated_ms": r.updated_ms,
                }
                for r in runs
            ],
            "items": [asdict(item) for item in items],
        }
    )
