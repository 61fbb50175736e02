"""``tandem doctor`` says what a deployment lacks: each check against the real thing (a store,
an SMTP server, the built client) or its absence."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from server.cli import main
from server.doctor import Finding, diagnose, report
from tests.conftest import REPO, free_port
from tests.integration.live_server import DEMO_KEY, content_dir
from tests.integration.test_email_channel import Inbox

pytestmark = pytest.mark.anyio


@pytest.fixture
def smtp_port() -> Iterator[int]:
    from aiosmtpd.controller import Controller

    port = free_port()
    controller = Controller(Inbox(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


def good_env(tmp: Path, store_url: str, smtp_port: int) -> dict[str, str]:
    return {
        "TANDEM_STORE_URL": store_url,
        "TANDEM_CONTENT_DIR": str(content_dir(tmp)),
        "TANDEM_CLIENT_DIST": str(REPO / "client_js" / "dist"),
        "TANDEM_SMTP_HOST": "127.0.0.1",
        "TANDEM_SMTP_PORT": str(smtp_port),
        "TANDEM_SMTP_TLS": "none",
        "TANDEM_SECRET": "doctor-test-secret",
        "TANDEM_DEMO_SIGNING_KEY": DEMO_KEY,
        "TANDEM_TEST_SHOP_KEY": DEMO_KEY,
    }


def levels(findings: list[Finding]) -> dict[str, str]:
    worst: dict[str, str] = {}
    rank = {"ok": 0, "warn": 1, "fail": 2}
    for f in findings:
        if rank[f.level] >= rank.get(worst.get(f.what, "ok"), 0):
            worst[f.what] = f.level
    return worst


async def test_a_healthy_deployment_is_all_ok(
    store_url: str, tmp_path: Path, smtp_port: int
) -> None:
    findings = await diagnose(good_env(tmp_path, store_url, smtp_port))
    text, healthy = report(findings)
    assert healthy, text
    assert set(levels(findings).values()) == {"ok"}, text
    assert {"settings", "content", "client", "store", "broker", "smtp"} <= set(levels(findings))


async def test_each_thing_missing_is_named(tmp_path: Path, smtp_port: int) -> None:
    env = good_env(tmp_path, "postgresql://doctor@127.0.0.1:1/none", free_port())
    env["TANDEM_CLIENT_DIST"] = str(tmp_path / "no-client")
    env.pop("TANDEM_SMTP_HOST")
    site = Path(env["TANDEM_CONTENT_DIR"]) / "demo" / "site.yaml"
    site.write_text(
        site.read_text() + "channels:\n  email:\n    to: [support@acme.test]\n"
        "  webhook:\n    url: https://hooks.acme.test/tandem\n    secret_env: TANDEM_DOCTOR_HOOK\n"
    )
    findings = await diagnose(env)
    text, healthy = report(findings)
    assert not healthy
    found = levels(findings)
    assert (found["store"], found["client"], found["site demo"]) == ("fail", "fail", "fail"), text
    assert "127.0.0.1:1/none" in text and "doctor@" not in text  # where, never who
    assert "tandem-mirror.js" in text and "make client" in text
    assert "TANDEM_SMTP_HOST is not set" in text and "TANDEM_DOCTOR_HOOK" in text


async def test_smtp_unreachable_and_a_strict_sites_missing_key_fail(
    store_url: str, tmp_path: Path
) -> None:
    env = good_env(tmp_path, store_url, free_port())
    env.pop("TANDEM_TEST_SHOP_KEY")
    text, healthy = report(await diagnose(env))
    assert not healthy
    assert "FAIL  smtp" in text and "FAIL  signing keys" in text and "TANDEM_TEST_SHOP_KEY" in text


def test_the_command_exits_non_zero_when_something_is_wrong(tmp_path: Path) -> None:
    env = {"TANDEM_CLIENT_DIST": str(tmp_path), "TANDEM_STORE_URL": f"sqlite:///{tmp_path}/t.db",
           "TANDEM_CONTENT_DIR": str(content_dir(tmp_path)), "TANDEM_TEST_SHOP_KEY": DEMO_KEY}  # fmt: skip
    result = CliRunner().invoke(main, ["doctor"], env=env)
    assert result.exit_code == 1, result.output
    assert "FAIL  client" in result.output
    result = CliRunner().invoke(main, ["doctor"], env={**env, "TANDEM_PORT": "eighty"})
    assert result.exit_code == 1 and "TANDEM_PORT" in result.output


async def test_credentials_never_appear_even_in_an_error_that_quotes_the_url(
    tmp_path: Path,
) -> None:
    env = good_env(
        tmp_path, "postgress://admin:s3cret@db.acme.test/tandem?password=also-s3cret", free_port()
    )
    text, healthy = report(await diagnose(env))
    assert not healthy and "s3cret" not in text and "FAIL  store" in text
