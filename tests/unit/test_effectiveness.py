"""Effectiveness: each component, the return window, thresholds and failure reasons."""

from __future__ import annotations

import pytest

from server.support.effectiveness import (
    DAY_MS,
    Basis,
    Component,
    EffectivenessRules,
    FailureReason,
    SessionOutcome,
    effectiveness,
)

T0 = 1_000_000
LATER = T0 + DAY_MS  # the return window has closed


def parts(outcome: SessionOutcome, now: int = LATER) -> dict[str, tuple[float, str]]:
    result = effectiveness(outcome, now)
    return {c.component.value: (c.value, c.basis.value) for c in result.components}


def test_default_weights_and_threshold() -> None:
    rules = EffectivenessRules()
    assert rules.weights == {
        Component.GOAL_REACHED: 0.5, Component.VISITOR_CONFIRMATION: 0.2,
        Component.NO_RETURN: 0.2, Component.LOW_FRUSTRATION: 0.1,
    }  # fmt: skip
    assert rules.default_threshold == 0.6 and rules.return_window_ms == DAY_MS


@pytest.mark.parametrize(
    ("case", "outcome", "goal"),
    [
        ("completed and goal seen", SessionOutcome(T0, run_completed=True, goal_seen=True), 1.0),
        ("completed, goal not seen", SessionOutcome(T0, run_completed=True), 0.0),
        ("goal seen without finishing the run", SessionOutcome(T0, goal_seen=True), 0.0),
    ],
)
def test_goal_reached_needs_both_the_run_and_the_goal(
    case: str, outcome: SessionOutcome, goal: float
) -> None:
    assert parts(outcome)["goal_reached"] == (goal, "confirmed")


@pytest.mark.parametrize(
    ("answer", "value", "basis"),
    [(True, 1.0, "confirmed"), (False, 0.0, "confirmed"), (None, 0.5, "assumed")],
)
def test_visitor_confirmation(answer: bool | None, value: float, basis: str) -> None:
    assert parts(SessionOutcome(T0, confirmation=answer))["visitor_confirmation"] == (value, basis)


@pytest.mark.parametrize(
    ("case", "returned", "now", "expected", "final"),
    [
        ("window open, no return yet", None, T0 + DAY_MS - 1, (1.0, "assumed"), False),
        ("window closed at exactly 24 h", None, T0 + DAY_MS, (1.0, "confirmed"), True),
        ("returned within the window", T0 + DAY_MS - 1, T0 + DAY_MS - 1, (0.0, "confirmed"), True),
        ("returned at exactly 24 h", T0 + DAY_MS, T0 + DAY_MS, (0.0, "confirmed"), True),
        ("returned after the window", T0 + DAY_MS + 1, T0 + DAY_MS + 1, (1.0, "confirmed"), True),
    ],
)
def test_no_return_and_finality(
    case: str, returned: int | None, now: int, expected: tuple[float, str], final: bool
) -> None:
    outcome = SessionOutcome(T0, returned_ms=returned)
    assert parts(outcome, now)["no_return"] == expected
    assert effectiveness(outcome, now).final is final


@pytest.mark.parametrize(("frustrated", "value"), [(False, 1.0), (True, 0.0)])
def test_low_frustration(frustrated: bool, value: float) -> None:
    assert parts(SessionOutcome(T0, frustrated=frustrated))["low_frustration"] == (
        value,
        "confirmed",
    )


def test_a_good_session_scores_full_marks() -> None:
    result = effectiveness(
        SessionOutcome(T0, run_completed=True, goal_seen=True, confirmation=True), LATER
    )
    assert result.score == 1.0 and not result.below_threshold and result.reason is None


def test_unanswered_but_successful_is_above_the_default_threshold() -> None:
    result = effectiveness(SessionOutcome(T0, run_completed=True, goal_seen=True), LATER)
    assert result.score == pytest.approx(0.9)
    assert [c.basis for c in result.components].count(Basis.ASSUMED) == 1


def test_greeting_only_is_not_scored() -> None:
    result = effectiveness(SessionOutcome(T0, greeting_only=True), LATER)
    assert (result.score, result.below_threshold, result.components) == (None, False, ())


@pytest.mark.parametrize(
    ("threshold", "below"),
    [
        (0.39, False),
        (0.4, False),
        (0.41, True),
    ],  # abandoned run, no answer: 0 + 0.1 + 0.2 + 0.1 = 0.4
)
def test_threshold_just_below_at_and_above(threshold: float, below: bool) -> None:
    result = effectiveness(SessionOutcome(T0, steps_total=3), LATER, threshold=threshold)
    assert result.score == pytest.approx(0.4)
    assert result.below_threshold is below


def test_the_site_default_threshold_applies_without_a_process_one() -> None:
    assert effectiveness(SessionOutcome(T0, steps_total=3), LATER).threshold == 0.6


@pytest.mark.parametrize(
    ("outcome", "reason"),
    [
        (
            SessionOutcome(T0, asked_for_human=True, frustrated=True),
            FailureReason.USER_ASKED_FOR_HUMAN,
        ),
        (
            SessionOutcome(T0, frustrated=True, confirmation=False),
            FailureReason.FRUSTRATION_THRESHOLD,
        ),
        (SessionOutcome(T0, confirmation=False, target_missing=True), FailureReason.USER_SAID_NO),
        (SessionOutcome(T0, target_missing=True, timed_out=True), FailureReason.TARGET_MISSING),
        (SessionOutcome(T0, timed_out=True, steps_total=3), FailureReason.TIMEOUT),
        (SessionOutcome(T0, steps_total=3, steps_completed=1), FailureReason.STEP_NOT_COMPLETED),
        (
            SessionOutcome(T0, run_completed=True, steps_total=3, returned_ms=T0 + 5),
            FailureReason.RETURNED_FOR_HELP,
        ),
        (
            SessionOutcome(T0, run_completed=True, steps_total=3, confirmation=None),
            FailureReason.GOAL_NOT_REACHED,
        ),
    ],
)
def test_failure_reasons_in_order(outcome: SessionOutcome, reason: FailureReason) -> None:
    result = effectiveness(outcome, LATER, threshold=0.99)
    assert result.below_threshold and result.reason is reason


def test_stored_form_names_every_component() -> None:
    stored = effectiveness(SessionOutcome(T0, steps_total=2), LATER).as_dict()
    assert [c["name"] for c in stored["components"]] == [
        "goal_reached",
        "visitor_confirmation",
        "no_return",
        "low_frustration",
    ]
    assert stored["reason"] == "step_not_completed"


@pytest.mark.parametrize(
    ("helped", "score", "below"),
    [(True, 1.0, False), (None, 0.8, False), (False, 0.6, False)],
)
def test_without_a_walkthrough_the_goal_is_left_out_and_the_rest_weighed_among_themselves(
    helped: bool | None, score: float, below: bool
) -> None:
    outcome = SessionOutcome(started_ms=0, walkthrough=False, confirmation=helped)
    result = effectiveness(outcome, now_ms=1)
    assert [c.component for c in result.components] == [
        Component.VISITOR_CONFIRMATION,
        Component.NO_RETURN,
        Component.LOW_FRUSTRATION,
    ]
    assert (result.score, result.below_threshold) == (score, below)
    assert effectiveness(outcome, now_ms=1, threshold=0.7).reason is (
        None if helped is not False else FailureReason.USER_SAID_NO
    )
