"""Referring a support session to people: what the visitor sees next and the handoff.

Whatever triggers a referral (frustration crossing its threshold, a session
scored below its threshold, the visitor asking for a person), the same three
things follow: the visitor's tab is offered a person in the persona's voice,
the handoff packet is built (``support.handoff``, its schema published), and
it goes to the site's channels (the signed webhook; the agent console comes
with the live-agent work).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from server.channels import email, webhook
from server.knowledge.site import Site
from server.live import TabState
from server.protocol.messages import HelpAnswer
from server.support.frustration import FrustrationIndicator
from server.support.handoff import (
    FaqShown,
    Frustration,
    HandoffPacket,
    Location,
    PersonaRef,
    SignalEvidence,
    TranscriptEntry,
    Visitor,
    WalkthroughReached,
)
from server.support.help import SUPPORT_SESSION

if TYPE_CHECKING:
    from server.web.state import AppState

log = logging.getLogger("tandem.referrals")

#: The support data item that records what became of a handoff to a channel.
HANDOFF = "handoff"


async def offer_person(
    state: AppState, site: Site, user: str, tab: TabState | None, session: str, persona: Any,
    traits: dict[str, Any], *, channel: str = "", queue: dict[str, int] | None = None,
) -> None:  # fmt: skip
    from server.knowledge.markup import render_template
    from server.web.help import DEFAULT_LINES

    source = (persona.voice.get("offer_person") if persona else None) or DEFAULT_LINES[
        "offer_person"
    ]
    try:
        text = render_template(
            source, user=traits, persona={"name": persona.name if persona else ""}, offer={}
        )
    except ValueError:
        text = DEFAULT_LINES["offer_person"]
    answer = HelpAnswer(
        req=0, session=session, offer="person", text=text,
        persona={"id": persona.id, "name": persona.name, "avatar": persona.avatar} if persona else {},
        channel=channel, queue=queue or {},
    )  # fmt: skip
    from server.web import delivery

    if tab is not None:
        await delivery.to_tab(state, site.key, tab.tab, answer, user=user)
    else:
        await delivery.to_visitor(state, site.key, user, answer)


async def handoff_packet(
    state: AppState, site: Site, user: str, tab: TabState | None, session: str,
    item: dict[str, Any], level: FrustrationIndicator | None, *, now_ms: int,
) -> HandoffPacket:  # fmt: skip
    """Everything a person taking over needs (``tandem schema handoff``)."""
    profile = await state.store.get_profile(site.key, user)
    runs = await state.store.latest_runs(site.key, user, limit=1)
    persona = next((p for p in site.personae if p.id == item.get("persona")), None)
    sessions = (
        [i for i in profile.items if i.kind == SUPPORT_SESSION and "offer" in i.payload]
        if profile
        else []
    )
    shown = {f for i in sessions for f in i.payload.get("faq", [])}
    faq = [FaqShown(id=e.id, question=e.questions[0]) for e in site.faq if e.id in shown]
    return HandoffPacket(
        site=site.key, session=session, created_ms=now_ms,
        triggers=item["referral"]["triggers"], reasons=item["reasons"],
        visitor=Visitor(
            user=user, anonymous=user.startswith("anon-"),
            traits={k: v for k, v in (profile.traits if profile else {}).items()
                    if isinstance(v, str | int | float | bool) or v is None},
        ),
        location=Location(tab=tab.tab, url=tab.url, title=tab.title, process=tab.process) if tab else None,
        persona=PersonaRef(id=persona.id, name=persona.name, avatar=persona.avatar) if persona else None,
        walkthrough=WalkthroughReached(
            walkthrough=runs[0].run.walkthrough, version=runs[0].run.version, run=runs[0].run.id,
            step=runs[0].run.step, status=runs[0].run.status.value,
            completed_steps=list(runs[0].run.completed_steps),
        ) if runs else None,
        frustration=Frustration(
            level=level.level, threshold=level.threshold,
            signals=[SignalEvidence(kind=s.kind.value, at_ms=s.at_ms, weight=s.weight, evidence=s.evidence)
                     for s in level.top(10)],
        ) if level else None,
        transcript=[
            TranscriptEntry(
                at_ms=i.at_ms, session=str(i.payload.get("session", "")), question=str(i.payload.get("question", "")),
                offer=str(i.payload.get("offer", "")), persona=i.payload.get("persona"),
                walkthrough=i.payload.get("walkthrough"),
            )
            for i in sessions
        ],
        faq_shown=faq,
    )  # fmt: skip


def send_to_channels(
    state: AppState, site: Site, packet: HandoffPacket, *, channel: str = "email"
) -> None:
    """The packet to the site's webhook, and to its email when routing found no agent online (``channel``)."""
    if site.config.channels.email is not None and channel == "email":
        _send_email(state, site, packet, site.config.channels.email.to)
    hook = site.config.channels.webhook
    if hook is None:
        return
    secret = os.environ.get(hook.secret_env, "")
    if not secret:
        log.error("site %s: %s is not set; the webhook is not sent", site.key, hook.secret_env)
        return
    body = packet.model_dump_json().encode()

    async def deliver() -> None:
        outcome = await webhook.deliver(
            hook.url, secret.encode(), body, packet.session, max_attempts=hook.max_attempts,
            clock=time.time,
        )  # fmt: skip
        # What became of the handoff goes on the visitor's profile, next to the referral.
        await state.store.append_support_item(
            site.key, packet.visitor.user, HANDOFF, at_ms=time.time_ns() // 1_000_000,
            payload={
                "session": packet.session, "channel": "webhook", "delivered": outcome.delivered,
                "attempts": outcome.attempts, "status": outcome.status, "error": outcome.error,
            },
            failure=not outcome.delivered,
            failure_reason=None if outcome.delivered else "handoff_not_delivered",
        )  # fmt: skip

    in_background(state, deliver(), f"handoff of {packet.session}")


def _send_email(state: AppState, site: Site, packet: HandoffPacket, to: list[str]) -> None:
    settings = state.settings
    if not settings.smtp_host:
        log.error("site %s has an email channel but TANDEM_SMTP_HOST is not set", site.key)
        return
    server = email.SmtpServer(
        settings.smtp_host, settings.smtp_port, settings.smtp_tls, settings.smtp_user,
        settings.smtp_password, settings.smtp_from,
    )  # fmt: skip

    async def deliver() -> None:
        error = ""
        try:
            await email.send(server, email.referral_email(packet, to, settings.smtp_from))
        except Exception as exc:  # SMTP, network, or a message that cannot be built: recorded
            error = str(exc) or type(exc).__name__
            log.error("emailing the handoff of %s failed: %s", packet.session, error)
        await state.store.append_support_item(
            site.key, packet.visitor.user, HANDOFF, at_ms=time.time_ns() // 1_000_000,
            payload={"session": packet.session, "channel": "email", "delivered": not error, "to": to, "error": error},
            failure=bool(error), failure_reason="handoff_not_delivered" if error else None,
        )  # fmt: skip

    in_background(state, deliver(), f"email of {packet.session}")


def hand_off(
    state: AppState, site: Site, user: str, tab: TabState | None, session: str,
    item: dict[str, Any], level: FrustrationIndicator | None, *, now_ms: int,
) -> None:  # fmt: skip
    """Build the handoff packet and send it to the site's channels, on its own."""

    async def work() -> None:
        packet = await handoff_packet(state, site, user, tab, session, item, level, now_ms=now_ms)
        send_to_channels(
            state, site, packet, channel=str(item.get("referral", {}).get("channel", "email"))
        )

    in_background(state, work(), f"handoff of {session}")


def in_background(state: AppState, work: Coroutine[Any, Any, Any], what: str) -> None:
    """Run ``work`` on its own (kept until done), logging what fails."""

    async def guarded() -> None:
        try:
            await work
        except Exception:
            log.exception("%s failed", what)

    task = asyncio.ensure_future(guarded())
    state.frustration.background.add(task)
    task.add_done_callback(state.frustration.background.discard)
