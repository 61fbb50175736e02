"""The ``tandem`` command."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path

import click

from server import __version__
from server.cli_authoring import export, import_, record, verify
from server.cli_errors import fail as _fail
from server.knowledge.site import SCHEMAS, json_schema
from server.knowledge.sources import ContentInvalid
from server.settings import Settings, SettingsError, env_names


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="tandem")
def main() -> None:
    """Tandem: automated end-user support — walkthroughs, co-browsing, live agents."""


@main.command()
@click.option("--host", help="interface to listen on [env TANDEM_HOST; default 127.0.0.1]")
@click.option("--port", type=int, help="port to listen on [env TANDEM_PORT; default 8000]")
@click.option(
    "--store",
    "store_url",
    help="store URL: sqlite:///PATH or postgresql://… [env TANDEM_STORE_URL]",
)
@click.option(
    "--content",
    "content_dir",
    type=click.Path(path_type=Path),
    help="content folder [env TANDEM_CONTENT_DIR; default walkthroughs]",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    help="[env TANDEM_LOG_LEVEL]",
)
def serve(
    host: str | None,
    port: int | None,
    store_url: str | None,
    content_dir: Path | None,
    log_level: str | None,
) -> None:
    """Run the Tandem server (HTTP API, WebSockets, tandem.js)."""

    import uvicorn

    from server.logs import configure as configure_logging
    from server.store import StoreError, open_store
    from server.visitors import SigningKeyMissing
    from server.web.app import ClientBundleMissing, ContentConflict, create_app

    async def check_store(url: str) -> None:
        from server.content import load_sites
        from server.publishing import publish_site

        async with open_store(url) as store:  # connects and applies migrations
            for site in load_sites(settings.content_dir).values():
                report = await publish_site(store, site, now_ms=int(time.time() * 1000))
                if report.conflicts:
                    raise ContentConflict("\n".join(report.conflicts))

    try:
        settings = Settings.from_env(
            host=host, port=port, store_url=store_url, content_dir=content_dir, log_level=log_level
        )
        configure_logging(settings.log_level, settings.log_format)
        app = create_app(settings)
        asyncio.run(check_store(settings.store_url))
    except (SettingsError, ClientBundleMissing, SigningKeyMissing) as exc:
        _fail(str(exc))
        return
    except ContentConflict as exc:
        _fail(f"walkthroughs changed without a new version:\n{exc}")
        return
    except StoreError as exc:
        _fail(f"cannot open the store ({settings.store_url.split('@')[-1]}): {exc}")
        return
    except ContentInvalid as exc:
        _fail(f"the content in {content_dir or 'walkthroughs'} is invalid:\n{exc}")
        return
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        log_config=None,  # server.logs routes uvicorn's lines too
        ws="websockets-sansio",
    )


@main.command("demo-site")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8001, show_default=True, type=int)
@click.option(
    "--variant",
    type=click.Choice(["standard", "mutated"]),
    default="standard",
    show_default=True,
    help="mutated: other ids, classes and texts, and moved elements",
)
@click.option(
    "--tandem-url",
    default="http://127.0.0.1:8000",
    show_default=True,
    envvar="TANDEM_PUBLIC_URL",
    help="where the browser loads tandem.js from [env TANDEM_PUBLIC_URL]",
)
def demo_site(host: str, port: int, variant: str, tandem_url: str) -> None:
    """Run "Acme Billing", the demo customer site that embeds Tandem."""
    import uvicorn

    from server.demo_site.app import DemoSettings, create_demo_app

    try:
        signing_key = os.environ.get("TANDEM_DEMO_SIGNING_KEY", "")
        if not signing_key:
            click.echo(
                "warning: TANDEM_DEMO_SIGNING_KEY is not set: visitors stay anonymous", err=True
            )
        app = create_demo_app(
            DemoSettings(variant=variant, tandem_url=tandem_url, signing_key=signing_key)
        )
    except (FileNotFoundError, ValueError) as exc:
        _fail(str(exc))
        return
    uvicorn.run(app, host=host, port=port, log_level="info")


@main.command()
@click.argument("name", type=click.Choice(sorted(SCHEMAS)))
def schema(name: str) -> None:
    """Print the JSON Schema of a content file kind."""
    click.echo(json.dumps(json_schema(name), indent=2))


@main.command()
@click.argument("folder", type=click.Path(path_type=Path), default=Path("walkthroughs"))
def validate(folder: Path) -> None:
    """Check every content file under FOLDER; print each problem as file:line: field: message."""
    from server.content import load_sites

    try:
        sites = load_sites(folder)
    except ContentInvalid as exc:
        for error in exc.errors:
            click.echo(str(error), err=True)
        sys.exit(1)
    for key, site in sites.items():
        click.echo(
            f"{key}: ok ({len(site.processes)} processes, {len(site.walkthroughs)} walkthroughs)"
        )


@main.command()
@click.argument("folder", type=click.Path(path_type=Path), default=Path("walkthroughs"))
@click.option("--store", "store_url", help="store URL [env TANDEM_STORE_URL]")
def load(folder: Path, store_url: str | None) -> None:
    """Publish the walkthroughs under FOLDER into the knowledge base (each version once, never changed)."""

    from server.content import load_sites
    from server.publishing import PublishReport, publish_site
    from server.store import StoreError, open_store

    try:
        sites = load_sites(folder)
    except ContentInvalid as exc:
        for error in exc.errors:
            click.echo(str(error), err=True)
        sys.exit(1)
    url = store_url or Settings.from_env().store_url

    async def publish() -> dict[str, PublishReport]:
        async with open_store(url) as store:
            return {
                key: await publish_site(store, site, now_ms=int(time.time() * 1000))
                for key, site in sites.items()
            }

    try:
        reports = asyncio.run(publish())
    except StoreError as exc:
        _fail(f"cannot open the store: {exc}")
        return
    conflicts = [c for r in reports.values() for c in r.conflicts]
    for key, report in reports.items():
        click.echo(f"{key}: {len(report.published)} published, {len(report.unchanged)} unchanged")
        for name in report.published:
            click.echo(f"  + {name}")
    for conflict in conflicts:
        click.echo(f"error: {conflict}", err=True)
    sys.exit(1 if conflicts else 0)


@main.command("sign-user")
@click.argument("user_id")
@click.option("--site", default="demo", show_default=True, help="the site key")
@click.option("--kid", help="the signing key id [default: the site's first key]")
@click.option(
    "--ttl",
    default=3600,
    show_default=True,
    type=click.IntRange(1, 24 * 3600),
    help="seconds until it expires",
)
@click.option(
    "--trait", "traits", multiple=True, metavar="NAME=VALUE", help="a trait to sign in (repeatable)"
)
@click.option(
    "--content",
    "content_dir",
    type=click.Path(path_type=Path),
    default=Path("walkthroughs"),
    show_default=True,
)
def sign_user(
    user_id: str, site: str, kid: str | None, ttl: int, traits: tuple[str, ...], content_dir: Path
) -> None:
    """Print a visitor token for USER_ID, signed as the site's backend would (for tests and trials)."""

    from server.content import load_site
    from server.identity.tokens import sign_visitor_token

    try:
        config = load_site(content_dir / site).config
    except ContentInvalid as exc:
        _fail(f"cannot read site {site!r}:\n{exc}")
        return
    keys = {k.kid: k for k in config.signing_keys}
    if not keys:
        _fail(f"site {site!r} has no signing_keys in its site.yaml")
    chosen = keys.get(kid) if kid else config.signing_keys[0]
    if chosen is None:
        _fail(f"site {site!r} has no key {kid!r}; it has {', '.join(keys)}")
        return
    secret = os.environ.get(chosen.secret_env)
    if not secret:
        _fail(f"set {chosen.secret_env} to the secret of key {chosen.kid!r}")
        return
    parsed: dict[str, str] = {}
    for trait in traits:
        name, sep, value = trait.partition("=")
        if not sep or not name:
            _fail(f"--trait takes NAME=VALUE, not {trait!r}")
        parsed[name] = value
    token = sign_visitor_token(
        user_id,
        site=site,
        kid=chosen.kid,
        secret=secret,
        now=int(time.time()),
        lifetime_s=ttl,
        traits=parsed,
    )
    click.echo(token)


@main.command()
def doctor() -> None:
    """Check settings, content, the client bundle, store, broker and SMTP; say what is wrong."""
    from server.doctor import diagnose, report

    text, healthy = report(asyncio.run(diagnose()))
    click.echo(text)
    if not healthy:
        raise SystemExit(1)


@main.command("settings")
def show_settings() -> None:
    """List the environment variables the server reads."""
    for name in env_names():
        click.echo(name)


@main.group()
def user() -> None:
    """Accounts of the people who run Tandem: agents, authors and admins."""


@user.command("add")
@click.argument("email")
@click.option("--site", default="demo", show_default=True, help="the site the account is for")
@click.option("--name", required=True, help="the person's name, as the console shows it")
@click.option(
    "--role", type=click.Choice(["admin", "author", "agent"]), default="agent", show_default=True
)
@click.option(
    "--skills", default="", help="comma-separated skills (agents: what they can help with)"
)
@click.option("--capacity", default=3, show_default=True, type=click.IntRange(1, 50),
              help="how many visitors an agent helps at once")  # fmt: skip
@click.option("--password-stdin", is_flag=True, help="read the password from standard input")
@click.option("--store", "store_url", help="store URL [env TANDEM_STORE_URL]")
def user_add(
    email: str, site: str, name: str, role: str, skills: str, capacity: int,
    password_stdin: bool, store_url: str | None,
) -> None:  # fmt: skip
    """Create an account (the first admin included) with a password typed twice, or from stdin."""
    from server.console.passwords import WeakPassword, hash_password
    from server.store import StoreError, open_store
    from server.store.base import AccountExists, AccountRecord

    if "@" not in email or len(email) > 254:
        _fail(f"{email!r} is not an email address")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        hashed = hash_password(password)
    except WeakPassword as exc:
        _fail(str(exc))
        return
    account = AccountRecord(
        site, email.lower(), name, role, hashed,
        tuple(s.strip() for s in skills.split(",") if s.strip()), capacity,
        int(time.time() * 1000),
    )  # fmt: skip
    url = store_url or Settings.from_env().store_url

    async def add() -> None:
        async with open_store(url) as store:
            await store.add_account(account)

    try:
        asyncio.run(add())
    except AccountExists as exc:
        _fail(str(exc))
    except StoreError as exc:
        _fail(f"cannot open the store: {exc}")
    click.echo(f"{role} {account.email} added to {site}")


@main.group()
def visitor() -> None:
    """A visitor's data: export everything held about them, or erase it (both audited)."""


def _visitor_store(store_url: str | None) -> str:
    return store_url or Settings.from_env().store_url


@visitor.command("export")
@click.argument("site")
@click.argument("user_id")
@click.option("--store", "store_url", help="store URL [env TANDEM_STORE_URL]")
def visitor_export(site: str, user_id: str, store_url: str | None) -> None:
    """Print everything held about USER_ID of SITE, as JSON."""
    import json

    from server.store import open_store
    from server.web.privacy import export_visitor

    async def run() -> dict[str, object]:
        async with open_store(_visitor_store(store_url)) as store:
            return await export_visitor(store, site, user_id, actor="cli")

    click.echo(json.dumps(asyncio.run(run()), indent=2, ensure_ascii=False, default=str))


@visitor.command("erase")
@click.argument("site")
@click.argument("user_id")
@click.option("--store", "store_url", help="store URL [env TANDEM_STORE_URL]")
@click.option("--yes", is_flag=True, help="do not ask for confirmation")
def visitor_erase(site: str, user_id: str, store_url: str | None, yes: bool) -> None:
    """Erase USER_ID of SITE: profile, support history, events, runs, transcripts; the audit
    log keeps its entries, naming the visitor by a pseudonym that no longer leads to them."""
    from server.store import open_store
    from server.web.privacy import erase_visitor

    if not yes:
        click.confirm(f"Erase everything held about {user_id} on {site}?", abort=True)

    async def run() -> dict[str, int]:
        async with open_store(_visitor_store(store_url)) as store:
            return await erase_visitor(store, site, user_id, actor="cli")

    deleted = asyncio.run(run())
    click.echo(", ".join(f"{table}: {count}" for table, count in deleted.items()))


@main.command()
@click.option("--store", "store_url", help="store URL [env TANDEM_STORE_URL]")
@click.option("--content", "content_dir", type=click.Path(path_type=Path),
              help="content folder [env TANDEM_CONTENT_DIR]")  # fmt: skip
def retention(store_url: str | None, content_dir: Path | None) -> None:
    """Apply the sites' retention now: delete events older than each site keeps them."""
    from server.content import load_sites
    from server.store import open_store
    from server.web.privacy import apply_retention, now_ms

    settings = Settings.from_env(store_url=store_url, content_dir=content_dir)
    keep = {
        key: site.config.privacy.event_retention_days
        for key, site in load_sites(settings.content_dir).items()
        if site.config.privacy.event_retention_days
    }

    async def run() -> dict[str, int]:
        async with open_store(settings.store_url) as store:
            return await apply_retention(store, keep, now=now_ms())

    deleted = asyncio.run(run()) if keep else {}
    click.echo(
        ", ".join(f"{s}: {n} events deleted" for s, n in deleted.items())
        or "no site sets a retention"
    )


for authoring in (verify, record, export, import_):
    main.add_command(authoring)


if __name__ == "__main__":
    main()
