"""The server's ASGI app: health, the client bundle, and refusing to start when misconfigured."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from server.knowledge.sources import ContentInvalid
from server.settings import Settings
from server.web.app import ClientBundleMissing, create_app
from tests.conftest import REPO


def _settings(store_url: str, **changes: object) -> Settings:
    return Settings(store_url=store_url, content_dir=REPO / "walkthroughs").with_(**changes)


@pytest.mark.store
def test_healthz_reports_the_store(store_url: str) -> None:
    with TestClient(create_app(_settings(store_url))) as client:
        response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["store"] == ("sqlite" if store_url.startswith("sqlite") else "postgres")
    assert body["schema_version"] >= 1
    assert body["sites"] == ["demo"]


def test_client_script_is_served_as_javascript(tmp_path: Path) -> None:
    with TestClient(create_app(_settings(f"sqlite:///{tmp_path}/t.db"))) as client:
        response = client.get("/tandem.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert "tandem:ready" in response.text


def test_the_bundles_tandem_js_loads_on_demand_are_served_as_javascript(tmp_path: Path) -> None:
    with TestClient(create_app(_settings(f"sqlite:///{tmp_path}/t.db"))) as client:
        consent = client.get("/tandem-cobrowse.js")
        recorder = client.get("/tandem-mirror.js")
    for response in (consent, recorder):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/javascript")
        assert response.headers["access-control-allow-origin"] == "*"
    assert "Share this page with support?" in consent.text
    assert "TandemMirror" in recorder.text


def test_missing_client_bundle_names_the_command_that_builds_it(tmp_path: Path) -> None:
    with pytest.raises(ClientBundleMissing, match="make client"):
        create_app(_settings(f"sqlite:///{tmp_path}/t.db", client_dist=tmp_path / "dist"))


def test_invalid_content_stops_the_server(tmp_path: Path) -> None:
    content = tmp_path / "content"
    shutil.copytree(REPO / "walkthroughs", content)
    site = content / "demo" / "site.yaml"
    site.write_text(site.read_text().replace("key: demo", "key: Demo!"))
    with pytest.raises(ContentInvalid, match=r"content/demo/site.yaml:2: key: "):
        create_app(_settings(f"sqlite:///{tmp_path}/t.db", content_dir=content))
