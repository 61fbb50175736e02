"""The console's admin operations on data and channels: a visitor's data exported or erased,
and a test referral sent to the site's webhook or email. The admin page (``admin``) shows
their forms; the site's configuration is edited there."""

from __future__ import annotations

import json
import time
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from server.console.admin import ADMIN_ONLY, ADMINS
from server.console.signin import audit, page, posted_as, state_of
from server.web import privacy


async def test_channel(request: Request) -> Response:
    """Send a test referral to the site's webhook or email now, and say what became of it."""
    import os
    import secrets

    from server.channels import email, webhook
    from server.support.handoff import HandoffPacket, Visitor

    site_key = request.path_params["site"]
    posted = await posted_as(request, site_key, ADMINS, ADMIN_ONLY)
    if isinstance(posted, Response):
        return posted
    account, form = posted
    state = state_of(request)
    channels = state.sites[site_key].config.channels
    now_ms = time.time_ns() // 1_000_000
    packet = HandoffPacket(
        site=site_key, session=f"test-{secrets.token_hex(6)}", created_ms=now_ms, triggers=["test"],
        reasons=[{"code": "test", "detail": {"by": account.email}}],
        visitor=Visitor(user="test-visitor", anonymous=True, traits={}),
    )  # fmt: skip
    channel = str(form.get("channel", ""))
    if channel == "webhook" and channels.webhook is not None:
        secret = os.environ.get(channels.webhook.secret_env, "")
        if not secret:
            outcome = f"not sent: {channels.webhook.secret_env} is not set"
        else:
            sent = await webhook.deliver(
                channels.webhook.url, secret.encode(), packet.model_dump_json().encode(),
                packet.session, max_attempts=1, clock=time.time,
            )  # fmt: skip
            outcome = (
                f"delivered (HTTP {sent.status})" if sent.delivered
                else f"not delivered: {sent.error or f'HTTP {sent.status}'}"
            )  # fmt: skip
    elif channel == "email" and channels.email is not None:
        settings = state.settings
        if not settings.smtp_host:
            outcome = "not sent: TANDEM_SMTP_HOST is not set"
        else:
            server = email.SmtpServer(
                settings.smtp_host, settings.smtp_port, settings.smtp_tls, settings.smtp_user,
                settings.smtp_password, settings.smtp_from,
            )  # fmt: skip
            try:
                await email.send(
                    server, email.referral_email(packet, channels.email.to, settings.smtp_from)
                )
                outcome = f"sent to {', '.join(channels.email.to)}"
            except Exception as exc:  # SMTP or network: said, not raised
                outcome = f"not sent: {exc}"
    else:
        return page("refused.html", 400, message="This site has no such channel.")
    await audit(
        request, site_key, account.email, "admin.channel_tested", channel, outcome=outcome
    )  # fmt: skip
    notice = quote(f"Test of the {channel}: {outcome}.")
    return RedirectResponse(f"/console/{site_key}/admin?notice={notice}", status_code=303)


async def visitor_export(request: Request) -> Response:
    site_key = request.path_params["site"]
    posted = await posted_as(request, site_key, ADMINS, ADMIN_ONLY)
    if isinstance(posted, Response):
        return posted
    account, form = posted
    user = str(form.get("user", "")).strip()
    if not user:
        return page("refused.html", 400, message="Which visitor? Give their id.")
    document = await privacy.export_visitor(
        state_of(request).store, site_key, user, actor=account.email
    )
    return Response(
        json.dumps(document, indent=2, ensure_ascii=False, default=str),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{site_key}-visitor-export.json"'},
    )


async def visitor_erase(request: Request) -> Response:
    site_key = request.path_params["site"]
    posted = await posted_as(request, site_key, ADMINS, ADMIN_ONLY)
    if isinstance(posted, Response):
        return posted
    account, form = posted
    user = str(form.get("user", "")).strip()
    if not user or form.get("confirm") != "yes":
        return page("refused.html", 400, message="Give the visitor's id and confirm the erasure.")
    state = state_of(request)
    await privacy.forget_live(state, site_key, user)
    deleted = await privacy.erase_visitor(state.store, site_key, user, actor=account.email)
    rows = ", ".join(f"{table} {count}" for table, count in deleted.items() if count)
    notice = quote(f"Erased {user}: {rows or 'nothing was held'}.")
    return RedirectResponse(f"/console/{site_key}/admin?notice={notice}", status_code=303)


def operations_routes() -> list[BaseRoute]:
    return [
        Route(
            "/console/{site}/admin/channels/test",
            test_channel,
            methods=["POST"],
            include_in_schema=False,
        ),
        Route(
            "/console/{site}/admin/visitors/export",
            visitor_export,
            methods=["POST"],
            include_in_schema=False,
        ),
        Route(
            "/console/{site}/admin/visitors/erase",
            visitor_erase,
            methods=["POST"],
            include_in_schema=False,
        ),
    ]
