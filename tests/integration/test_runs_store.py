"""Walkthrough runs in the store (both backends): saved, read back pinned to their version."""

from __future__ import annotations

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
