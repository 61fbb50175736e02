"""The two variants of the demo site: ``standard`` and ``mutated``.

``mutated`` is the same app after a redesign: other element ids, other
(generated-looking) class names, some reworded texts, and elements moved to
another place in the page. ``data-testid`` attributes stay the same in both, so
tests can find things; walkthrough targets must survive the rest.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

CLASSES = (
    "app-header", "brand", "nav", "nav-link", "active", "page", "page-head", "card",
    "card-footer", "btn", "btn-primary", "btn-danger", "btn-ghost", "field", "field-label",
    "input", "table", "scroll-box", "banner", "notice", "notice-error", "muted", "grid",
    "dialog", "stack", "row-actions", "confirm", "footer", "badge", "late-panel", "toolbar",
)  # fmt: skip

TEXTS = {
    "brand": "Acme Billing",
    "nav.home": "Home",
    "nav.invoices": "Invoices",
    "nav.billing": "Billing",
    "nav.team": "Team",
    "nav.reports": "Reports",
    "nav.settings": "Settings",
    "signout": "Sign out",
    "signin.title": "Sign in to Acme Billing",
    "signin.email": "Email",
    "signin.password": "Password",
    "signin.submit": "Sign in",
    "signin.error": "That email and password do not match an account.",
    "home.title": "Welcome back",
    "late.title": "Set up automatic payments",
    "late.body": "Never miss a due date: pay invoices automatically with your default card.",
    "late.action": "Turn on autopay",
    "invoices.title": "Invoices",
    "invoices.filter": "Show",
    "invoices.back": "Back to invoices",
    "invoice.delete": "Delete invoice",
    "invoice.delete.confirm": "Delete permanently",
    "invoice.delete.cancel": "Keep it",
    "invoice.delete.question": "Delete this invoice? This cannot be undone.",
    "invoice.deleted": "Invoice deleted.",
    "billing.title": "Billing",
    "pm.add": "Add payment method",
    "pm.added": "Payment method added.",
    "pm.title": "Add a payment method",
    "pm.name": "Name on card",
    "pm.number": "Card number",
    "pm.expiry": "Expiry (MM/YY)",
    "pm.cvc": "Security code",
    "pm.submit": "Save card",
    "address.title": "Billing address",
    "address.line1": "Street address",
    "address.city": "City",
    "address.postcode": "Postcode",
    "address.save": "Save address",
    "address.saved": "Address saved.",
    "team.title": "Team",
    "invite.open": "Invite a teammate",
    "invite.title": "Invite a teammate",
    "invite.name": "Full name",
    "invite.email": "Work email",
    "invite.role": "Role",
    "invite.message": "Personal message (optional)",
    "invite.submit": "Send invitation",
    "invite.sent": "Invitation sent to {email}.",
    "invite.bad_email": "Enter a valid email address.",
    "reports.title": "Reports",
    "export.open": "Export report",
    "export.title": "Export a report",
    "export.format": "Format",
    "export.range": "Period",
    "export.confirm": "Export",
    "export.cancel": "Cancel",
    "export.ready": "Your report is ready: {file}",
    "settings.title": "Settings",
    "settings.sync": "Sync now",
    "settings.recalculate": "Recalculate balances",
    "notifications.title": "Email notifications",
    "notifications.save": "Save notification settings",
    "notifications.saved": "Notification settings saved.",
}

MUTATED_TEXTS = {
    "signin.submit": "Log in",
    "nav.team": "People",
    "invite.open": "Add a team member",
    "invite.submit": "Send invite",
    "export.open": "Download report",
    "pm.add": "Add a card",
    "invoice.delete": "Remove invoice",
    "settings.sync": "Synchronise",
}


def _generated(prefix: str, key: str) -> str:
    """A stable, generated-looking name, like a CSS-in-JS build would emit."""
    return f"{prefix}{hashlib.sha256(key.encode()).hexdigest()[:6]}"


@dataclass(frozen=True)
class Variant:
    name: str
    classes: dict[str, str] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)
    #: where movable elements go: "export_button" → "head" | "footer", "add_card" → "top" | "bottom"
    layout: dict[str, str] = field(default_factory=dict)

    @property
    def mutated(self) -> bool:
        return self.name == "mutated"

    def id(self, key: str) -> str:
        """The element id for a logical id."""
        return _generated("e", key) if self.mutated else key

    def cls(self, *keys: str) -> str:
        """Space-separated class names for logical classes."""
        return " ".join(self.classes.get(k, k) for k in keys)

    def t(self, key: str, **values: str) -> str:
        """The text for a key, with ``{name}`` placeholders filled."""
        text = self.texts[key]
        return text.format(**values) if values else text

    def rewrite_css(self, css: str) -> str:
        """Rename the logical classes in a stylesheet to this variant's names."""
        if not self.mutated:
            return css
        names = "|".join(sorted((re.escape(c) for c in CLASSES), key=len, reverse=True))
        return re.sub(rf"\.({names})(?![\w-])", lambda m: "." + self.classes[m[1]], css)

    def client_config(self) -> dict[str, object]:
        """What the demo's scripts need to render in this variant."""
        return {
            "variant": self.name,
            "classes": self.classes,
            "texts": self.texts,
            "ids": {k: self.id(k) for k in ("invite-form", "invoice-table", "export-dialog")},
        }


STANDARD = Variant(
    name="standard",
    classes={c: c for c in CLASSES},
    texts=dict(TEXTS),
    layout={"export_button": "head", "add_card": "top"},
)

MUTATED = Variant(
    name="mutated",
    classes={c: _generated("css-", c) for c in CLASSES},
    texts={**TEXTS, **MUTATED_TEXTS},
    layout={"export_button": "footer", "add_card": "bottom"},
)

VARIANTS = {v.name: v for v in (STANDARD, MUTATED)}
