"""The HTTP API: admin token, per-site CORS, and an OpenAPI document that matches the routes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.routing import Route
from starlette.testclient import TestClient

from server.settings import Settings
from server.web.app import create_app
from tests.integration.live_server import ADMIN_TOKEN, SHOP_KEY, content_dir

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("TANDEM_TEST_SHOP_KEY", SHOP_KEY)
    settings = Settings(
        store_url=f"sqlite:///{tmp_path}/t.db",
        content_dir=content_dir(tmp_path),
        admin_token=ADMIN_TOKEN,
    )
    with TestClient(create_app(settings)) as c:
        yield c


def test_admin_endpoints_need_the_token(client: TestClient) -> None:
    path = "/api/users/demo/u-ada/location"
    assert client.get(path).status_code == 401
    assert client.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get(path, headers={"Authorization": f"Basic {ADMIN_TOKEN}"}).status_code == 401
    ok = client.get(path, headers=AUTH)
    assert ok.status_code == 200
    assert ok.json() == {
        "site": "demo",
        "user": "u-ada",
        "online": False,
        "focused_tab": None,
        "tabs": [],
    }


def test_unknown_site_and_visitor(client: TestClient) -> None:
    assert client.get("/api/users/nope/u/location", headers=AUTH).status_code == 404
    assert client.get("/api/users/demo/nobody/profile", headers=AUTH).status_code == 404


def test_bad_event_query_is_a_400(client: TestClient) -> None:
    assert client.get("/api/users/demo/u/events?after=x", headers=AUTH).status_code == 400


def test_admin_api_is_off_without_a_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TANDEM_TEST_SHOP_KEY", SHOP_KEY)
    settings = Settings(store_url=f"sqlite:///{tmp_path}/t.db", content_dir=content_dir(tmp_path))
    with TestClient(create_app(settings)) as c:
        response = c.get("/api/users/demo/u/location", headers={"Authorization": "Bearer "})
    assert response.status_code == 503
    assert "TANDEM_ADMIN_TOKEN" in response.json()["error"]


def test_cors_allows_only_the_sites_own_origins(client: TestClient) -> None:
    path = "/api/users/demo/u-ada/location"
    allowed = client.get(path, headers={**AUTH, "Origin": "http://127.0.0.1:8001"})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "http://127.0.0.1:8001"
    # shop's origin is allowed for shop, not for demo
    assert (
        client.get(path, headers={**AUTH, "Origin": "https://shop.example.com"}).status_code == 403
    )
    shop = client.get(
        "/api/users/shop/c-1/location", headers={**AUTH, "Origin": "https://shop.example.com"}
    )
    assert shop.headers["access-control-allow-origin"] == "https://shop.example.com"
    preflight = client.options(
        path, headers={"Origin": "http://localhost:8001", "Access-Control-Request-Method": "GET"}
    )
    assert preflight.status_code == 204
    assert "Authorization" in preflight.headers["access-control-allow-headers"]
    refused = client.options(
        path, headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}
    )
    assert refused.status_code == 403
    assert "access-control-allow-origin" not in refused.headers


def test_client_script_can_be_loaded_from_any_origin(client: TestClient) -> None:
    response = client.get("/tandem.js", headers={"Origin": "https://anywhere.example"})
    assert response.headers["access-control-allow-origin"] == "*"
    assert "max-age=300" in response.headers["cache-control"]


def test_openapi_describes_exactly_the_http_routes(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    assert document["openapi"].startswith("3.")
    described = {(path, method) for path, item in document["paths"].items() for method in item}
    routes = {
        (route.path, method.lower())
        for route in client.app.routes  # type: ignore[attr-defined]
        if isinstance(route, Route) and route.include_in_schema
        for method in set(route.methods or ()) - {"HEAD"}
    }
    assert described == routes
    for path, item in document["paths"].items():
        for method, operation in item.items():
            assert operation.get("summary"), f"{method.upper()} {path} has no summary"
            assert operation.get("responses"), f"{method.upper()} {path} documents no responses"


def test_api_is_documented() -> None:
    from tests.conftest import REPO

    doc = (REPO / "docs" / "api.md").read_text()
    for path in ("/healthz", "/tandem.js", "/openapi.json", "/api/users/{site}/{user_id}/location",
                 "/api/users/{site}/{user_id}/profile", "/api/users/{site}/{user_id}/events",
                 "/api/sites/{site}/walkthroughs/{walkthrough}/funnel", "/api/sites/{site}/help",
                 "/api/sites/{site}/support-sessions/{session}", "/ws"):  # fmt: skip
        assert any(f"`{verb}{path}`" in doc for verb in ("", "GET ", "POST ")), (
            f"{path} is missing from docs/api.md"
        )
