"""``make bench``: run the benchmarks, print each figure with its ratio, keep the results.

``python -m bench.run [--quick] [--only codec,store-sqlite,…] [--results FILE]``. Results go to
``bench/results/latest.json`` and a dated copy (a ``--quick`` run: ``quick.json``, or ``FILE``);
a run of some benchmarks (``--only``) keeps the other benchmarks' last results there. Each result
carries when it was measured and the machine's load average before and after its benchmark: the
figures of a busy machine mean less.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import client, cluster, codec, help_answer, help_browser, memory, relay, store
from bench.harness import Result, run_fast
from bench.servers import POSTGRES, drop_schema

RESULTS = Path(__file__).with_name("results")
EVERY = (
    "codec", "store-sqlite", "store-postgres", "client", "memory", "relay", "help", "help-browser",
    "cluster",
)  # fmt: skip


def benchmarks(quick: bool) -> dict[str, Callable[[], list[Result]]]:
    """Each benchmark by name: what runs it (briefly when ``quick``)."""
    return {
        "codec": lambda: [codec.run(seconds=0.05 if quick else 0.3)],
        "store-sqlite": lambda: [asyncio.run(store.run(events=200 if quick else 2000))],
        "store-postgres": lambda: [_postgres(200 if quick else 2000)],
        "client": client.run,
        "memory": lambda: asyncio.run(memory.run(connections=200 if quick else 4000)),
        "relay": lambda: run_fast(relay.run(sessions=3 if quick else 200)),
        "help": lambda: run_fast(
            help_answer.run(background=20, asking=2) if quick else help_answer.run()
        ),
        "help-browser": help_browser.run,
        "cluster": cluster.run,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run: each benchmark once, briefly"
    )
    parser.add_argument("--only", default=",".join(EVERY), help="benchmarks, comma-separated")
    parser.add_argument("--results", type=Path, help="where a --quick run's results go")
    args = parser.parse_args()
    if args.quick:
        os.environ["TANDEM_BENCH_QUICK"] = "1"
    wanted = [name for name in EVERY if name in args.only.split(",")]
    unknown = set(args.only.split(",")) - set(EVERY)
    if unknown:
        parser.error(f"unknown: {', '.join(sorted(unknown))} (known: {', '.join(EVERY)})")
    entries: list[dict[str, Any]] = []
    failed = []
    for name, measure in benchmarks(args.quick).items():
        if name not in wanted:
            continue
        before = os.getloadavg()[0]
        try:
            results = measure()
        except Exception as exc:  # the others still run; the run fails at the end
            print(f"{name}: not measured: {exc!r}", file=sys.stderr)
            if name != "store-postgres":  # no PostgreSQL here: said, not a failure
                failed.append(name)
            continue
        for result in results:
            print(result.line(), flush=True)
        at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        load = [before, os.getloadavg()[0]]
        entries += [{"bench": name, "at": at, "load": load, **r.as_dict()} for r in results]
    RESULTS.mkdir(exist_ok=True)
    target = (args.results or RESULTS / "quick.json") if args.quick else RESULTS / "latest.json"
    if not args.quick and target.exists():  # the benchmarks not run keep their last results
        kept = json.loads(target.read_text()).get("results", [])
        others = set(EVERY) - set(wanted)
        entries = [e for e in kept if e.get("bench") in others] + entries
        entries.sort(key=lambda e: EVERY.index(e["bench"]))
    document = {
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "quick": args.quick,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "system": platform.system()},
        "results": entries,
    }  # fmt: skip
    text = json.dumps(document, indent=2) + "\n"
    target.write_text(text)
    if not args.quick:
        (RESULTS / f"{document['at'][:10]}.json").write_text(text)
    return 1 if failed else 0


def _postgres(events: int) -> Result:
    """Stored events/s on PostgreSQL, in a schema of its own (dropped after)."""
    schema = f"bench_{os.getpid()}_{time.time_ns() % 10**8}"
    try:
        return asyncio.run(store.run(f"{POSTGRES}?schema={schema}", events=events))
    finally:
        asyncio.run(drop_schema(schema))


if __name__ == "__main__":
    raise SystemExit(main())
