"""``tandem doctor``: check what a deployment needs and say, for each thing, what is wrong.

Each check returns findings; nothing is changed except what opening the store
always does (it applies pending migrations, as ``tandem serve`` would). The
order is the order a server needs things in: settings, content and signing
keys, the browser client, the store, the broker, SMTP and the channels sites
use.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from server.settings import Settings, SettingsError

Level = Literal["ok", "warn", "fail"]

#: The files `make client` builds that the server serves.
CLIENT_FILES = {
    "tandem.js": "the browser client",
    "tandem-cobrowse.js": "the co-browse consent questions and banner",
    "tandem-mirror.js": "the co-browse recorder",
    "console-live.js": "the console's live view",
    "console-charts.js": "the console's charts",
}


@dataclass(frozen=True)
class Finding:
    level: Level
    what: str
    detail: str


def _redacted(url: str) -> str:
    """A store or broker URL without its credentials (user and password, ``password=``)."""
    scheme, _, rest = url.partition("://")
    shown = f"{scheme}://{rest.rsplit('@', 1)[-1]}" if rest else url
    return re.sub(r"(?i)([?&](?:password|pass|pwd)=)[^&]*", r"\1…", shown)


def _told(exc: BaseException, url: str) -> str:
    """An error's text without the URL's credentials, should it quote the URL."""
    return str(exc).replace(url, _redacted(url))


async def diagnose(
    env: Mapping[str, str] | None = None, *, timeout_s: float = 5.0
) -> list[Finding]:
    env = os.environ if env is None else env
    try:
        settings = Settings.from_env(env)
    except SettingsError as exc:
        return [Finding("fail", "settings", str(exc))]
    findings = [Finding("ok", "settings", f"listening on {settings.host}:{settings.port}")]
    if not settings.secret:
        findings.append(
            Finding("warn", "settings", "TANDEM_SECRET is not set: the server keeps its own in the "
                    "store (fine for one node; several nodes sharing a store share it too)")
        )  # fmt: skip
    findings += _content(settings, env)
    findings += _client(settings)
    checks = [_store(settings), _broker(settings), _smtp(settings)]
    for found in await asyncio.gather(
        *(asyncio.wait_for(c, timeout_s) for c in checks), return_exceptions=True
    ):
        if isinstance(found, BaseException):
            what = "timed out" if isinstance(found, TimeoutError) else f"failed: {found}"
            findings.append(Finding("fail", "check", what))
        else:
            findings += found
    return findings


def _content(settings: Settings, env: Mapping[str, str]) -> list[Finding]:
    from server.content import load_sites
    from server.knowledge.sources import ContentInvalid
    from server.visitors import SigningKeyMissing, load_site_keys

    try:
        sites = load_sites(settings.content_dir)
    except ContentInvalid as exc:
        return [Finding("fail", "content", f"{settings.content_dir} is invalid:\n{exc}")]
    except OSError as exc:
        return [Finding("fail", "content", f"cannot read {settings.content_dir}: {exc}")]
    found = [
        Finding(
            "ok",
            "content",
            f"{len(sites)} site(s) in {settings.content_dir}: {', '.join(sorted(sites))}",
        )
    ]
    try:
        load_site_keys(sites, env)
    except SigningKeyMissing as exc:
        found.append(Finding("fail", "signing keys", str(exc)))
    else:
        for site in sites.values():
            for key in site.config.signing_keys:
                if not env.get(key.secret_env):  # a site that lets anonymous visitors in: it starts
                    found.append(
                        Finding("warn", f"site {site.key}", f"{key.secret_env} is not set: visitors "
                                f"identified with key {key.kid} will be refused")
                    )  # fmt: skip
    for site in sites.values():
        channels = site.config.channels
        if channels.email is not None and not settings.smtp_host:
            found.append(
                Finding(
                    "fail",
                    f"site {site.key}",
                    "has an email channel but TANDEM_SMTP_HOST is not set",
                )
            )
        if channels.webhook is not None and not env.get(channels.webhook.secret_env):
            found.append(
                Finding(
                    "fail",
                    f"site {site.key}",
                    f"its webhook needs {channels.webhook.secret_env} set",
                )
            )
    return found


def _client(settings: Settings) -> list[Finding]:
    missing = [f"{name} ({what})" for name, what in CLIENT_FILES.items()
               if not (settings.client_dist / name).is_file()]  # fmt: skip
    if missing:
        return [
            Finding(
                "fail",
                "client",
                f"not built in {settings.client_dist}: {', '.join(missing)}; run `make client`",
            )
        ]
    return [Finding("ok", "client", f"built in {settings.client_dist}")]


async def _store(settings: Settings) -> list[Finding]:
    from server.store import StoreError, open_store

    where = _redacted(settings.store_url)
    try:
        async with open_store(settings.store_url) as store:
            started = time.perf_counter()
            await store.ping()
            ms = (time.perf_counter() - started) * 1000
            version = await store.schema_version()
    except (StoreError, OSError) as exc:
        return [Finding("fail", "store", f"{where}: {_told(exc, settings.store_url)}")]
    return [Finding("ok", "store", f"{where} (schema {version}, ping {ms:.1f} ms)")]


async def _broker(settings: Settings) -> list[Finding]:
    from server.broker import BrokerError, open_broker

    where = _redacted(settings.broker_url)
    try:
        async with open_broker(settings.broker_url) as broker:
            started = time.perf_counter()
            key = f"doctor:{os.getpid()}:{time.time_ns()}"
            written = await broker.compare_and_set(key, b"ok", expected_version=0, ttl_ms=10_000)
            await broker.delete(key)
            ms = (time.perf_counter() - started) * 1000
    except (BrokerError, OSError) as exc:
        return [Finding("fail", "broker", f"{where}: {_told(exc, settings.broker_url)}")]
    if written is None:
        return [Finding("fail", "broker", f"{where}: a write was refused")]
    return [Finding("ok", "broker", f"{where} (write and delete {ms:.1f} ms)")]


async def _smtp(settings: Settings) -> list[Finding]:
    if not settings.smtp_host:
        return [Finding("ok", "smtp", "not configured (no site can use an email channel)")]
    import aiosmtplib

    where = f"{settings.smtp_host}:{settings.smtp_port} ({settings.smtp_tls})"
    client = aiosmtplib.SMTP(
        hostname=settings.smtp_host, port=settings.smtp_port, use_tls=settings.smtp_tls == "tls",
        start_tls=settings.smtp_tls == "starttls", timeout=5,
    )  # fmt: skip
    try:
        await client.connect()
        if settings.smtp_user:
            await client.login(settings.smtp_user, settings.smtp_password or "")
        await client.quit()
    except (aiosmtplib.SMTPException, OSError) as exc:
        return [Finding("fail", "smtp", f"{where}: {exc}")]
    login = f", signed in as {settings.smtp_user}" if settings.smtp_user else ""
    return [Finding("ok", "smtp", f"{where}{login}")]


def report(findings: list[Finding]) -> tuple[str, bool]:
    """The text to print, and whether everything needed is there (no ``fail``)."""
    width = max((len(f.what) for f in findings), default=0)
    lines = []
    for f in findings:
        first, *rest = f.detail.splitlines() or [""]
        lines.append(f"{f.level.upper():<5} {f.what:<{width}}  {first}")
        lines += [f"{'':<5} {'':<{width}}  {line}" for line in rest]
    return "\n".join(lines), all(f.level != "fail" for f in findings)
