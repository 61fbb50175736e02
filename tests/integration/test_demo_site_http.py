"""The demo site over HTTP: strict CSP, sign-in, and card data that is never echoed or kept."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from server.demo_site.app import DemoSettings, create_demo_app
from server.identity.tokens import verify_visitor_token

DEMO_KEY = "demo-http-test-signing-key-32-bytes!"


@pytest.fixture(params=["standard", "mutated"])
def client(request: pytest.FixtureRequest) -> Iterator[TestClient]:
    app = create_demo_app(
        DemoSettings(
            variant=request.param, tandem_url="http://127.0.0.1:8123", signing_key=DEMO_KEY
        )
    )
    with TestClient(app, base_url="http://127.0.0.1:8001") as c:
        yield c


def sign_in(client: TestClient) -> None:
    response = client.post("/signin", data={"email": "ada@acme.test", "password": "acme-demo"})
    assert response.status_code == 200  # followed the redirect to /home
    assert response.url.path == "/home"


def test_pages_carry_a_strict_content_security_policy(client: TestClient) -> None:
    csp = client.get("/signin").headers["content-security-policy"]
    assert "script-src 'self' http://127.0.0.1:8123;" in csp
    assert "style-src 'self';" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "connect-src 'self' http://127.0.0.1:8123 ws://127.0.0.1:8123" in csp


def test_pages_embed_the_tandem_script_tag(client: TestClient) -> None:
    html = client.get("/signin").text
    assert '<script src="http://127.0.0.1:8123/tandem.js" data-site="demo" async></script>' in html


def test_pages_need_sign_in(client: TestClient) -> None:
    response = client.get("/invoices", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/signin?next=/invoices"
    assert client.get("/api/invoices").status_code == 401


def test_wrong_password_is_refused(client: TestClient) -> None:
    response = client.post("/signin", data={"email": "ada@acme.test", "password": "nope"})
    assert response.status_code == 401
    assert 'data-testid="signin-error"' in response.text


def test_every_app_page_renders_after_sign_in(client: TestClient) -> None:
    sign_in(client)
    titles = re.findall(r"<title>(.*?)</title>", client.get("/settings").text, re.S)
    assert titles == ["Settings · Acme Billing"]
    for path in ("/home", "/invoices", "/invoices/INV-1001", "/billing", "/billing/payment-methods/new",
                 "/team", "/team/invite", "/reports", "/settings", "/embed/notifications"):  # fmt: skip
        assert client.get(path).status_code == 200, path


def test_a_card_is_kept_as_brand_and_last_four_only(client: TestClient) -> None:
    sign_in(client)
    response = client.post(
        "/billing/payment-methods/new",
        data={
            "card_name": "Ada",
            "card_number": "5555 5555 5555 4444",
            "card_expiry": "04/29",
            "card_cvc": "123",
        },
    )
    assert response.url.path == "/billing"
    assert 'data-testid="payment-method-added"' in response.text
    assert "Mastercard •••• 4444" in response.text
    assert "5555 5555 5555 4444" not in response.text and "5555555555554444" not in response.text


def test_an_invalid_card_is_not_echoed_back(client: TestClient) -> None:
    sign_in(client)
    response = client.post(
        "/billing/payment-methods/new",
        data={
            "card_name": "Ada",
            "card_number": "4242424242424241",
            "card_expiry": "04/29",
            "card_cvc": "987",
        },
    )
    assert response.status_code == 422
    assert "4242424242424241" not in response.text and "987" not in response.text
    assert 'value="Ada"' in response.text


def test_invite_api_validates_the_email(client: TestClient) -> None:
    sign_in(client)
    bad = client.post("/api/team/invites", json={"email": "not-an-email"})
    assert bad.status_code == 422 and bad.json()["field"] == "email"
    good = client.post(
        "/api/team/invites", json={"name": "Linus", "email": "linus@acme.test", "role": "admin"}
    )
    assert good.status_code == 201
    assert "linus@acme.test" in client.get("/team").text


def test_deleting_an_invoice_needs_the_app_header(client: TestClient) -> None:
    sign_in(client)
    assert client.delete("/api/invoices/INV-1002").status_code == 403
    assert (
        client.delete("/api/invoices/INV-1002", headers={"X-Acme-Request": "1"}).status_code == 204
    )
    assert client.get("/api/invoices/INV-1002").status_code == 404


def _page_config(html: str) -> dict[str, Any]:
    raw = re.search(r'<script type="application/json" id="acme-config">(.*?)</script>', html, re.S)
    assert raw is not None
    return json.loads(raw[1])  # type: ignore[no-any-return]


def test_signed_in_pages_hand_tandem_a_token_the_server_accepts(client: TestClient) -> None:
    assert _page_config(client.get("/signin").text)["tandem"]["identity"] is None
    sign_in(client)
    identity = _page_config(client.get("/home").text)["tandem"]["identity"]
    assert identity["id"] == "u-ada"
    visitor = verify_visitor_token(
        identity["token"], site="demo", keys={"demo-1": DEMO_KEY}, now=int(time.time())
    )
    assert visitor.user_id == "u-ada"
    assert visitor.traits == {"first_name": "Ada", "role": "admin", "plan": "business"}
