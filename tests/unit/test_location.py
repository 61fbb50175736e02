"""URL redaction and process resolution from URL patterns and page markers."""

from __future__ import annotations

import json

import pytest

from server.content import load_site
from server.knowledge.location import ProcessIndex, redact_url
from tests.conftest import REPO

REDACTION_CASES = json.loads((REPO / "tests" / "golden" / "redaction_cases.json").read_text())


@pytest.mark.parametrize("case", REDACTION_CASES, ids=lambda c: c["url"][20:60])
def test_redact_url(case: dict[str, str]) -> None:
    """The same cases run against the client's sanitizeUrl (client_js/test/sanitize.test.js)."""
    assert redact_url(case["url"]) == case["expected"]


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
