"""Acme Billing: the demo customer site that embeds Tandem exactly as a customer would.

It is served on its own origin under a strict Content-Security-Policy (no inline
scripts or styles), so everything Tandem ships is shown to work under one.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.demo_site.data import ACCOUNTS, EMAIL, DemoData, authenticate, check_card
from server.demo_site.variants import VARIANTS, Variant
from server.identity.tokens import sign_visitor_token
from server.settings import REPO_ROOT

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class DemoSettings:
    variant: str = "standard"
    tandem_url: str = "http://127.0.0.1:8000"
    site_key: str = "demo"
    client_dist: Path = REPO_ROOT / "client_js" / "dist"
    session_secret: str = ""
    #: The demo backend signs visitor tokens with this (the secret of key ``signing_kid``).
    signing_key: str = ""
    signing_kid: str = "demo-1"


def content_security_policy(tandem_url: str) -> str:
    """Strict CSP: scripts only from this origin and the Tandem server; no inline anything."""
    parts = urlsplit(tandem_url)
    origin = f"{parts.scheme}://{parts.netloc}"
    ws_origin = ("wss://" if parts.scheme == "https" else "ws://") + parts.netloc
    return "; ".join(
        (
            "default-src 'self'",
            f"script-src 'self' {origin}",
            "style-src 'self'",
            "img-src 'self' data:",
            f"connect-src 'self' {origin} {ws_origin}",
            "frame-src 'self'",
            "frame-ancestors 'self'",
            "form-action 'self'",
            "base-uri 'none'",
            "object-src 'none'",
        )
    )


class SecurityHeaders:
    """Adds the CSP and related headers to every response."""

    def __init__(self, app: ASGIApp, csp: str) -> None:
        self.app = app
        self.headers = [
            (b"content-security-policy", csp.encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"same-origin"),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + self.headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


PAGES = ("home", "invoices", "billing", "team", "reports", "settings")


def create_demo_app(settings: DemoSettings | None = None) -> Starlette:
    settings = settings or DemoSettings()
    if settings.variant not in VARIANTS:
        raise ValueError(f"unknown variant {settings.variant!r}: choose {', '.join(VARIANTS)}")
    variant: Variant = VARIANTS[settings.variant]
    app_script = settings.client_dist / "demo-app.js"
    if not app_script.is_file():
        raise FileNotFoundError(
            f"the demo app's script is not built ({app_script} is missing): run `make client`"
        )
    data = DemoData()
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    stylesheet = variant.rewrite_css((HERE / "static" / "acme.css").read_text(encoding="utf-8"))

    def user_of(request: Request) -> dict[str, Any] | None:
        email = request.session.get("email")
        account = ACCOUNTS.get(email) if email else None
        return account.__dict__ if account else None

    def visitor_identity(user: dict[str, Any] | None) -> dict[str, Any] | None:
        """What the page hands to Tandem.identify(): a token signed by this backend."""
        if user is None or not settings.signing_key:
            return None
        traits = {"first_name": user["name"].split()[0], "role": user["role"], "plan": user["plan"]}
        token = sign_visitor_token(
            user["id"],
            site=settings.site_key,
            kid=settings.signing_kid,
            secret=settings.signing_key,
            now=int(time.time()),
            lifetime_s=3600,
            traits=traits,
        )
        return {"id": user["id"], "token": token, "traits": {"email": user["email"]}}

    def render(
        request: Request, template: str, page: str, status: int = 200, **ctx: Any
    ) -> Response:
        user = user_of(request)
        config = {
            **variant.client_config(),
            "page": page,
            "user": {k: user[k] for k in ("id", "name", "email", "role", "plan")} if user else None,
            "tandem": {"site": settings.site_key, "identity": visitor_identity(user)},
        }
        html = env.get_template(template).render(
            v=variant,
            page=page,
            pages=PAGES,
            user=user,
            tandem_url=settings.tandem_url.rstrip("/"),
            site_key=settings.site_key,
            config=config,
            request=request,
            **ctx,
        )
        return HTMLResponse(html, status_code=status)

    def signed_in(handler: Any) -> Any:
        async def guarded(request: Request) -> Response:
            if user_of(request) is None:
                if request.url.path.startswith("/api/"):
                    return JSONResponse({"error": "sign in first"}, status_code=401)
                return RedirectResponse(f"/signin?next={request.url.path}", status_code=303)
            response: Response = await handler(request)
            return response

        return guarded

    async def index(request: Request) -> Response:
        return RedirectResponse("/home" if user_of(request) else "/signin", status_code=303)

    async def signin(request: Request) -> Response:
        error = ""
        if request.method == "POST":
            form = await request.form()
            account = authenticate(str(form.get("email", "")), str(form.get("password", "")))
            if account:
                request.session["email"] = account.email
                target = str(request.query_params.get("next", "/home"))
                if not target.startswith("/") or target.startswith("//"):
                    target = "/home"
                return RedirectResponse(target, status_code=303)
            error = variant.t("signin.error")
        status = 401 if error else 200
        return render(request, "signin.html", "signin", status=status, error=error)

    async def signout(request: Request) -> Response:
        request.session.clear()
        return RedirectResponse("/signin", status_code=303)

    @signed_in
    async def home(request: Request) -> Response:
        return render(request, "home.html", "home")

    @signed_in
    async def invoices(request: Request) -> Response:
        # One shell for /invoices and /invoices/{number}: the client-side router draws the view.
        return render(request, "invoices.html", "invoices")

    @signed_in
    async def api_invoices(request: Request) -> Response:
        return JSONResponse([inv.as_json() for inv in data.invoices])

    @signed_in
    async def api_invoice(request: Request) -> Response:
        number = request.path_params["number"]
        if request.method == "DELETE":
            if request.headers.get("x-acme-request") != "1":
                return JSONResponse({"error": "missing X-Acme-Request header"}, status_code=403)
            if not data.delete_invoice(number):
                return JSONResponse({"error": "no such invoice"}, status_code=404)
            return Response(status_code=204)
        invoice = data.invoice(number)
        if invoice is None:
            return JSONResponse({"error": "no such invoice"}, status_code=404)
        return JSONResponse(invoice.as_json())

    @signed_in
    async def billing(request: Request) -> Response:
        added = request.query_params.get("added")
        return render(request, "billing.html", "billing", methods=data.payment_methods, added=added)

    @signed_in
    async def payment_new(request: Request) -> Response:
        error = ""
        values = {"card_name": ""}
        if request.method == "POST":
            form = await request.form()
            method, error = check_card(
                str(form.get("card_name", "")),
                str(form.get("card_number", "")),
                str(form.get("card_expiry", "")),
                str(form.get("card_cvc", "")),
            )
            if method:
                data.payment_methods.append(method)
                return RedirectResponse(f"/billing?added={method.last4}", status_code=303)
            # Only the name comes back into the form: card data is never echoed.
            values["card_name"] = str(form.get("card_name", ""))
        status = 422 if error else 200
        return render(
            request, "payment_new.html", "billing", status=status, error=error, values=values
        )

    @signed_in
    async def team(request: Request) -> Response:
        return render(
            request, "team.html", "team", accounts=list(ACCOUNTS.values()), invites=data.invitations
        )

    @signed_in
    async def invite(request: Request) -> Response:
        return render(request, "invite.html", "team")

    @signed_in
    async def api_invites(request: Request) -> Response:
        try:
            body = await request.json()
        except ValueError:
            return JSONResponse({"error": "send JSON"}, status_code=400)
        email = str(body.get("email", "")).strip()
        if not EMAIL.match(email):
            return JSONResponse(
                {"error": variant.t("invite.bad_email"), "field": "email"}, status_code=422
            )
        invitation = {
            "name": str(body.get("name", "")).strip(),
            "email": email,
            "role": str(body.get("role", "member")),
        }
        data.invitations.append(invitation)
        return JSONResponse(invitation, status_code=201)

    @signed_in
    async def reports(request: Request) -> Response:
        return render(request, "reports.html", "reports")

    @signed_in
    async def settings_page(request: Request) -> Response:
        return render(request, "settings.html", "settings")

    @signed_in
    async def embed_notifications(request: Request) -> Response:
        return render(request, "embed_notifications.html", "embed-notifications")

    async def app_js(request: Request) -> Response:
        return FileResponse(app_script, media_type="text/javascript; charset=utf-8")

    async def acme_css(request: Request) -> Response:
        return Response(stylesheet, media_type="text/css; charset=utf-8")

    async def healthz(request: Request) -> Response:
        return PlainTextResponse(f"ok {variant.name}")

    async def favicon(request: Request) -> Response:
        return Response(status_code=204)

    routes = [
        Route("/", index),
        Route("/signin", signin, methods=["GET", "POST"]),
        Route("/signout", signout, methods=["POST"]),
        Route("/home", home),
        Route("/invoices", invoices),
        Route("/invoices/{number}", invoices),
        Route("/api/invoices", api_invoices),
        Route("/api/invoices/{number}", api_invoice, methods=["GET", "DELETE"]),
        Route("/billing", billing),
        Route("/billing/payment-methods/new", payment_new, methods=["GET", "POST"]),
        Route("/team", team),
        Route("/team/invite", invite),
        Route("/api/team/invites", api_invites, methods=["POST"]),
        Route("/reports", reports),
        Route("/settings", settings_page),
        Route("/embed/notifications", embed_notifications),
        Route("/static/app.js", app_js),
        Route("/static/acme.css", acme_css),
        Route("/healthz", healthz),
        Route("/favicon.ico", favicon),
    ]
    middleware = [
        Middleware(SecurityHeaders, csp=content_security_policy(settings.tandem_url)),
        Middleware(
            SessionMiddleware,
            secret_key=settings.session_secret or secrets.token_urlsafe(32),
            session_cookie="acme_session",
            same_site="lax",
        ),
    ]
    return Starlette(routes=routes, middleware=middleware)
