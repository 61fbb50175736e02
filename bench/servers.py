"""Servers under test, each in a subprocess of its own: a real ``tandem serve`` (embedded SQLite
store, in-process broker, the demo content) and the bare baselines of ``bench.bare``.

The benchmark process is the load generator; it reads the server's resident memory and CPU time
from ``/proc`` and, when the machine has two CPUs or more, pins the server to a CPU of its own
and itself to another, so neither steals the other's core.
"""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
#: The demo site's token-signing secret in the benchmark's server (never a real one).
SIGNING_KEY = "bench-demo-signing-key-not-for-production"
#: The demo site's allowed origin: where its visitors' pages come from.
DEMO_ORIGIN = "http://127.0.0.1:8001"
#: The PostgreSQL and the Redis of the store and broker benchmarks (a schema and a key prefix each).
POSTGRES = os.environ.get("TANDEM_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
REDIS = os.environ.get("TANDEM_BENCH_REDIS", "redis://127.0.0.1:6379/0")
#: File descriptors the benchmark and its servers may open (thousands of sockets each).
WANTED_FILES = 16_384


def raise_file_limit(wanted: int = WANTED_FILES) -> int:
    """Raise this process's soft RLIMIT_NOFILE towards ``wanted`` (up to the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft == resource.RLIM_INFINITY or soft >= target:
        return int(soft)
    resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return target


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _allowed() -> list[int]:
    try:
        return sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return []


#: The CPUs this process may use, read before it pins itself (its servers inherit its affinity).
ALLOWED_CPUS = _allowed()


def cpus() -> tuple[int, int] | None:
    """(the generator's CPU, the server's CPU), or None when there are not two to share."""
    return (ALLOWED_CPUS[0], ALLOWED_CPUS[1]) if len(ALLOWED_CPUS) >= 2 else None


def pin(pid: int, cpu: int) -> bool:
    """Pin process ``pid`` (0: this one) to ``cpu``; False where that is not possible."""
    try:
        os.sched_setaffinity(pid, {cpu})
    except (AttributeError, OSError):
        return False
    return True


@contextlib.contextmanager
def pinned_generator() -> Iterator[str]:
    """Pin this process (the load generator) to one CPU for the block; says what was done."""
    pair = cpus()
    before = _allowed()
    if pair is None or not pin(0, pair[0]):
        yield "not pinned (fewer than 2 CPUs)"
        return
    try:
        yield f"generator on CPU {pair[0]}, server on CPU {pair[1]}"
    finally:
        os.sched_setaffinity(0, before)


@dataclass
class Served:
    """A server running in a subprocess."""

    name: str
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def rss_bytes(self) -> int:
        """The server's resident set size, from ``/proc/PID/status`` (VmRSS)."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError(f"no VmRSS for {self.name}")

    def cpu_s(self) -> float:
        """CPU time the server has used so far, all its threads: ``/proc/PID/task/*/schedstat``
        (nanoseconds), else ``/proc/PID/stat`` (clock ticks)."""
        try:
            return (
                sum(
                    int(task.joinpath("schedstat").read_text().split()[0])
                    for task in Path(f"/proc/{self.process.pid}/task").iterdir()
                )
                / 1e9
            )
        except (OSError, ValueError, IndexError):  # a thread that ended meanwhile, or no schedstat
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def logs(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""


def _wait_listening(served: Served, within_s: float = 60) -> None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if served.process.poll() is not None:
            raise RuntimeError(
                f"{served.name} exited with {served.process.returncode}:\n{served.logs()}"
            )
        try:
            with socket.create_connection(("127.0.0.1", served.port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{served.name} did not listen within {within_s:.0f} s:\n{served.logs()}")


@contextlib.contextmanager
def run_server(name: str, command: list[str], env: dict[str, str], port: int) -> Iterator[Served]:
    """Start ``command`` (which listens on ``port``), pinned to the server's CPU; stop it after."""
    with tempfile.TemporaryDirectory(prefix="tandem-bench-") as scratch:
        log = Path(scratch) / f"{name}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                command, cwd=REPO, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT,
                preexec_fn=raise_file_limit,
            )  # fmt: skip
        served = Served(name, process, port, log)
        try:
            pair = cpus()
            if pair is not None:
                pin(process.pid, pair[1])
            _wait_listening(served)
            yield served
        finally:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


@contextlib.contextmanager
def tandem_server(
    scratch: Path | None = None, *, origins: tuple[str, ...] = ()
) -> Iterator[Served]:
    """``tandem serve``: SQLite store in a fresh folder, in-process broker, the demo content.

    ``scratch`` (optional) is where the store goes, for a caller that fills it first;
    ``origins``: pages the demo site also accepts visitors from (a copy of the content then)."""
    with contextlib.ExitStack() as stack:
        folder = scratch or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        content = REPO / "walkthroughs"
        if origins:
            content = demo_content_with_origins(folder / "content", origins)
        port = free_port()
        command = [
            sys.executable, "-c", "from server.cli import main; main()", "serve",
            "--port", str(port), "--store", store_url(folder), "--content", str(content),
            "--log-level", "warning",
        ]  # fmt: skip
        env = {"TANDEM_DEMO_SIGNING_KEY": SIGNING_KEY, "TANDEM_BROKER_URL": "memory://"}
        yield stack.enter_context(run_server("tandem", command, env, port))


def demo_content_with_origins(target: Path, origins: tuple[str, ...]) -> Path:
    """A copy of the demo content whose site also allows ``origins`` (the benchmark's pages)."""
    shutil.copytree(REPO / "walkthroughs", target)
    site_file = target / "demo" / "site.yaml"
    site = yaml.safe_load(site_file.read_text())
    site["allowed_origins"] = [*site.get("allowed_origins", []), *origins]
    site_file.write_text(yaml.safe_dump(site, sort_keys=False))
    return target


def store_url(folder: Path) -> str:
    """The SQLite store in ``folder``."""
    return f"sqlite:///{folder / 'tandem.db'}"


@contextlib.contextmanager
def bare_server(kind: str, role: str) -> Iterator[Served]:
    """A baseline of ``bench.bare``: ``kind`` starlette or websockets, ``role`` echo or relay."""
    port = free_port()
    command = [sys.executable, "-m", "bench.bare", kind, role, str(port)]
    with run_server(f"{kind}-{role}", command, {}, port) as served:
        yield served


async def drop_schema(schema: str) -> None:
    """Drop a benchmark's PostgreSQL schema (nothing to drop without PostgreSQL)."""
    try:
        import asyncpg

        conn = await asyncpg.connect(POSTGRES)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()
    except Exception:  # no PostgreSQL here: nothing was made
        return


async def purge_prefix(prefix: str) -> None:
    """Delete a benchmark's Redis keys (all under ``prefix``)."""
    import redis.asyncio as aioredis

    async with aioredis.Redis.from_url(REDIS) as client:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*", count=1000)]
        for i in range(0, len(keys), 500):
            await client.delete(*keys[i : i + 500])
