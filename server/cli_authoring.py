"""The ``tandem`` commands for content authors: ``record`` a walkthrough in Chromium, ``verify``
walkthroughs against a site, ``export`` to Playwright, ``import`` Chrome Recorder recordings."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import click

from server.cli_errors import fail as _fail
from server.settings import Settings


@click.command()
@click.argument("target", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--base-url", required=True, help="the site to verify against, e.g. https://staging.example.com"
)
@click.option("--storage-state", type=click.Path(exists=True, path_type=Path),
              help="a Playwright storage state (cookies) to start signed in")  # fmt: skip
@click.option("--junit", "junit_path", type=click.Path(path_type=Path), help="write JUnit XML here")
@click.option("--threshold", default=0.6, show_default=True, type=click.FloatRange(0, 1),
              help="the similarity a target must reach")  # fmt: skip
@click.option("--timeout-ms", default=8000, show_default=True, type=click.IntRange(0, 120_000),
              help="how long each step's target is waited for")  # fmt: skip
@click.option(
    "--site", help="keep the results for this site's console (with --store or TANDEM_STORE_URL)"
)
@click.option("--store", "store_url", help="store URL [env TANDEM_STORE_URL]")
def verify(
    target: Path, base_url: str, storage_state: Path | None, junit_path: Path | None,
    threshold: float, timeout_ms: int, site: str | None, store_url: str | None,
) -> None:  # fmt: skip
    """Replay walkthroughs (a file, or every one in a folder) in headless Chromium with the
    player's resolver: per step, whether its target resolves, how, and how similar; exit 1 when
    a step fails or resolves only below the threshold."""
    from playwright.async_api import async_playwright

    from recorder.chromium import ChromiumNotFound, find_chromium
    from recorder.verify import (
        RESOLVER_BUNDLE,
        WalkthroughResult,
        junit,
        line,
        verify_one,
        walkthrough_files,
    )

    files = walkthrough_files(target)
    if not RESOLVER_BUNDLE.is_file():
        _fail("the resolver bundle is not built: run `make client`")
        return
    try:
        launch = find_chromium()
    except ChromiumNotFound as exc:
        _fail(str(exc))
        return

    async def run() -> list[WalkthroughResult]:
        results = []
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(**launch.launch_kwargs(headless=True))  # type: ignore[arg-type]
            context = await browser.new_context(
                storage_state=str(storage_state) if storage_state else None
            )
            await context.add_init_script(path=str(RESOLVER_BUNDLE))
            with click.progressbar(files, label="verifying", file=sys.stderr) as bar:
                for path in bar:
                    found = await verify_one(
                        context, path, base_url, threshold=threshold, timeout_ms=timeout_ms
                    )
                    results.append(found)
            await browser.close()
        return results

    results = asyncio.run(run())
    if site:
        asyncio.run(
            _keep_verifications(store_url or Settings.from_env().store_url, site, base_url, results)
        )
    for result in results:
        click.echo("\n".join(line(result)))
    if junit_path is not None:
        junit_path.write_bytes(junit(results))
    failed = [r for r in results if not r.ok]
    click.echo(f"{len(results) - len(failed)} of {len(results)} walkthroughs verified")
    if failed or not results:
        raise SystemExit(1)


async def _keep_verifications(url: str, site: str, base_url: str, results: list[Any]) -> None:
    """What verify found, for the site's console (each walkthrough's page shows the latest)."""
    from dataclasses import asdict

    from server.store import open_store
    from server.store.base import Verification

    async with open_store(url) as store:
        for r in results:
            await store.add_verification(
                Verification(
                    site,
                    r.walkthrough,
                    r.version,
                    int(time.time() * 1000),
                    base_url,
                    r.ok,
                    [{k: v for k, v in asdict(s).items() if k != "seconds"} for s in r.steps],
                )
            )


@click.command()
@click.argument("url")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="the walkthrough file to write, e.g. walkthroughs/acme/add-card.yaml")  # fmt: skip
@click.option("--id", "walkthrough_id", help="the walkthrough's id (default: the file's name)")
@click.option("--process", help="its process (default: the page's data-tandem-process marker)")
@click.option("--title", help="its title (default: the first page's title)")
@click.option("--storage-state", type=click.Path(exists=True, path_type=Path),
              help="a Playwright storage state (cookies) to start signed in")  # fmt: skip
@click.option("--script", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="drive the recorder with a Python file's `async def record(page, recorder)`")  # fmt: skip
@click.option("--save-storage-state", type=click.Path(dir_okay=False, path_type=Path),
              help="keep the browser's cookies at the end (for tandem verify --storage-state)")  # fmt: skip
@click.option("--test-id-attribute", default="data-testid", show_default=True,
              help="the attribute the site's test ids are in")  # fmt: skip
@click.option("--headless/--headed", default=None,
              help="default: headed for a person, headless with --script")  # fmt: skip
def record(
    url: str, out: Path, walkthrough_id: str | None, process: str | None, title: str | None,
    storage_state: Path | None, script: Path | None, save_storage_state: Path | None,
    test_id_attribute: str, headless: bool | None,
) -> None:  # fmt: skip
    """Record a walkthrough: Chromium opens URL; do the task once, writing a sentence for each
    step in the recorder's toolbar, and press Finish (or close the window)."""
    import importlib.util
    import re

    from recorder.addresses import slug
    from recorder.capture import Recorder, RecorderError
    from recorder.chromium import ChromiumNotFound

    if headless is None:
        headless = script is not None
    if not headless and not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        _fail(
            "no display: recording by hand needs a screen for Chromium (set DISPLAY, or run "
            "under xvfb-run), or drive the recorder with --script"
        )
        return
    ident = walkthrough_id or slug(out.stem, 63)
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,62}", ident):
        _fail(f"--id {ident!r}: use lower-case letters, digits and dashes (at most 63)")
        return
    kept: list[Recorder] = []
    notes: list[str] = []

    async def run() -> None:
        async with Recorder.launch(
            url, walkthrough_id=ident, process=process, title=title, headless=headless,
            storage_state=storage_state, test_id_attribute=test_id_attribute,
        ) as recorder:  # fmt: skip
            kept.append(recorder)
            if script is not None:
                spec = importlib.util.spec_from_file_location("tandem_record_script", script)
                assert spec is not None and spec.loader is not None
                module = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(module)
                await module.record(recorder.page, recorder)
            else:
                click.echo("Recording: do the task in the browser, then press Finish.")
                await recorder.finished.wait()
            await recorder.finish()
            recorder.save(out)
            if save_storage_state is not None:
                try:
                    await recorder.save_storage_state(save_storage_state)
                except RecorderError as exc:
                    notes.append(str(exc))

    try:
        asyncio.run(run())
    except (RecorderError, ChromiumNotFound) as exc:
        if kept and kept[0].composer.drafts:
            draft = kept[0].save_draft(out)
            _fail(f"{exc}\nWhat was recorded is in {draft}: fix it, then rename it.")
        _fail(str(exc))
        return
    recorder = kept[0]
    for note in [*recorder.composer.skipped, *notes]:
        click.echo(f"note: {note}", err=True)
    steps = len(recorder.content["steps"]) if recorder.content else 0
    click.echo(f"wrote {out}: {steps} steps. Check it with: tandem verify {out} --base-url URL")


@click.group()
def export() -> None:
    """Walkthroughs in other tools' formats."""


@export.command("playwright")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), help="write here (default: print)"
)
def export_playwright(file: Path, out: Path | None) -> None:
    """Write a walkthrough as a runnable Playwright (Python) test."""
    from recorder.export import playwright_test
    from recorder.verify import load
    from server.knowledge.sources import ContentInvalid

    try:
        source = playwright_test(load(file))
    except (ContentInvalid, ValueError) as exc:
        _fail(str(exc))
        return
    if out is None:
        click.echo(source, nl=False)
    else:
        out.write_text(source)


@click.group("import")
def import_() -> None:
    """Walkthroughs from other tools' recordings."""


@import_.command("chrome")
@click.argument("recording", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--id", "walkthrough_id", required=True, help="the walkthrough's id")
@click.option("--process", required=True, help="the process it belongs to")
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), help="write here (default: print)"
)
def import_chrome(recording: Path, walkthrough_id: str, process: str, out: Path | None) -> None:
    """A Chrome DevTools Recorder recording (JSON) as a walkthrough: its selectors become each
    step's candidates; typed values are never written."""
    from recorder.chrome_import import to_yaml, walkthrough
    from server.knowledge.sources import ContentInvalid, parse_yaml, validate
    from server.knowledge.walkthrough import WalkthroughFile

    try:
        data = json.loads(recording.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        _fail(f"{recording}: not a recording: {exc}")
        return
    text = to_yaml(walkthrough(data, walkthrough_id=walkthrough_id, process=process))
    try:
        validate(WalkthroughFile, parse_yaml(text, str(out or recording)))
    except ContentInvalid as exc:
        _fail(f"the recording does not make a valid walkthrough:\n{exc}")
        return
    if out is None:
        click.echo(text, nl=False)
    else:
        out.write_text(text)
