"""The `tandem` command, run as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from server import __version__
from tests.conftest import REPO

TANDEM = str(Path(sys.executable).parent / "tandem")


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [TANDEM, *args], capture_output=True, text=True, cwd=REPO, timeout=60,
        env={**os.environ, **(env or {})},
    )  # fmt: skip


def test_version() -> None:
    result = run("--version")
    assert result.returncode == 0
    assert __version__ in result.stdout


@pytest.mark.parametrize(
    "command", ["serve", "demo-site", "schema", "validate", "settings", "sign-user"]
)
def test_every_command_has_help(command: str) -> None:
    result = run(command, "--help")
    assert result.returncode == 0
    assert "Usage: tandem " + command in result.stdout


def test_serve_without_a_client_bundle_says_how_to_build_it(tmp_path: Path) -> None:
    result = run("serve", "--port", "1", env={"TANDEM_CLIENT_DIST": str(tmp_path)})
    assert result.returncode == 2
    assert "make client" in result.stderr


def test_serve_with_a_bad_setting_names_it() -> None:
    result = run("serve", env={"TANDEM_PORT": "eighty"})
    assert result.returncode == 2
    assert "TANDEM_PORT must be a port number" in result.stderr


def test_validate_prints_file_line_and_field(tmp_path: Path) -> None:
    folder = tmp_path / "content" / "shop"
    folder.mkdir(parents=True)
    (folder / "site.yaml").write_text(
        "key: shop\nname: Shop\nallowed_origins: [nope]\nstrict_identity: false\n"
    )
    result = run("validate", str(tmp_path / "content"))
    assert result.returncode == 1
    assert "content/shop/site.yaml:3: allowed_origins[0]: " in result.stderr


def test_validate_accepts_the_demo_content() -> None:
    result = run("validate")
    assert result.returncode == 0
    assert "demo: ok" in result.stdout


def test_schema_prints_json_schema() -> None:
    result = run("schema", "processes")
    assert result.returncode == 0
    schema = json.loads(result.stdout)
    assert schema["$schema"].endswith("2020-12/schema")
    assert "processes" in schema["properties"]


def test_serve_with_an_unreachable_store_says_so() -> None:
    result = run("serve", "--port", "1", "--store", "postgresql://postgres@127.0.0.1:1/test")
    assert result.returncode == 2
    assert "cannot open the store" in result.stderr and "Traceback" not in result.stderr


def test_serve_with_a_missing_signing_secret_names_the_variable(tmp_path: Path) -> None:
    site = tmp_path / "content" / "shop"
    site.mkdir(parents=True)
    (site / "site.yaml").write_text(
        "key: shop\nname: Shop\nallowed_origins: [https://shop.example]\n"
        "signing_keys: [{kid: k1, secret_env: TANDEM_TEST_ABSENT_KEY}]\n"
    )
    result = run("serve", "--port", "1", "--content", str(tmp_path / "content"))
    assert result.returncode == 2
    assert "TANDEM_TEST_ABSENT_KEY" in result.stderr


def test_sign_user_prints_a_token_the_server_accepts() -> None:
    import time

    from server.identity.tokens import verify_visitor_token

    key = "a-demo-key-for-the-cli-test-32-bytes"
    result = run(
        "sign-user",
        "u-ada",
        "--trait",
        "plan=pro",
        "--ttl",
        "600",
        env={"TANDEM_DEMO_SIGNING_KEY": key},
    )
    assert result.returncode == 0, result.stderr
    visitor = verify_visitor_token(
        result.stdout.strip(), site="demo", keys={"demo-1": key}, now=int(time.time())
    )
    assert (visitor.user_id, visitor.traits) == ("u-ada", {"plan": "pro"})


def test_sign_user_without_the_secret_names_the_variable() -> None:
    env = {k: v for k, v in os.environ.items() if k != "TANDEM_DEMO_SIGNING_KEY"}
    result = subprocess.run(
        [TANDEM, "sign-user", "u-ada"],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=60,
    )
    assert result.returncode == 2
    assert "set TANDEM_DEMO_SIGNING_KEY" in result.stderr
