"""Signing in to the console, and who is signed in.

Sessions are signed cookies (itsdangerous, the server's secret): the site,
the email, a CSRF token and the account's session version, for 12 hours;
signing out raises the version, which ends every copy of the cookie. Every
form carries the CSRF token and every POST checks it (before sign-in,
against a signed pre-session cookie). Sign-in attempts are limited per
account and per address, counted before the slow password check. Each page
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
from starlette.requests import HTTPConnection, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from server.console.passwords import hash_password, verify_password
from server.store.base import AccountRecord
from server.web import agents
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
_TEMPLATES.filters["day"] = lambda seconds: time.strftime("%Y-%m-%d", time.gmtime(seconds))


@dataclass(frozen=True)
class Signed:
    site: str
    email: str
    csrf: str
    version: int = 0  # the account's session version when it signed in


def state_of(request: HTTPConnection) -> AppState:
    state: AppState = request.app.state.tandem
    return state


def serializer(request: HTTPConnection, salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(state_of(request).secret, salt=salt)


def page(name: str, status: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(_TEMPLATES.get_template(name).render(**context), status_code=status)


def set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name, value, max_age=max_age, httponly=True, samesite="strict",
        secure=request.url.scheme == "https", path="/console",
    )  # fmt: skip


def signed_in(request: HTTPConnection) -> Signed | None:
    raw = request.cookies.get(COOKIE)
    if not raw:
        return None
    try:
        data = serializer(request, "session").loads(raw, max_age=SESSION_MAX_AGE_S)
    except BadSignature:
        return None
    if not isinstance(data, dict):
        return None
    version = data.get("v", 0)
    return Signed(
        str(data.get("site", "")), str(data.get("email", "")), str(data.get("csrf", "")),
        version if isinstance(version, int) else -1,
    )  # fmt: skip


async def audit(
    request: Request, site: str, actor: str, action: str, target: str = "", **detail: Any
) -> None:
    """Everything done in the console is audited: who, what, to which session, when, from where."""
    address = request.client.host if request.client else ""
    await state_of(request).store.append_audit(
        site, at_ms=time.time_ns() // 1_000_000, actor=actor, action=action, target=target,
        detail={"address": address, **detail},
    )  # fmt: skip


def csrf_ok(expected: str, given: object) -> bool:
    return bool(expected) and isinstance(given, str) and hmac.compare_digest(expected, given)


async def account_for(request: Request, site: str) -> tuple[Signed, AccountRecord] | Response:
    """The signed-in account for ``site``: else a redirect to sign in, or 403 for another site's account."""
    who = signed_in(request)
    if who is None:
        return RedirectResponse(f"/console/login?next={quote(request.url.path)}", status_code=303)
    if who.site != site:
        return page("refused.html", 403, message="This account is not one of this site's.")
    state = state_of(request)
    account = await state.store.get_account(site, who.email)
    if account is None or account.session_version != who.version:  # signed out since
        return RedirectResponse("/console/login", status_code=303)
    if account.role in agents.AGENT_ROLES:  # any console page open counts as presence
        await state.store.seen(site, account.email, now_ms=time.time_ns() // 1_000_000)
    return who, account


async def posted_form(request: Request, site: str) -> tuple[AccountRecord, FormData] | Response:
    """A console form posted by an account of ``site`` with its CSRF token: the account and the form."""
    found = await account_for(request, site)
    if isinstance(found, Response):
        return found
    who, account = found
    form = await request.form()
    if not csrf_ok(who.csrf, form.get("csrf")):
        return page("refused.html", 403, message=FORM_REFUSED)
    return account, form


async def posted_as(
    request: Request, site: str, roles: frozenset[str], refused: str
) -> tuple[AccountRecord, FormData] | Response:
    """A console form posted (CSRF checked) by an account of ``site`` whose role is in ``roles``."""
    posted = await posted_form(request, site)
    if isinstance(posted, Response):
        return posted
    if posted[0].role not in roles:
        return page("refused.html", 403, message=refused)
    return posted


async def signed_in_as(
    request: Request, site: str, roles: frozenset[str], refused: str
) -> tuple[Signed, AccountRecord] | Response:
    """The signed-in account of ``site``, when its role is in ``roles``."""
    found = await account_for(request, site)
    if isinstance(found, Response):
        return found
    if found[1].role not in roles:
        return page("refused.html", 403, message=refused)
    return found


async def login_form(request: Request) -> Response:
    token = secrets.token_urlsafe(24)
    response = page(
        "login.html", csrf=token, sites=sorted(state_of(request).sites),
        next=request.query_params.get("next", ""), error="",
    )  # fmt: skip
    set_cookie(request, response, PRE_COOKIE, serializer(request, "pre").dumps(token), 3600)
    return response


async def login(request: Request) -> Response:
    form = await request.form()
    try:
        expected = serializer(request, "pre").loads(
            request.cookies.get(PRE_COOKIE, ""), max_age=3600
        )
    except BadSignature:
        expected = ""
    if not csrf_ok(str(expected), form.get("csrf")):
        return page("refused.html", 403, message=FORM_REFUSED)
    state = state_of(request)
    site, email, password = (str(form.get(k, "")) for k in ("site", "email", "password"))
    address = request.client.host if request.client else "unknown"
    keys = [f"account:{site}:{email.lower()}", f"address:{address}"]
    now_ms = time.time_ns() // 1_000_000
    wait_ms = state.login_limiter.retry_after_ms(keys, now_ms)
    if wait_ms:
        response = page("refused.html", 429, message="Too many failed sign-ins. Try again later.")
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
            await audit(request, site, email.lower(), "sign_in_failed")
        token = secrets.token_urlsafe(24)
        response = page(
            "login.html", 401, csrf=token, sites=sorted(state.sites), next=str(form.get("next", "")),
            error="That email and password do not match an account of this site.",
        )  # fmt: skip
        set_cookie(request, response, PRE_COOKIE, serializer(request, "pre").dumps(token), 3600)
        return response
    state.login_limiter.succeeded(keys[0])
    state.login_limiter.forgive(keys[1], now_ms)
    await audit(request, site, account.email, "signed_in")
    if rehash:
        await state.store.set_password(site, account.email, hash_password(password))
    target = str(form.get("next", ""))
    if not target.startswith(f"/console/{site}/"):  # each role's home: the queue, the walkthroughs
        target = (
            f"/console/{site}/"
            if account.role in ROLES_FOR_QUEUE
            else f"/console/{site}/walkthroughs"
        )
    redirect = RedirectResponse(target, status_code=303)
    session = {
        "site": site, "email": account.email, "csrf": secrets.token_urlsafe(24),
        "v": account.session_version,
    }  # fmt: skip
    set_cookie(
        request, redirect, COOKIE, serializer(request, "session").dumps(session), SESSION_MAX_AGE_S
    )
    redirect.delete_cookie(PRE_COOKIE, path="/console")
    return redirect


async def logout(request: Request) -> Response:
    who = signed_in(request)
    form = await request.form()
    if who is None or not csrf_ok(who.csrf, form.get("csrf")):
        return page("refused.html", 403, message=FORM_REFUSED)
    await state_of(request).store.end_sessions(
        who.site, who.email
    )  # this cookie, and any copy of it
    await audit(request, who.site, who.email, "signed_out")
    response = RedirectResponse("/console/login", status_code=303)
    response.delete_cookie(COOKIE, path="/console")
    return response
