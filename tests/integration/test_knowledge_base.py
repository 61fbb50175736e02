"""The knowledge base on both stores: immutable published versions, pinned runs, the catalog."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from server.content import load_site
from server.knowledge.site import Site
from server.publishing import load_catalog, publish_site
from server.store import Store
from server.store.base import VersionConflict, WalkthroughVersion
from tests.conftest import REPO

pytestmark = [pytest.mark.anyio, pytest.mark.store]


def demo_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "content" / "demo"
    shutil.copytree(REPO / "walkthroughs" / "demo", folder)
    return folder


def edit(folder: Path, old: str, new: str) -> Site:
    path = folder / "invite-teammate.yaml"
    path.write_text(path.read_text().replace(old, new, 1))
    return load_site(folder)


async def test_publishing_twice_stores_one_version(store: Store, tmp_path: Path) -> None:
    site = load_site(demo_copy(tmp_path))
    first = await publish_site(store, site, now_ms=1)
    again = await publish_site(store, site, now_ms=2)
    assert (first.published, first.unchanged) == (["find-invoice@1", "invite-teammate@1"], [])
    assert (again.published, again.unchanged) == ([], ["find-invoice@1", "invite-teammate@1"])
    [published] = [
        p for p in await store.published_walkthroughs("demo") if p.walkthrough == "invite-teammate"
    ]
    assert (
        published.walkthrough,
        published.version,
        published.process,
        published.published_ms,
    ) == ("invite-teammate", 1, "invite-teammate", 1)


async def test_changing_steps_without_a_new_version_is_refused(
    store: Store, tmp_path: Path
) -> None:
    folder = demo_copy(tmp_path)
    await publish_site(store, load_site(folder), now_ms=1)
    changed = edit(folder, "Type your teammate's **full name**.", "Type their name.")
    report = await publish_site(store, changed, now_ms=2)
    assert report.published == []
    assert len(report.conflicts) == 1 and "raise its version" in report.conflicts[0]
    stored = await store.walkthrough_version("demo", "invite-teammate", 1)
    assert (
        stored is not None
        and stored.body["steps"][1]["text"] == "Type your teammate's **full name**."
    )


async def test_a_new_version_is_published_and_the_old_one_stays_for_pinned_runs(
    store: Store, tmp_path: Path
) -> None:
    folder = demo_copy(tmp_path)
    await publish_site(store, load_site(folder), now_ms=1)
    v2 = edit(folder, "version: 1", "version: 2")
    v2 = edit(folder, "Type your teammate's **full name**.", "Type their name.")
    report = await publish_site(store, v2, now_ms=2)
    assert report.published == ["invite-teammate@2"]
    [current] = [
        p for p in await store.published_walkthroughs("demo") if p.walkthrough == "invite-teammate"
    ]
    assert current.version == 2
    old = await store.walkthrough_version("demo", "invite-teammate", 1)
    assert old is not None and old.body["steps"][1]["text"] == "Type your teammate's **full name**."
    assert await store.walkthrough_version("demo", "invite-teammate", 3) is None


async def test_the_store_refuses_a_conflicting_version_directly(store: Store) -> None:
    version = WalkthroughVersion("demo", "w", 1, "p", "digest-a", {"id": "w"}, 1)
    assert await store.publish_walkthrough(version) is True
    with pytest.raises(VersionConflict):
        await store.publish_walkthrough(
            WalkthroughVersion("demo", "w", 1, "p", "digest-b", {"id": "w"}, 2)
        )


async def test_an_author_publishes_rolls_back_and_unpublishes_and_a_reload_keeps_it(
    store: Store,
) -> None:
    v1 = WalkthroughVersion("demo", "w", 1, "p", "digest-1", {"id": "w", "v": 1}, 1)
    v2 = WalkthroughVersion("demo", "w", 2, "p", "digest-2", {"id": "w", "v": 2}, 2)
    assert await store.publish_walkthrough(v1) and await store.publish_walkthrough(v2)
    assert await store.walkthrough_index("demo") == {"w": 2}  # a new version is published
    assert [v.version for v in await store.walkthrough_versions("demo", "w")] == [1, 2]
    assert await store.set_published("demo", "w", 1, now_ms=3)  # rolled back
    assert not await store.publish_walkthrough(v2)  # the files loaded again: no change
    assert [p.version for p in await store.published_walkthroughs("demo")] == [1]
    assert await store.set_published("demo", "w", None, now_ms=4)  # unpublished
    assert await store.published_walkthroughs("demo") == []
    assert await store.walkthrough_index("demo") == {"w": None}
    assert not await store.set_published("demo", "w", 7, now_ms=5)  # no such version
    assert not await store.set_published("demo", "nope", 1, now_ms=5)
    v3 = WalkthroughVersion("demo", "w", 3, "p", "digest-3", {"id": "w", "v": 3}, 6)
    assert await store.publish_walkthrough(v3)  # a new version is published again
    assert await store.walkthrough_index("demo") == {"w": 3}


async def test_the_catalog_indexes_by_process_and_location(store: Store) -> None:
    site = load_site(REPO / "walkthroughs" / "demo")
    await publish_site(store, site, now_ms=1)
    catalog = await load_catalog(store, site)
    assert [p.walkthrough.id for p in catalog.for_process("invite-teammate")] == ["invite-teammate"]
    assert [
        p.walkthrough.id for p in catalog.for_location("http://127.0.0.1:8001/team/invite")
    ] == ["invite-teammate"]
    assert catalog.for_location("http://127.0.0.1:8001/reports") == []
    assert catalog.for_location("http://127.0.0.1:8001/settings") == []


def test_tandem_load_publishes_and_refuses_a_silent_change(tmp_path: Path) -> None:
    folder = demo_copy(tmp_path)
    tandem = str(Path(sys.executable).parent / "tandem")
    env = {**os.environ, "TANDEM_STORE_URL": f"sqlite:///{tmp_path / 'kb.db'}"}

    def load() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [tandem, "load", str(folder.parent)],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )

    first = load()
    assert first.returncode == 0 and "+ invite-teammate@1" in first.stdout
    edit(folder, "Type your teammate's **full name**.", "Type their name.")
    second = load()
    assert second.returncode == 1
    assert "version 1 is already published with other steps" in second.stderr


def test_serve_refuses_to_start_on_a_silently_changed_walkthrough(tmp_path: Path) -> None:
    folder = demo_copy(tmp_path)
    tandem = str(Path(sys.executable).parent / "tandem")
    env = {**os.environ, "TANDEM_STORE_URL": f"sqlite:///{tmp_path / 'kb.db'}"}
    assert (
        subprocess.run(
            [tandem, "load", str(folder.parent)], env=env, capture_output=True, timeout=60
        ).returncode
        == 0
    )
    edit(folder, "Type your teammate's **full name**.", "Type their name.")
    result = subprocess.run(
        [tandem, "serve", "--port", "1", "--content", str(folder.parent)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 2
    assert "walkthroughs changed without a new version" in result.stderr
