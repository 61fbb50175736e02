"""site.yaml and processes.yaml: the valid demo files load; each kind of mistake is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.content import load_site
from server.knowledge.site import ProcessesFile, SiteConfig
from server.knowledge.sources import ContentInvalid, load_model
from tests.conftest import REPO

GOOD_SITE = """\
key: shop
name: Shop
allowed_origins:
  - https://shop.example.com
signing_keys:
  - kid: k1
    secret_env: SHOP_KEY
"""

GOOD_PROCESSES = """\
processes:
  - id: checkout
    title: Check out
    url_patterns: ["/cart", "/checkout/*"]
    goal: { url: "/checkout/done" }
    effectiveness_threshold: 0.6
"""


def test_demo_site_configuration_is_valid() -> None:
    site = load_site(REPO / "walkthroughs" / "demo")
    assert site.key == "demo"
    assert "http://127.0.0.1:8001" in site.config.allowed_origins
    assert {p.id for p in site.processes} >= {
        "add-payment-method",
        "invite-teammate",
        "export-report",
    }
    invite = site.process("invite-teammate")
    assert invite is not None and invite.goal.element == "[data-testid=invite-sent]"


def test_good_files_load() -> None:
    site = load_model(SiteConfig, GOOD_SITE, "site.yaml")
    assert site.strict_identity is True
    processes = load_model(ProcessesFile, GOOD_PROCESSES, "processes.yaml").processes
    assert processes[0].url_patterns == ["/cart", "/checkout/*"]


def test_origins_are_normalised() -> None:
    site = load_model(
        SiteConfig, GOOD_SITE.replace("https://shop.example.com", "HTTPS://Shop.Example.com/"), "s"
    )
    assert site.allowed_origins == ["https://shop.example.com"]


SITE_REJECTIONS = [
    ("key: shop", "key: Shop Site", 1, "key", "should match pattern"),
    ("name: Shop\n", "", 1, "name", "Field required"),
    (
        "  - https://shop.example.com",
        "  - ftp://shop.example.com",
        4,
        "allowed_origins[0]",
        "scheme",
    ),
    (
        "  - https://shop.example.com",
        "  - https://shop.example.com/app",
        4,
        "allowed_origins[0]",
        "no path",
    ),
    (
        "  - https://shop.example.com",
        "  - https://a.com\n  - https://a.com",
        3,
        "allowed_origins",
        "listed twice",
    ),
    ("  - https://shop.example.com", "  - https://a.com:99999", 4, "allowed_origins[0]", "port"),
    (
        "allowed_origins:\n  - https://shop.example.com\n",
        "allowed_origins: []\n",
        3,
        "allowed_origins",
        "at least 1",
    ),
    (
        "    secret_env: SHOP_KEY",
        "    secret_env: shop-key",
        7,
        "signing_keys[0].secret_env",
        "pattern",
    ),
    (
        "    secret_env: SHOP_KEY",
        "    secret_env: SHOP_KEY\n  - kid: k1\n    secret_env: B",
        5,
        "signing_keys",
        "share a kid",
    ),
    (
        "    secret_env: SHOP_KEY",
        "    secret_env: SHOP_KEY\n    secret: hunter2",
        8,
        "signing_keys[0].secret",
        "unknown field",
    ),
]


@pytest.mark.parametrize(("old", "new", "line", "field", "message"), SITE_REJECTIONS)
def test_site_file_rejections(old: str, new: str, line: int, field: str, message: str) -> None:
    text = GOOD_SITE.replace(old, new)
    assert text != GOOD_SITE
    with pytest.raises(ContentInvalid) as caught:
        load_model(SiteConfig, text, "walkthroughs/shop/site.yaml")
    [error] = caught.value.errors
    assert error.file == "walkthroughs/shop/site.yaml"
    assert (error.line, error.field) == (line, field)
    assert message in error.message


def test_strict_identity_needs_a_signing_key() -> None:
    text = GOOD_SITE.split("signing_keys:")[0]
    with pytest.raises(ContentInvalid, match="strict_identity needs at least one signing key"):
        load_model(SiteConfig, text, "site.yaml")
    lenient = load_model(SiteConfig, text + "strict_identity: false\n", "site.yaml")
    assert lenient.signing_keys == []


PROCESS_REJECTIONS = [
    (
        "    effectiveness_threshold: 0.6",
        "    effectiveness_threshold: 1.5",
        6,
        "processes[0].effectiveness_threshold",
        "less than or equal to 1",
    ),
    (
        "    effectiveness_threshold: 0.6",
        "    effectiveness_threshold: -0.1",
        6,
        "processes[0].effectiveness_threshold",
        "greater than or equal to 0",
    ),
    (
        '    goal: { url: "/checkout/done" }',
        "    goal: {}",
        5,
        "processes[0].goal",
        "exactly one of url, element or event",
    ),
    (
        '    goal: { url: "/checkout/done" }',
        '    goal: { url: "/done", event: "paid" }',
        5,
        "processes[0].goal",
        "exactly one",
    ),
    (
        '    goal: { url: "/checkout/done" }',
        '    goal: { event: "Paid Now" }',
        5,
        "processes[0].goal.event",
        "pattern",
    ),
    (
        '    url_patterns: ["/cart", "/checkout/*"]',
        '    url_patterns: ["/cart/(("]',
        4,
        "processes[0].url_patterns",
        "invalid URL pattern",
    ),
    (
        '    url_patterns: ["/cart", "/checkout/*"]',
        "    url_patterns: []",
        4,
        "processes[0].url_patterns",
        "at least 1",
    ),
    (
        '    url_patterns: ["/cart", "/checkout/*"]',
        "    url_patterns: [{pathnme: /x}]",
        4,
        "processes[0].url_patterns",
        "unknown URLPattern component",
    ),
    ("  - id: checkout", "  - id: Check Out", 2, "processes[0].id", "pattern"),
    (
        "    title: Check out",
        "    title: Check out\n    treshold: 3",
        4,
        "processes[0].treshold",
        "unknown field",
    ),
]


@pytest.mark.parametrize(("old", "new", "line", "field", "message"), PROCESS_REJECTIONS)
def test_processes_file_rejections(old: str, new: str, line: int, field: str, message: str) -> None:
    text = GOOD_PROCESSES.replace(old, new)
    assert text != GOOD_PROCESSES
    with pytest.raises(ContentInvalid) as caught:
        load_model(ProcessesFile, text, "walkthroughs/shop/processes.yaml")
    [error] = caught.value.errors
    assert (error.line, error.field) == (line, field)
    assert message in error.message


def test_duplicate_process_ids_are_refused() -> None:
    text = GOOD_PROCESSES + GOOD_PROCESSES.split("processes:\n")[1]
    with pytest.raises(ContentInvalid, match="used twice"):
        load_model(ProcessesFile, text, "processes.yaml")


def test_site_folder_must_match_its_key(tmp_path: Path) -> None:
    folder = tmp_path / "content" / "other"
    folder.mkdir(parents=True)
    (folder / "site.yaml").write_text(GOOD_SITE)
    with pytest.raises(ContentInvalid) as caught:
        load_site(folder)
    [error] = caught.value.errors
    assert (error.file, error.line, error.field) == ("content/other/site.yaml", 1, "key")
    assert "folder name" in error.message


def test_problems_in_both_files_are_reported_together(tmp_path: Path) -> None:
    folder = tmp_path / "content" / "shop"
    folder.mkdir(parents=True)
    (folder / "site.yaml").write_text(GOOD_SITE.replace("name: Shop", "name: ''"))
    (folder / "processes.yaml").write_text(GOOD_PROCESSES.replace("0.6", "7"))
    with pytest.raises(ContentInvalid) as caught:
        load_site(folder)
    assert [(e.file, e.field) for e in caught.value.errors] == [
        ("content/shop/site.yaml", "name"),
        ("content/shop/processes.yaml", "processes[0].effectiveness_threshold"),
    ]


def test_missing_site_file_is_reported(tmp_path: Path) -> None:
    (tmp_path / "shop").mkdir()
    with pytest.raises(ContentInvalid, match=r"shop/site.yaml:1: missing"):
        load_site(tmp_path / "shop")
