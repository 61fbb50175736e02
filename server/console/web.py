"""The console's pages: sign in and out, the queue of referred visitors, one support session.

Sessions are signed cookies (itsdangerous, the server's secret): the site,
the email and a CSRF token, for 12 hours. Every form carries the CSRF token
and every POST checks it (before sign-in, against a signed pre-session
cookie). Failed sign-ins are limited per account and per address. Each page
is for one site: an account of site A is refused on site B's pages.
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from itsdangerous import BadSignature, URLSafeTimedSerializer
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import BaseRoute, Route

from server.console.passwords import hash_password, verify_password
from server.store.base import AccountRecord
from server.web import agents, chat
from server.web.state import AppState

COOKIE = "tandem_console"
FORM_REFUSED = "The form expired or did not come from this console."
#: The queue page asks for news this often (a meta refresh): that is the agent's presence heartbeat.
REFRESH_S = 15
PRE_COOKIE = "tandem_console_pre"
SESSION_MAX_AGE_S = 12 * 3600
ROLES_FOR_QUEUE = frozenset({"agent", "admin"})

_TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).with_name("templates")),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True)
class Signed:
    site: str
    email: str
    csrf: str
    version: int = 0  # the account's session version when it signed in


def _state(request: Request) -> AppState:
    state: AppState = request.app.state.tandem
    return state


def _serializer(request: Request, salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(_state(request).secret, salt=salt)


def _page(name: str, status: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(_TEMPLATES.get_template(name).render(**context), status_code=status)


def _set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name, value, max_age=max_age, httponly=True, samesite="strict",
        secure=request.url.scheme == "https", path="/console",
    )  # fmt: skip


def signed_in(request: Request) -> Signed | None:
    raw = request.cookies.get(COOKIE)
    if not raw:
        return None
    try:
        data = _serializer(request, "session").loads(raw, max_age=SESSION_MAX_AGE_S)
    except BadSignature:
        return None
    if not isinstance(data, dict):
        return None
    version = data.get("v", 0)
    return Signed(
        str(data.get("site", "")), str(data.get("email", "")), str(data.get("csrf", "")),
        version if isinstance(version, int) else -1,
    )  # fmt: skip


async def _audit(
    request: Request, site: str, actor: str, action: str, target: str = "", **detail: Any
) -> None:
    """Everything done in the console is audited: who, what, to which session, when, from where."""
    address = request.client.host if request.client else ""
    await _state(request).store.append_audit(
        site, at_ms=time.time_ns() // 1_000_000, actor=actor, action=action, target=target,
        detail={"address": address, **detail},
    )  # fmt: skip


def _csrf_ok(expected: str, given: object) -> bool:
    return bool(expected) and isinstance(given, str) and hmac.compare_digest(expected, given)


async def _account(request: Request, site: str) -> tuple[Signed, AccountRecord] | Response:
    """The signed-in account for ``site``: else a redirect to sign in, or 403 for another site's account."""
    who = signed_in(request)
    if who is None:
        return RedirectResponse(f"/console/login?next={quote(request.url.path)}", status_code=303)
    if who.site != site:
        return _page("refused.html", 403, message="This account is not one of this site's.")
    state = _state(request)
    account = await state.store.get_account(site, who.email)
    if account is None or account.session_version != who.version:  # signed out since
        return RedirectResponse("/console/login", status_code=303)
    if account.role in agents.AGENT_ROLES:  # any console page open counts as presence
        await state.store.seen(site, account.email, now_ms=time.time_ns() // 1_000_000)
    return who, account


async def _posted(request: Request, site: str) -> tuple[AccountRecord, FormData] | Response:
    """A console form posted by an account of ``site`` with its CSRF token: the account and the form."""
    found = await _account(request, site)
    if isinstance(found, Response):
        return found
    who, account = found
    form = await request.form()
    if not _csrf_ok(who.csrf, form.get("csrf")):
        return _page("refused.html", 403, message=FORM_REFUSED)
    return account, form


async def login_form(request: Request) -> Response:
    token = secrets.token_urlsafe(24)
    response = _page(
        "login.html", csrf=token, sites=sorted(_state(request).sites),
        next=request.query_params.get("next", ""), error="",
    )  # fmt: skip
    _set_cookie(request, response, PRE_COOKIE, _serializer(request, "pre").dumps(token), 3600)
    return response


async def login(request: Request) -> Response:
    form = await request.form()
    try:
        expected = _serializer(request, "pre").loads(
            request.cookies.get(PRE_COOKIE, ""), max_age=3600
        )
    except BadSignature:
        expected = ""
    if not _csrf_ok(str(expected), form.get("csrf")):
        return _page("refused.html", 403, message=FORM_REFUSED)
    state = _state(request)
    site, email, password = (str(form.get(k, "")) for k in ("site", "email", "password"))
    address = request.client.host if request.client else "unknown"
    keys = [f"account:{site}:{email.lower()}", f"address:{address}"]
    now_ms = time.time_ns() // 1_000_000
    wait_ms = state.login_limiter.retry_after_ms(keys, now_ms)
    if wait_ms:
        response = _page("refused.html", 429, message="Too many failed sign-ins. Try again later.")
        response.headers["Retry-After"] = str(wait_ms // 1000 + 1)
        return response
    # Counted as failed before the (slow) check, so attempts sent together cannot all slip
    # under the limit; a success takes its count back.
    state.login_limiter.failed(keys, now_ms)
    account = await state.store.get_account(site, email) if site in state.sites else None
    # argon2 is slow on purpose: off the event loop, so other visitors are not kept waiting.
    ok, rehash = await asyncio.to_thread(
        verify_password, account.password_hash if account else None, password
    )
    if not ok or account is None:
        if site in state.sites:
            await _audit(request, site, email.lower(), "sign_in_failed")
        token = secrets.token_urlsafe(24)
        response = _page(
            "login.html", 401, csrf=token, sites=sorted(state.sites), next=str(form.get("next", "")),
            error="That email and password do not match an account of this site.",
        )  # fmt: skip
        _set_cookie(request, response, PRE_COOKIE, _serializer(request, "pre").dumps(token), 3600)
        return response
    state.login_limiter.succeeded(keys[0])
    state.login_limiter.forgive(keys[1], now_ms)
    await _audit(request, site, account.email, "signed_in")
    if rehash:
        await state.store.set_password(site, account.email, hash_password(password))
    target = str(form.get("next", ""))
    if not target.startswith(f"/console/{site}/"):
        target = f"/console/{site}/"
    redirect = RedirectResponse(target, status_code=303)
    session = {
        "site": site, "email": account.email, "csrf": secrets.token_urlsafe(24),
        "v": account.session_version,
    }  # fmt: skip
    _set_cookie(
        request, redirect, COOKIE, _serializer(request, "session").dumps(session), SESSION_MAX_AGE_S
    )
    redirect.delete_cookie(PRE_COOKIE, path="/console")
    return redirect


async def logout(request: Request) -> Response:
    who = signed_in(request)
    form = await request.form()
    if who is None or not _csrf_ok(who.csrf, form.get("csrf")):
        return _page("refused.html", 403, message=FORM_REFUSED)
    await _state(request).store.end_sessions(who.site, who.email)  # this cookie, and any copy of it
    await _audit(request, who.site, who.email, "signed_out")
    response = RedirectResponse("/console/login", status_code=303)
    response.delete_cookie(COOKIE, path="/console")
    return response


async def queue(request: Request) -> Response:
    site = request.path_params["site"]
    found = await _account(request, site)
    if isinstance(found, Response):
        return found
    who, account = found
    if account.role not in ROLES_FOR_QUEUE:
        return _page("refused.html", 403, message="The queue is for agents and admins.")
    state = _state(request)
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
    return _page(
        "queue.html", site=site, account=fresh, csrf=who.csrf, rows=rows, offered=offered,
        refresh_s=REFRESH_S,
    )  # fmt: skip


async def presence(request: Request) -> Response:
    """The agent says they are online, away or offline."""
    site = request.path_params["site"]
    posted = await _posted(request, site)
    if isinstance(posted, Response):
        return posted
    account, form = posted
    wanted = str(form.get("presence", ""))
    if wanted not in ("online", "away", "offline"):
        return _page("refused.html", 400, message="Online, away or offline: nothing else.")
    state = _state(request)
    now_ms = time.time_ns() // 1_000_000
    await state.store.set_presence(site, account.email, wanted, now_ms=now_ms)
    await _audit(request, site, account.email, f"presence.{wanted}")
    await agents.dispatch(state, state.sites[site], now_ms=now_ms)
    return RedirectResponse(f"/console/{site}/", status_code=303)


async def accept(request: Request) -> Response:
    """The agent takes the visitor offered to them; the visitor hears a person is with them."""
    site, session = request.path_params["site"], request.path_params["session"]
    posted = await _posted(request, site)
    if isinstance(posted, Response):
        return posted
    account, _ = posted
    state = _state(request)
    now_ms = time.time_ns() // 1_000_000
    if not await agents.accept(state, state.sites[site], session, account.email, now_ms=now_ms):
        return _page("refused.html", 409, message="This visitor is no longer offered to you.")
    await _audit(request, site, account.email, "session.accepted", session)
    await agents.tell_visitor(state, state.sites[site], session, account, now_ms=now_ms)
    return RedirectResponse(f"/console/{site}/sessions/{session}", status_code=303)


async def session_page(request: Request) -> Response:
    site, session = request.path_params["site"], request.path_params["session"]
    found = await _account(request, site)
    if isinstance(found, Response):
        return found
    who, account = found
    trail = await _state(request).store.support_session(site, session)
    if trail is None:
        return _page("refused.html", 404, message="There is no such support session on this site.")
    user, items = trail
    await _audit(request, site, account.email, "session.viewed", session, visitor=user)
    assignment = next(
        (a for a in await _state(request).store.open_assignments(site) if a.session == session),
        None,
    )
    mine = (
        assignment is not None
        and assignment.state == "accepted"
        and assignment.agent == account.email
    )
    return _page(
        "session.html", site=site, account=account, csrf=who.csrf, session=session, user=user,
        mine=mine, outcomes=agents.OUTCOMES,
        walkthroughs=[(p.walkthrough.id, p.walkthrough.title) for p in (
            _state(request).catalogs[site].published if site in _state(request).catalogs else ()
        )],
        items=[{"kind": i.kind, "at_ms": i.at_ms, "payload": i.payload, "failure": i.failure,
                "failure_reason": i.failure_reason} for i in items],
    )  # fmt: skip


async def close(request: Request) -> Response:
    """The agent closes the session they took, with its outcome."""
    site, session = request.path_params["site"], request.path_params["session"]
    posted = await _posted(request, site)
    if isinstance(posted, Response):
        return posted
    account, form = posted
    outcome = str(form.get("outcome", ""))
    state = _state(request)
    now_ms = time.time_ns() // 1_000_000
    if not await agents.close(state, state.sites[site], session, account, outcome, now_ms=now_ms):
        return _page(
            "refused.html", 409, message="This session is not yours to close, or not open."
        )
    await _audit(request, site, account.email, "session.closed", session, outcome=outcome)
    return RedirectResponse(f"/console/{site}/", status_code=303)


async def chat_json(request: Request) -> Response:
    """The chat so far and whether the visitor is typing (the console's chat polls it)."""
    site, session = request.path_params["site"], request.path_params["session"]
    found = await _account(request, site)
    if isinstance(found, Response):
        return found
    state = _state(request)
    return JSONResponse(
        await chat.transcript(state, site, session, now_ms=time.time_ns() // 1_000_000)
    )


async def chat_post(request: Request) -> Response:
    """The agent who holds the session writes to the visitor."""
    site, session = request.path_params["site"], request.path_params["session"]
    posted = await _posted(request, site)
    if isinstance(posted, Response):
        return posted
    account, form = posted
    state = _state(request)
    now_ms = time.time_ns() // 1_000_000
    text = str(form.get("text", ""))
    if not await chat.agent_line(state, state.sites[site], session, account, text, now_ms=now_ms):
        return _page("refused.html", 409, message="The chat of this session is not open to you.")
    await _audit(request, site, account.email, "chat.sent", session)
    return Response(status_code=204)


async def typing_post(request: Request) -> Response:
    site, session = request.path_params["site"], request.path_params["session"]
    posted = await _posted(request, site)
    if isinstance(posted, Response):
        return posted
    account, _ = posted
    state = _state(request)
    if not await chat.agent_typing(state, state.sites[site], session, account):
        return Response(status_code=409)
    return Response(status_code=204)


async def push(request: Request) -> Response:
    """The agent starts a walkthrough in the visitor's tab."""
    site, session = request.path_params["site"], request.path_params["session"]
    posted = await _posted(request, site)
    if isinstance(posted, Response):
        return posted
    account, form = posted
    state = _state(request)
    walkthrough = str(form.get("walkthrough", ""))
    now_ms = time.time_ns() // 1_000_000
    run = await agents.push_walkthrough(
        state, state.sites[site], session, account, walkthrough, now_ms=now_ms
    )
    if run is None:
        return _page(
            "refused.html", 409, message="That walkthrough cannot start for this visitor now."
        )
    await _audit(
        request,
        site,
        account.email,
        "walkthrough.pushed",
        session,
        walkthrough=walkthrough,
        run=run,
    )
    return RedirectResponse(f"/console/{site}/sessions/{session}", status_code=303)


async def console_script(request: Request) -> Response:
    return FileResponse(
        Path(__file__).with_name("static") / "console.js",
        media_type="text/javascript", headers={"Cache-Control": "no-cache"},
    )  # fmt: skip


async def audit_page(request: Request) -> Response:
    site = request.path_params["site"]
    found = await _account(request, site)
    if isinstance(found, Response):
        return found
    who, account = found
    if account.role != "admin":
        return _page("refused.html", 403, message="The audit log is for admins.")
    await _audit(request, site, account.email, "audit.viewed")
    entries = await _state(request).store.read_audit(site, limit=200)
    return _page("audit.html", site=site, account=account, csrf=who.csrf, entries=entries)


def console_routes() -> list[BaseRoute]:
    return [
        # Pages, not API: left out of the OpenAPI document.
        Route("/console/login", login_form, methods=["GET"], include_in_schema=False),
        Route("/console/login", login, methods=["POST"], include_in_schema=False),
        Route("/console/logout", logout, methods=["POST"], include_in_schema=False),
        Route("/console/{site}/", queue, include_in_schema=False),
        Route("/console/{site}/sessions/{session}", session_page, include_in_schema=False),
        Route("/console/{site}/audit", audit_page, include_in_schema=False),
        Route("/console/static/console.js", console_script, include_in_schema=False),
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
