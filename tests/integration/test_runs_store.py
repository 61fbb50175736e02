"""Walkthrough runs in the store (both backends): saved, read back pinned to their version."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from server.store import Store
from server.store.base import EventRecord, WalkthroughVersion
from server.support.run import RunStatus, StepEvent, advance, start_run

pytestmark = [pytest.mark.anyio, pytest.mark.store]


def version(v: int, steps: list[str]) -> WalkthroughVersion:
    body = {"id": "invite", "version": v, "steps": [{"id": s} for s in steps]}
    return WalkthroughVersion("demo", "invite", v, "invite-teammate", f"digest-{v}", body, v)


async def test_a_run_is_saved_and_stays_pinned_to_its_version(store: Store) -> None:
    await store.publish_walkthrough(version(1, ["open", "name", "send"]))
    run = start_run("run-1", "invite", 1, ["open", "name", "send"], now_ms=10)
    await store.save_run("demo", "u-ada", "tab-a", run)
    run = advance(run, "open", StepEvent.COMPLETED, now_ms=20).run
    await store.save_run("demo", "u-ada", "tab-b", run)  # continued in another tab
    await store.publish_walkthrough(version(2, ["open", "email", "name", "send"]))
    stored = await store.get_run("demo", "run-1")
    assert stored is not None
    assert (stored.tab, stored.run.step, stored.run.version, stored.run.status) == (
        "tab-b",
        "name",
        1,
        RunStatus.ACTIVE,
    )
    assert stored.run.steps == ("open", "name", "send")  # version 1's steps, not version 2's
    assert stored.run.completed_steps == ("open",)
    assert await store.get_run("demo", "nope") is None
    assert await store.get_run("shop", "run-1") is None


async def test_latest_runs_newest_first(store: Store) -> None:
    await store.publish_walkthrough(version(1, ["a"]))
    for i in range(3):
        await store.save_run(
            "demo", "u-ada", "t", start_run(f"run-{i}", "invite", 1, ["a"], now_ms=i)
        )
    await store.save_run("demo", "u-grace", "t", start_run("other", "invite", 1, ["a"], now_ms=99))
    assert [s.run.id for s in await store.latest_runs("demo", "u-ada")] == [
        "run-2",
        "run-1",
        "run-0",
    ]


async def test_step_events_of_one_version_of_a_walkthrough(store: Store) -> None:
    def step(cseq: int, walkthrough: str, version: int, event: str) -> EventRecord:
        payload = {"walkthrough": walkthrough, "version": version, "run": f"r{version}"}
        return EventRecord(
            "demo", "u", "t", cseq, "step", cseq, cseq, {**payload, "step": "a", "event": event}
        )

    await store.write_events(
        [
            step(1, "invite", 1, "shown"),
            step(2, "other", 1, "shown"),
            EventRecord("demo", "u", "t", 3, "location", 3, 3, {"walkthrough": "invite"}),
            step(4, "invite", 2, "shown"),
            step(5, "invite", 1, "completed"),
            step(6, "invite", 2, "skipped"),
        ]
    )
    v1 = await store.step_events("demo", "invite", 1)
    assert [(e.cseq, e.payload["event"]) for e in v1] == [(1, "shown"), (5, "completed")]
    v2 = await store.step_events("demo", "invite", 2)
    assert [(e.cseq, e.payload["event"]) for e in v2] == [(4, "shown"), (6, "skipped")]
    assert await store.step_events("demo", "invite", 3) == []


async def test_a_run_is_updated_only_at_the_revision_it_was_read(store: Store) -> None:
    await store.publish_walkthrough(version(1, ["open", "name", "send"]))
    run = start_run("run-1", "invite", 1, ["open", "name", "send"], now_ms=10)
    await store.save_run("demo", "u-ada", "tab-a", run)
    read = await store.get_run("demo", "run-1")
    assert read is not None
    moved = advance(read.run, "open", StepEvent.COMPLETED, now_ms=20).run
    assert await store.update_run("demo", "tab-b", moved, revision=read.revision)
    # A second writer that read the same revision is refused: it must read again.
    stale = advance(read.run, "name", StepEvent.SHOWN, now_ms=21).run
    assert not await store.update_run("demo", "tab-a", stale, revision=read.revision)
    again = await store.get_run("demo", "run-1")
    assert again is not None and again.revision > read.revision
    assert (again.tab, again.run.step, again.run.completed_steps) == ("tab-b", "name", ("open",))
    # save_run (a start, a forced write) raises the revision too.
    await store.save_run("demo", "u-ada", "tab-a", again.run)
    after_save = await store.get_run("demo", "run-1")
    assert after_save is not None and after_save.revision > again.revision
    assert not await store.update_run("demo", "tab-a", again.run, revision=again.revision)
    assert not await store.update_run("shop", "tab-a", again.run, revision=after_save.revision)


class _Interleaved:
    """The real store, with a pause after reading a run or a signal after writing one."""

    def __init__(
        self,
        store: Store,
        *,
        after_first_read: asyncio.Event | None = None,
        after_write: asyncio.Event | None = None,
    ) -> None:
        self._store = store
        self._after_first_read = after_first_read
        self._after_write = after_write

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def get_run(self, site: str, run_id: str) -> Any:
        stored = await self._store.get_run(site, run_id)
        if self._after_first_read is not None:
            waiting, self._after_first_read = self._after_first_read, None
            await waiting.wait()  # the other tab writes meanwhile
        return stored

    async def update_run(self, *args: Any, **kw: Any) -> bool:
        changed = await self._store.update_run(*args, **kw)
        if self._after_write is not None:
            self._after_write.set()
        return changed

    async def save_run(self, *args: Any, **kw: Any) -> None:
        await self._store.save_run(*args, **kw)
        if self._after_write is not None:
            self._after_write.set()


async def test_two_tabs_moving_one_run_at_once_lose_no_update(store: Store) -> None:
    """Tab A completes the first step while tab B, having read the run before, shows the third."""
    from server.protocol.messages import Step
    from server.web.runs import apply_step

    await store.publish_walkthrough(version(1, ["open", "name", "send"]))
    await store.save_run(
        "demo",
        "u-ada",
        "tab-a",
        start_run("run-1", "invite", 1, ["open", "name", "send"], now_ms=1),
    )
    a_wrote = asyncio.Event()

    def tab(name: str, view: _Interleaved) -> Any:
        state = SimpleNamespace(store=view)
        return SimpleNamespace(
            state=state, site=SimpleNamespace(key="demo"), user="u-ada", tab=name
        )

    tab_a = tab("tab-a", _Interleaved(store, after_write=a_wrote))
    tab_b = tab("tab-b", _Interleaved(store, after_first_read=a_wrote))
    completed = Step(cseq=1, at=1, run="run-1", step="open", event="completed")
    shown = Step(cseq=1, at=1, run="run-1", step="send", event="shown")
    b, a = await asyncio.gather(
        apply_step(tab_b, shown, now_ms=20), apply_step(tab_a, completed, now_ms=10)
    )
    assert (a["applied"], b["applied"]) == ("yes", "yes")
    final = await store.get_run("demo", "run-1")
    assert final is not None
    # B's event applied to what A wrote, not to what B had read: A's completion stays.
    assert (final.run.step, final.run.completed_steps, final.tab) == ("send", ("open",), "tab-b")
