"""``make bench`` runs: a smoke run of every benchmark (seconds), each printing its figure and
its ratio against its baseline. The figures themselves are measured by ``make bench``."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO


def test_every_benchmark_runs_and_prints_its_figure_and_ratio(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.run", "--quick", "--only", "codec,store-sqlite"],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    figure = re.compile(
        r"^\S.*\s[\d,]+\.\d \S+\s+\d+\.\d\d× .+ \(min \d+\.\d\d, max \d+\.\d\d; (higher|lower) is better\)"
    )
    assert [bool(figure.match(line)) for line in lines] == [True, True], done.stdout
    assert lines[0].startswith("codec") and lines[1].startswith("stored events/s (sqlite)")
    latest = json.loads((REPO / "bench" / "results" / "quick.json").read_text())
    assert [r["name"] for r in latest["results"]] == [
        "codec: encode + decode",
        "stored events/s (sqlite)",
    ]
