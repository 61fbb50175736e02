"""The console's pages for the work: the queue of referred visitors, presence, one support
session (accept, chat, show a walkthrough, close) and the audit log.

Who may see and post what is decided in ``signin`` (sessions, CSRF, the site).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute

from server.console.admin import admin_routes
from server.console.analytics import analytics_routes
from server.console.authors import author_routes
from server.console.faq import faq_routes
from server.console.live import live_socket
from server.console.operations import operations_routes
from server.console.personae import personae_routes
from server.console.signin import (
    REFRESH_S,
    ROLES_FOR_QUEUE,
    account_for,
    audit,
    login,
    login_form,
    logout,
    page,
    posted_form,
    state_of,
)
from server.knowledge.site import Site
from server.store.base import AccountRecord
from server.web import agents, chat
from server.web.state import AppState


async def queue(request: Request) -> Response:
    site = request.path_params["site"]
    found = await account_for(request, site)
    if isinstance(found, Response):
        return found
    who, account = found
    if account.role not in ROLES_FOR_QUEUE:
        return page("refused.html", 403, message="The queue is for agents and admins.")
    state = state_of(request)
    now_ms = time.time_ns() // 1_000_000
    await state.store.seen(
        site, account.email, now_ms=now_ms
    )  # this page refreshes itself: presence
    await agents.dispatch(
        state, state.sites[site], now_ms=now_ms
    )  # lapsed offers, agents come online
    assignments = {a.session: a for a in await state.store.open_assignments(site)}
    referrals = await state.store.recent_referrals(site, limit=50)
    rows = [
        {
            "session": item.payload.get("session", ""), "user": user, "at_ms": item.at_ms,
            "triggers": ", ".join(item.payload.get("referral", {}).get("triggers", [])),
            "channel": item.payload.get("referral", {}).get("channel", ""),
            "state": assignments[item.payload.get("session", "")].state if item.payload.get("session", "") in assignments else "",
            "agent": assignments[item.payload.get("session", "")].agent if item.payload.get("session", "") in assignments else "",
        }
        for user, item in referrals
    ]  # fmt: skip
    offered = [a for a in assignments.values() if a.state == "offered" and a.agent == account.email]
    fresh = await state.store.get_account(site, account.email) or account
    return page(
        "queue.html", site=site, account=fresh, csrf=who.csrf, rows=rows, offered=offered,
        refresh_s=REFRESH_S,
    )  # fmt: skip


async def presence(request: Request) -> Response:
    """The agent says they are online, away or offline."""
    site = request.path_params["site"]
    posted = await posted_form(request, site)
    if isinstance(posted, Response):
        return posted
    account, form = posted
    wanted = str(form.get("presence", ""))
    if wanted not in ("online", "away", "offline"):
        return page("refused.html", 400, message="Online, away or offline: nothing else.")
    state = state_of(request)
    now_ms = time.time_ns() // 1_000_000
    await state.store.set_presence(site, account.email, wanted, now_ms=now_ms)
    await audit(request, site, account.email, f"presence.{wanted}")
    await agents.dispatch(state, state.sites[site], now_ms=now_ms)
    return RedirectResponse(f"/console/{site}/", status_code=303)


async def session_page(request: Request) -> Response:
    site, session = request.path_params["site"], request.path_params["session"]
    found = await account_for(request, site)
    if isinstance(found, Response):
        return found
    who, account = found
    trail = await state_of(request).store.support_session(site, session)
    if trail is None:
        return page("refused.html", 404, message="There is no such support session on this site.")
    user, items = trail
    pseudonym = await state_of(request).store.visitor_pseudonym(site, user)
    await audit(request, site, account.email, "session.viewed", session, visitor=pseudonym)
    assignment = await state_of(request).store.open_assignment(site, session)
    mine = (
        assignment is not None
        and assignment.state == "accepted"
        and assignment.agent == account.email
    )
    live = (
        assignment is not None
        and assignment.state == "accepted"
        and account.role in agents.AGENT_ROLES
    )
    return page(
        "session.html", site=site, account=account, csrf=who.csrf, session=session, user=user,
        mine=mine, live=live, outcomes=agents.OUTCOMES,
        walkthroughs=[(p.walkthrough.id, p.walkthrough.title) for p in (
            state_of(request).catalogs[site].published if site in state_of(request).catalogs else ()
        )],
        items=[{"kind": i.kind, "at_ms": i.at_ms, "payload": i.payload, "failure": i.failure,
                "failure_reason": i.failure_reason} for i in items],
    )  # fmt: skip


async def chat_json(request: Request) -> Response:
    """The chat so far and whether the visitor is typing (the console's chat polls it)."""
    site, session = request.path_params["site"], request.path_params["session"]
    found = await account_for(request, site)
    if isinstance(found, Response):
        return found
    state = state_of(request)
    return JSONResponse(
        await chat.transcript(state, site, session, now_ms=time.time_ns() // 1_000_000)
    )


@dataclass(frozen=True)
class SessionPost:
    """A form about one support session, posted by an account of its site with its CSRF token."""

    site: Site
    session: str
    account: AccountRecord
    form: FormData
    state: AppState
    now_ms: int

    def field(self, name: str) -> str:
        return str(self.form.get(name, ""))


async def session_post(request: Request) -> SessionPost | Response:
    site, session = request.path_params["site"], request.path_params["session"]
    posted = await posted_form(request, site)
    if isinstance(posted, Response):
        return posted
    account, form = posted
    state = state_of(request)
    return SessionPost(
        state.sites[site], session, account, form, state, time.time_ns() // 1_000_000
    )


async def accept(request: Request) -> Response:
    """The agent takes the visitor offered to them; the visitor hears a person is with them."""
    p = await session_post(request)
    if isinstance(p, Response):
        return p
    if not await agents.accept(p.state, p.site, p.session, p.account.email, now_ms=p.now_ms):
        return page("refused.html", 409, message="This visitor is no longer offered to you.")
    await audit(request, p.site.key, p.account.email, "session.accepted", p.session)
    await agents.tell_visitor(p.state, p.site, p.session, p.account, now_ms=p.now_ms)
    return RedirectResponse(f"/console/{p.site.key}/sessions/{p.session}", status_code=303)


async def close(request: Request) -> Response:
    """The agent closes the session they took, with its outcome."""
    p = await session_post(request)
    if isinstance(p, Response):
        return p
    outcome = p.field("outcome")
    if not await agents.close(p.state, p.site, p.session, p.account, outcome, now_ms=p.now_ms):
        return page("refused.html", 409, message="This session is not yours to close, or not open.")
    await audit(request, p.site.key, p.account.email, "session.closed", p.session, outcome=outcome)
    return RedirectResponse(f"/console/{p.site.key}/", status_code=303)


async def chat_post(request: Request) -> Response:
    """The agent who holds the session writes to the visitor."""
    p = await session_post(request)
    if isinstance(p, Response):
        return p
    text = p.field("text")
    if not await chat.agent_line(p.state, p.site, p.session, p.account, text, now_ms=p.now_ms):
        return page("refused.html", 409, message="The chat of this session is not open to you.")
    await audit(request, p.site.key, p.account.email, "chat.sent", p.session)
    return Response(status_code=204)


async def typing_post(request: Request) -> Response:
    p = await session_post(request)
    if isinstance(p, Response):
        return p
    if not await chat.agent_typing(p.state, p.site, p.session, p.account):
        return Response(status_code=409)
    return Response(status_code=204)


async def push(request: Request) -> Response:
    """The agent starts a walkthrough in the visitor's tab."""
    p = await session_post(request)
    if isinstance(p, Response):
        return p
    walkthrough = p.field("walkthrough")
    pushed = await agents.push_walkthrough(
        p.state, p.site, p.session, p.account, walkthrough, now_ms=p.now_ms
    )
    if pushed is None:
        return page(
            "refused.html", 409, message="That walkthrough cannot start for this visitor now."
        )
    if not pushed.delivered:  # a run was started, but the visitor's page went away meanwhile
        await audit(
            request, p.site.key, p.account.email, "walkthrough.push_failed", p.session,
            walkthrough=walkthrough, run=pushed.run, reason="page_gone",
        )  # fmt: skip
        return page("refused.html", 409, message="The visitor's page went away meanwhile.")
    await audit(
        request, p.site.key, p.account.email, "walkthrough.pushed", p.session,
        walkthrough=walkthrough, run=pushed.run,
    )  # fmt: skip
    return RedirectResponse(f"/console/{p.site.key}/sessions/{p.session}", status_code=303)


async def console_script(request: Request) -> Response:
    return FileResponse(
        Path(__file__).with_name("static") / "console.js",
        media_type="text/javascript", headers={"Cache-Control": "no-cache"},
    )  # fmt: skip


async def live_script(request: Request) -> Response:
    """The session page's live view (the rrweb replayer, built with the client)."""
    return _console_bundle(request, "console-live.js")


async def charts_script(request: Request) -> Response:
    """The analytics page's charts (uPlot, built with the client)."""
    return _console_bundle(request, "console-charts.js")


def _console_bundle(request: Request, name: str) -> Response:
    bundle = state_of(request).settings.client_bundle.with_name(name)
    if not bundle.is_file():
        return Response("the console's live view is not built: run `make client`", status_code=404)
    return FileResponse(bundle, media_type="text/javascript", headers={"Cache-Control": "no-cache"})


async def audit_page(request: Request) -> Response:
    site = request.path_params["site"]
    found = await account_for(request, site)
    if isinstance(found, Response):
        return found
    who, account = found
    if account.role != "admin":
        return page("refused.html", 403, message="The audit log is for admins.")
    await audit(request, site, account.email, "audit.viewed")
    entries = await state_of(request).store.read_audit(site, limit=200)
    return page("audit.html", site=site, account=account, csrf=who.csrf, entries=entries)


def console_routes() -> list[BaseRoute]:
    return [
        *author_routes(),
        *admin_routes(),
        *operations_routes(),
        *analytics_routes(),
        *faq_routes(),
        *personae_routes(),
        # Pages, not API: left out of the OpenAPI document.
        Route("/console/login", login_form, methods=["GET"], include_in_schema=False),
        Route("/console/login", login, methods=["POST"], include_in_schema=False),
        Route("/console/logout", logout, methods=["POST"], include_in_schema=False),
        Route("/console/{site}/", queue, include_in_schema=False),
        Route("/console/{site}/sessions/{session}", session_page, include_in_schema=False),
        Route("/console/{site}/audit", audit_page, include_in_schema=False),
        Route("/console/static/console.js", console_script, include_in_schema=False),
        Route("/console/static/live.js", live_script, include_in_schema=False),
        Route("/console/static/charts.js", charts_script, include_in_schema=False),
        WebSocketRoute("/console/{site}/sessions/{session}/live", live_socket),
        Route("/console/{site}/sessions/{session}/chat.json", chat_json, include_in_schema=False),
        Route(
            "/console/{site}/sessions/{session}/chat",
            chat_post,
            methods=["POST"],
            include_in_schema=False,
        ),
        Route(
            "/console/{site}/sessions/{session}/typing",
            typing_post,
            methods=["POST"],
            include_in_schema=False,
        ),
        Route("/console/{site}/presence", presence, methods=["POST"], include_in_schema=False),
        Route(
            "/console/{site}/sessions/{session}/push",
            push,
            methods=["POST"],
            include_in_schema=False,
        ),
        Route(
            "/console/{site}/sessions/{session}/close",
            close,
            methods=["POST"],
            include_in_schema=False,
        ),
        Route(
            "/console/{site}/sessions/{session}/accept",
            accept,
            methods=["POST"],
            include_in_schema=False,
        ),
    ]
