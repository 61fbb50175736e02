"""``make bench``: run the benchmarks, print each figure with its ratio, keep the results.

``python -m bench.run [--quick] [--only codec,store-sqlite,store-postgres]``. Results go to
``bench/results/latest.json`` and a dated copy (a ``--quick`` run: ``quick.json``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import time
from pathlib import Path

from bench import codec, store
from bench.harness import Result

RESULTS = Path(__file__).with_name("results")
POSTGRES = os.environ.get("TANDEM_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run: each benchmark once, briefly"
    )
    parser.add_argument("--only", default="codec,store-sqlite,store-postgres")
    args = parser.parse_args()
    if args.quick:
        os.environ["TANDEM_BENCH_QUICK"] = "1"
    wanted = set(args.only.split(","))
    results: list[Result] = []
    if "codec" in wanted:
        results.append(codec.run(seconds=0.05 if args.quick else 0.3))
    if "store-sqlite" in wanted:
        results.append(asyncio.run(store.run(events=200 if args.quick else 2000)))
    if "store-postgres" in wanted:
        schema = f"bench_{os.getpid()}_{time.time_ns() % 10**8}"
        try:
            results.append(
                asyncio.run(
                    store.run(f"{POSTGRES}?schema={schema}", events=200 if args.quick else 2000)
                )
            )
        except Exception as exc:  # no PostgreSQL here: said, not hidden
            print(f"stored events/s (postgresql): not measured: {exc}", file=sys.stderr)
        finally:
            asyncio.run(_drop(schema))
    for result in results:
        print(result.line())
    RESULTS.mkdir(exist_ok=True)
    document = {
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "quick": args.quick,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "system": platform.system()},
        "results": [r.as_dict() for r in results],
    }  # fmt: skip
    text = json.dumps(document, indent=2) + "\n"
    if args.quick:  # a smoke run's figures mean little: kept apart, not committed
        (RESULTS / "quick.json").write_text(text)
    else:
        (RESULTS / "latest.json").write_text(text)
        (RESULTS / f"{document['at'][:10]}.json").write_text(text)
    return 0


async def _drop(schema: str) -> None:
    try:
        import asyncpg

        conn = await asyncpg.connect(POSTGRES)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()
    except Exception:  # nothing to drop when there is no PostgreSQL
        return


if __name__ == "__main__":
    raise SystemExit(main())
