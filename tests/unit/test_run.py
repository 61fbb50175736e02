"""Walkthrough runs: step events move the run; events that do not fit are refused; funnels count runs."""

from __future__ import annotations

import pytest

from server.support.run import (
    Run,
    RunStatus,
    StepEvent,
    StepRecord,
    abandon,
    advance,
    funnel,
    reopen,
    start_run,
)

STEPS = ("open", "name", "email", "send")


def run() -> Run:
    return start_run("r1", "invite", 1, STEPS, now_ms=0)


def test_a_run_starts_at_its_first_step() -> None:
    r = run()
    assert (r.step, r.status, r.version) == ("open", RunStatus.ACTIVE, 1)
    with pytest.raises(ValueError, match="at least one step"):
        start_run("r", "w", 1, [], now_ms=0)


def test_completing_each_step_completes_the_run() -> None:
    r = run()
    for i, step in enumerate(STEPS):
        applied = advance(r, step, StepEvent.COMPLETED, now_ms=i + 1)
        assert applied.accepted
        r = applied.run
    assert r.status is RunStatus.COMPLETED
    assert r.completed_steps == STEPS and r.updated_ms == 4


def test_skipping_moves_on_without_counting_as_completed() -> None:
    r = advance(run(), "open", StepEvent.SKIPPED, now_ms=1).run
    assert (r.step, r.completed_steps) == ("name", ())


@pytest.mark.parametrize(
    ("step", "event", "reason"),
    [
        ("email", StepEvent.COMPLETED, "not_current_step"),
        ("nope", StepEvent.COMPLETED, "unknown_step"),
    ],
)
def test_events_that_do_not_fit_are_refused_with_a_reason(
    step: str, event: StepEvent, reason: str
) -> None:
    applied = advance(run(), step, event, now_ms=1)
    assert (applied.accepted, applied.reason) == (False, reason)
    assert applied.run == run()


def test_showing_a_step_makes_it_current_after_a_reload_or_branch() -> None:
    assert advance(run(), "email", StepEvent.SHOWN, now_ms=1).run.step == "email"


def test_a_branch_jumps() -> None:
    r = advance(run(), "open", StepEvent.COMPLETED, now_ms=1, goto="send").run
    assert r.step == "send"
    assert (
        advance(run(), "open", StepEvent.COMPLETED, now_ms=1, goto="elsewhere").reason
        == "unknown_branch_target"
    )


def test_reversing_goes_back_one_step_and_failing_stays() -> None:
    r = advance(
        advance(run(), "open", StepEvent.COMPLETED, now_ms=1).run,
        "name",
        StepEvent.REVERSED,
        now_ms=2,
    ).run
    assert r.step == "open"
    assert advance(r, "open", StepEvent.FAILED, now_ms=3).run.step == "open"


def test_an_ended_run_takes_no_more_events() -> None:
    abandoned = abandon(run(), now_ms=5)
    assert abandoned.status is RunStatus.ABANDONED
    assert advance(abandoned, "open", StepEvent.COMPLETED, now_ms=6).reason == "run_abandoned"
    assert abandon(abandoned, now_ms=7) == abandoned


def test_the_player_ending_a_walkthrough_abandons_the_run_at_its_step() -> None:
    r = advance(run(), "open", StepEvent.COMPLETED, now_ms=1).run
    ended = advance(r, "name", StepEvent.ABANDONED, now_ms=2)
    assert ended.accepted
    assert (ended.run.status, ended.run.step, ended.run.updated_ms) == (
        RunStatus.ABANDONED,
        "name",
        2,
    )
    assert advance(ended.run, "name", StepEvent.ABANDONED, now_ms=3).reason == "run_abandoned"
    assert advance(r, "nope", StepEvent.ABANDONED, now_ms=3).reason == "unknown_step"


def test_funnel_counts_each_run_once_per_step_and_event() -> None:
    records = [
        StepRecord("r1", "open", StepEvent.SHOWN, strategy="testid", similarity=1.0),
        StepRecord("r1", "open", StepEvent.SHOWN, strategy="testid", similarity=1.0),  # a reload
        StepRecord("r1", "open", StepEvent.COMPLETED),
        StepRecord("r1", "name", StepEvent.SHOWN, strategy="label", similarity=0.9),
        StepRecord("r2", "open", StepEvent.SHOWN, strategy="fingerprint", similarity=0.7),
        StepRecord("r2", "open", StepEvent.FAILED, reason="target_missing"),
        StepRecord("r3", "open", StepEvent.SHOWN, strategy="testid"),
        StepRecord("r3", "open", StepEvent.SKIPPED),
    ]
    rows = {row.step: row.as_dict() for row in funnel(STEPS, records)}
    assert rows["open"] == {
        "step": "open", "shown": 3, "completed": 1, "skipped": 1, "failed": 1, "missing_target": 1, "drop_off": 1,
        "strategies": {"fingerprint": 1, "testid": 3}, "similarity_min": 0.7,
    }  # fmt: skip
    assert (rows["name"]["shown"], rows["name"]["drop_off"]) == (1, 1)
    assert rows["send"]["shown"] == 0


def test_continuing_an_abandoned_run_reopens_it_at_its_step_and_nothing_else_reopens() -> None:
    r = advance(run(), "open", StepEvent.COMPLETED, now_ms=1).run
    ended = advance(r, "name", StepEvent.ABANDONED, now_ms=2).run
    again = reopen(ended, now_ms=3)
    assert (again.status, again.step, again.completed_steps, again.updated_ms) == (
        RunStatus.ACTIVE,
        "name",
        ("open",),
        3,
    )
    assert reopen(r, now_ms=4) is r
    done = start_run("r2", "w", 1, ["only"], now_ms=0)
    done = advance(done, "only", StepEvent.COMPLETED, now_ms=1).run
    assert reopen(done, now_ms=5) is done
