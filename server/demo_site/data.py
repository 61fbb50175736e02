"""The demo site's data: accounts, invoices, cards and invitations, kept in memory.

Deterministic, so tests and screenshots see the same invoices every run. Card
numbers are never kept: only the brand and the last four digits.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass, field

DEMO_PASSWORD = "acme-demo"


@dataclass(frozen=True)
class Account:
    id: str
    email: str
    name: str
    role: str
    plan: str


ACCOUNTS = {
    a.email: a
    for a in (
        Account("u-ada", "ada@acme.test", "Ada Lovelace", "admin", "business"),
        Account("u-grace", "grace@acme.test", "Grace Hopper", "member", "business"),
        Account("u-alan", "alan@acme.test", "Alan Turing", "viewer", "starter"),
    )
}

CUSTOMERS = (
    "Analytical Engines Ltd", "Difference Works", "Babbage & Sons", "Jacquard Looms",
    "Harvard Mark I Co", "COBOL Consulting", "Bletchley Supplies", "Enigma Analytics",
)  # fmt: skip
STATUSES = ("paid", "open", "overdue", "draft")


@dataclass(frozen=True)
class Invoice:
    number: str
    customer: str
    amount_cents: int
    status: str
    due: str

    def as_json(self) -> dict[str, object]:
        return {
            "number": self.number,
            "customer": self.customer,
            "amount": f"€{self.amount_cents / 100:,.2f}",
            "status": self.status,
            "due": self.due,
        }


def _invoices() -> list[Invoice]:
    out = []
    for i in range(40):
        number = f"INV-{1001 + i}"
        amount = 12_000 + (i * 7_919) % 240_000
        day = 1 + (i * 3) % 28
        out.append(
            Invoice(
                number, CUSTOMERS[i % len(CUSTOMERS)], amount, STATUSES[i % 4], f"2026-11-{day:02d}"
            )
        )
    return out


@dataclass(frozen=True)
class PaymentMethod:
    brand: str
    last4: str
    expiry: str
    name: str


@dataclass
class DemoData:
    """Everything the demo app changes while it runs."""

    invoices: list[Invoice] = field(default_factory=_invoices)
    payment_methods: list[PaymentMethod] = field(
        default_factory=lambda: [PaymentMethod("Visa", "4242", "04/29", "Ada Lovelace")]
    )
    invitations: list[dict[str, str]] = field(default_factory=list)

    def invoice(self, number: str) -> Invoice | None:
        return next((inv for inv in self.invoices if inv.number == number), None)

    def delete_invoice(self, number: str) -> bool:
        before = len(self.invoices)
        self.invoices = [inv for inv in self.invoices if inv.number != number]
        return len(self.invoices) < before


def authenticate(email: str, password: str) -> Account | None:
    account = ACCOUNTS.get(email.strip().lower())
    if account is None:
        return None
    if not hmac.compare_digest(password.encode(), DEMO_PASSWORD.encode()):
        return None
    return account


EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$", re.IGNORECASE)


def luhn_ok(number: str) -> bool:
    digits = [int(d) for d in number]
    checksum = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        checksum += d
    return checksum % 10 == 0


def card_brand(number: str) -> str:
    if number.startswith("4"):
        return "Visa"
    if number[:2] in {"51", "52", "53", "54", "55"} or "2221" <= number[:4] <= "2720":
        return "Mastercard"
    if number[:2] in {"34", "37"}:
        return "American Express"
    return "Card"


def check_card(name: str, number: str, expiry: str, cvc: str) -> tuple[PaymentMethod | None, str]:
    """Validate a card form; return the method to keep (no full number) or an error."""
    digits = re.sub(r"[\s-]", "", number)
    if not name.strip():
        return None, "Enter the name printed on the card."
    if not digits.isdigit() or not 12 <= len(digits) <= 19 or not luhn_ok(digits):
        return None, "That card number is not valid."
    if not re.fullmatch(r"(0[1-9]|1[0-2])/\d{2}", expiry.strip()):
        return None, "Enter the expiry as MM/YY."
    if not re.fullmatch(r"\d{3,4}", cvc.strip()):
        return None, "The security code is 3 or 4 digits."
    return PaymentMethod(card_brand(digits), digits[-4:], expiry.strip(), name.strip()), ""
