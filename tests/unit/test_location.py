"""URL redaction and process resolution from URL patterns and page markers."""

from __future__ import annotations

import pytest

from server.content import load_site
from server.knowledge.location import ProcessIndex, redact_url
from tests.conftest import REPO


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://a.example/x?page=2&sort=due", "https://a.example/x?page=2&sort=due"),
        ("https://a.example/x?token=abc&page=2", "https://a.example/x?token=redacted&page=2"),
        ("https://a.example/reset?Password=hunter2", "https://a.example/reset?Password=redacted"),
        (
            "https://a.example/x?api_key=k&session_id=s&otp=1",
            "https://a.example/x?api_key=redacted&session_id=redacted&otp=redacted",
        ),
        (
            "https://a.example/cb#access_token=t&state=s",
            "https://a.example/cb#access_token=redacted&state=s",
        ),
        ("https://a.example/docs#section-2", "https://a.example/docs#section-2"),
        ("https://ada:hunter2@a.example/x", "https://a.example/x"),
        (
            "https://a.example/pay?card_number=4242&cvc=123",
            "https://a.example/pay?card_number=redacted&cvc=redacted",
        ),
        (
            "https://a.example/invite?email=ada%40acme.test",
            "https://a.example/invite?email=redacted",
        ),
    ],
)
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected


@pytest.fixture(scope="module")
def index() -> ProcessIndex:
    return ProcessIndex(load_site(REPO / "walkthroughs" / "demo"))


@pytest.mark.parametrize(
    ("url", "markers", "process"),
    [
        ("http://127.0.0.1:8001/billing/payment-methods/new", [], "add-payment-method"),
        ("http://localhost:8001/invoices/INV-1007", [], "find-invoice"),
        ("http://127.0.0.1:8001/invoices", [], "find-invoice"),
        ("http://127.0.0.1:8001/reports?tab=x", [], "export-report"),
        ("http://127.0.0.1:8001/settings", [], None),
        ("http://127.0.0.1:8001/settings", ["invite-teammate"], "invite-teammate"),
        ("http://127.0.0.1:8001/reports", ["not-a-process", "invite-teammate"], "invite-teammate"),
        ("http://127.0.0.1:8001/reports", ["not-a-process"], "export-report"),
    ],
)
def test_process_resolution(
    index: ProcessIndex, url: str, markers: list[str], process: str | None
) -> None:
    assert index.resolve(url, markers) == process
