"""The email channel: a referral, readable by a person, with the handoff packet attached.

Sent through the deployment's SMTP server (``TANDEM_SMTP_*``) with aiosmtplib:
STARTTLS by default, implicit TLS, or none for a local relay. The body says who
needs help, where (the page identifier), why, and what automation tried; the
packet itself is attached as ``handoff.json`` (``tandem schema handoff``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from email.message import EmailMessage

import aiosmtplib

from server.support.handoff import HandoffPacket

log = logging.getLogger("tandem.channels.email")


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int = 587
    tls: str = "starttls"  # starttls | tls | none
    user: str | None = None
    password: str | None = None
    sender: str = "tandem@localhost"


def _header(value: str) -> str:
    """A header value from data a visitor may have shaped: every kind of line break becomes a space."""
    return " ".join(value.split())[:200]


def referral_email(packet: HandoffPacket, to: list[str], sender: str) -> EmailMessage:
    """The email a referral becomes (pure)."""
    message = EmailMessage()
    where = packet.location
    message["Subject"] = _header(
        f"[Tandem] {packet.visitor.user} needs a person ({', '.join(packet.triggers)})"
    )
    message["From"] = sender
    message["To"] = ", ".join(to)
    message["X-Tandem-Session"] = _header(packet.session)
    lines = [
        f"Visitor: {packet.visitor.user}",
        f"Site: {packet.site}",
        f"Support session: {packet.session}",
        f"Why: {', '.join(packet.triggers)}",
    ]
    if where is not None:
        lines += [
            f"Page: {where.url}",
            f"Page identifier: {where.process or where.page or where.url}",
        ]
    if packet.walkthrough is not None:
        w = packet.walkthrough
        lines.append(f"Walkthrough: {w.walkthrough} v{w.version}, at step {w.step} ({w.status})")
    if packet.frustration is not None:
        signals = ", ".join(s.kind for s in packet.frustration.signals) or "none"
        lines.append(
            f"Frustration: {packet.frustration.level:.1f} of {packet.frustration.threshold:g} ({signals})"
        )
    if packet.transcript:
        lines.append("")
        lines.append("What they asked:")
        lines += [f"- {t.question or '(no question)'} -> {t.offer}" for t in packet.transcript]
    lines += ["", "The handoff packet is attached (handoff.json)."]
    message.set_content("\n".join(lines))
    message.add_attachment(
        packet.model_dump_json(indent=2).encode(), maintype="application", subtype="json",
        filename="handoff.json",
    )  # fmt: skip
    return message


async def send(server: SmtpServer, message: EmailMessage, *, timeout_s: float = 20.0) -> None:
    """Send through the SMTP server; raises ``aiosmtplib.SMTPException`` or ``OSError`` on failure."""
    await aiosmtplib.send(
        message, hostname=server.host, port=server.port, username=server.user,
        password=server.password, use_tls=server.tls == "tls", start_tls=server.tls == "starttls",
        timeout=timeout_s,
    )  # fmt: skip
