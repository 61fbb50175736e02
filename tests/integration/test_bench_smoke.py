"""``make bench`` runs: a smoke run of every benchmark (seconds each), each printing its figure and
its ratio against its baseline. The figures themselves are measured by ``make bench``; nothing
here asserts a timing."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

FIGURE = re.compile(
    r"^\S.*\s-?[\d,]+\.\d \S+\s+-?\d+\.\d\d× .+ \(min -?\d+\.\d\d, max -?\d+\.\d\d; (higher|lower) is better\)"
)


def quick_run(only: str, results: Path, timeout: float = 180) -> tuple[list[str], list[str]]:
    """``python -m bench.run --quick --only ONLY``: its lines, and the names it kept."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.run", "--quick", "--only", only, "--results", str(results)],
        cwd=REPO, capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines and all(FIGURE.match(line) for line in lines), done.stdout + done.stderr
    kept = json.loads(results.read_text())
    return lines, [r["name"] for r in kept["results"]]


def test_codec_and_store_run_and_print_their_figure_and_ratio(tmp_path: Path) -> None:
    lines, names = quick_run("codec,store-sqlite", tmp_path / "quick.json", timeout=120)
    assert names == ["codec: encode + decode", "stored events/s (sqlite)"]
    assert lines[0].startswith("codec") and lines[1].startswith("stored events/s (sqlite)")


@pytest.mark.browser
def test_the_client_benchmark_measures_size_start_up_and_snapshot(tmp_path: Path) -> None:
    _, names = quick_run("client", tmp_path / "quick.json")
    assert names == [
        "client: tandem.js gzipped",
        "client: with co-browse recorder gz",
        "client start-up: longest task",
        "client start-up: tandem.js's share",
        "mirror snapshot: longest task",
    ]


def test_the_memory_benchmark_compares_idle_connections_with_two_bare_servers(
    tmp_path: Path,
) -> None:
    lines, names = quick_run("memory", tmp_path / "quick.json")
    assert names == ["idle memory per connection"] * 2
    assert "uvicorn + Starlette echo" in lines[0] and "websockets echo" in lines[1]


def test_the_relay_benchmark_ramps_cobrowse_sessions_against_two_bare_relays(
    tmp_path: Path,
) -> None:
    lines, names = quick_run("relay", tmp_path / "quick.json")
    assert (
        names == ["relay: deliveries/s at p99 ≤ 30 ms"] * 2 + ["relay: server CPU per delivery"] * 2
    )
    assert "uvicorn + Starlette relay" in lines[0] and "websockets broadcast()" in lines[1]


def test_the_help_benchmark_times_decisions_against_the_launcher_under_load(
    tmp_path: Path,
) -> None:
    lines, names = quick_run("help", tmp_path / "quick.json")
    assert names == ["help → answer: decision p50", "help → answer: decision p99"]
    assert all("launcher → offers" in line for line in lines)


@pytest.mark.browser
def test_the_browser_help_benchmark_times_help_to_a_drawn_step_against_the_launcher(
    tmp_path: Path,
) -> None:
    lines, names = quick_run("help-browser", tmp_path / "quick.json")
    assert names == ["help → first step drawn: p50", "help → first step drawn: p99"]
    assert all("launcher → first step drawn" in line for line in lines)


def test_the_cluster_benchmark_measures_cross_node_latency_and_recovery_after_kill(
    tmp_path: Path,
) -> None:
    """Two nodes on the Redis and PostgreSQL every machine runs (a schema and prefix of its own)."""
    lines, names = quick_run("cluster", tmp_path / "quick.json")
    assert names == [
        "two nodes: added cross-node p99",
        "two nodes: caught up ≤ 2 s after kill -9",
        "two nodes: catch-up p99 after kill -9",
        "two nodes: acknowledged lost",
    ]
    assert "same-node p99" in lines[0]
