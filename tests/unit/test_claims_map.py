"""docs/claims.md names, for every claim, a test that exists."""

from __future__ import annotations

import re

from tests.conftest import REPO

SEED_CLAIMS = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15", "16",
               "18", "19", "10 (second)", "20", "21", "22", "24"]  # fmt: skip


def _rows() -> dict[str, str]:
    doc = (REPO / "docs" / "claims.md").read_text()
    rows = {}
    for line in doc.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[0] not in ("claim", "---"):
            rows[cells[0]] = cells[3]
    return rows


def test_every_claim_is_listed() -> None:
    assert list(_rows()) == SEED_CLAIMS


def test_every_named_test_exists() -> None:
    for claim, cell in _rows().items():
        for path, name in re.findall(r"`(tests/[\w/]+\.py)::(\w+)`", cell):
            source = (REPO / path).read_text()
            assert re.search(rf"^(async )?def {name}\(", source, re.M), (
                f"claim {claim}: {path}::{name} does not exist"
            )
