"""The effectiveness level of a support session (claim 3), and why it failed.

A score in [0, 1] from named components, each stored with its value, its
weight and whether it was observed ("confirmed") or defaulted ("assumed"):

- goal reached (0.5): the walkthrough run completed and the process's goal
  condition was seen on the page;
- visitor confirmation (0.2): the answer to "Did this help?";
- no return (0.2): the visitor did not ask for help at the same place again
  within 24 hours;
- low frustration (0.1): the frustration indicator stayed below its threshold.

The score is provisional until the return window closes (or the visitor
returns), then final. A greeting-only session is not scored. A session that
offered no walkthrough (an FAQ answer the visitor rated) has no goal to
reach: that component is left out and the others are weighed among
themselves. Pure: ``now_ms`` is passed in.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

DAY_MS = 24 * 3600 * 1000


class Component(enum.StrEnum):
    GOAL_REACHED = "goal_reached"
    VISITOR_CONFIRMATION = "visitor_confirmation"
    NO_RETURN = "no_return"
    LOW_FRUSTRATION = "low_frustration"


class Basis(enum.StrEnum):
    CONFIRMED = "confirmed"  # observed
    ASSUMED = "assumed"  # not (yet) observable: a default stands in


class FailureReason(enum.StrEnum):
    """The fixed list of reasons a session is recorded as failed, most telling first."""

    USER_ASKED_FOR_HUMAN = "user_asked_for_human"
    FRUSTRATION_THRESHOLD = "frustration_threshold"
    USER_SAID_NO = "user_said_no"
    TARGET_MISSING = "target_missing"
    TIMEOUT = "timeout"
    STEP_NOT_COMPLETED = "step_not_completed"
    RETURNED_FOR_HELP = "returned_for_help"
    GOAL_NOT_REACHED = "goal_not_reached"


@dataclass(frozen=True)
class EffectivenessRules:
    weights: dict[Component, float] = field(
        default_factory=lambda: {
            Component.GOAL_REACHED: 0.5,
            Component.VISITOR_CONFIRMATION: 0.2,
            Component.NO_RETURN: 0.2,
            Component.LOW_FRUSTRATION: 0.1,
        }
    )
    return_window_ms: int = DAY_MS
    #: the value of "Did this help?" while it is unanswered: neither yes nor no
    assumed_confirmation: float = 0.5
    default_threshold: float = 0.6


@dataclass(frozen=True)
class SessionOutcome:
    """What was observed about one support session."""

    started_ms: int
    greeting_only: bool = False
    walkthrough: bool = True  # a walkthrough was part of the session: its goal counts
    run_completed: bool = False
    goal_seen: bool = False
    confirmation: bool | None = None  # "Did this help?": yes, no, or no answer
    returned_ms: int | None = None  # the next help request at the same place, if any
    frustrated: bool = False  # the indicator crossed its threshold during the session
    asked_for_human: bool = False
    target_missing: bool = False
    timed_out: bool = False
    steps_completed: int = 0
    steps_total: int = 0


@dataclass(frozen=True)
class ComponentResult:
    component: Component
    value: float
    weight: float
    basis: Basis
    why: str

    @property
    def contribution(self) -> float:
        return self.value * self.weight


@dataclass(frozen=True)
class Effectiveness:
    score: float | None  # None: not scored (greeting only)
    components: tuple[ComponentResult, ...]
    final: bool
    threshold: float
    below_threshold: bool
    reason: FailureReason | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "score": self.score,
            "final": self.final,
            "threshold": self.threshold,
            "below_threshold": self.below_threshold,
            "reason": self.reason.value if self.reason else None,
            "components": [
                {
                    "name": c.component.value,
                    "value": c.value,
                    "weight": c.weight,
                    "basis": c.basis.value,
                    "why": c.why,
                }
                for c in self.components
            ],
        }


def _components(
    outcome: SessionOutcome, now_ms: int, rules: EffectivenessRules
) -> tuple[ComponentResult, ...]:
    w = rules.weights
    goal = outcome.run_completed and outcome.goal_seen
    goal_why = (
        "run completed and goal seen"
        if goal
        else ("run completed, goal not seen" if outcome.run_completed else "run not completed")
    )
    if outcome.confirmation is None:
        confirmation = ComponentResult(
            Component.VISITOR_CONFIRMATION, rules.assumed_confirmation, w[Component.VISITOR_CONFIRMATION],
            Basis.ASSUMED, "not answered",
        )  # fmt: skip
    else:
        confirmation = ComponentResult(
            Component.VISITOR_CONFIRMATION, 1.0 if outcome.confirmation else 0.0, w[Component.VISITOR_CONFIRMATION],
            Basis.CONFIRMED, "said it helped" if outcome.confirmation else "said it did not help",
        )  # fmt: skip
    window_end = outcome.started_ms + rules.return_window_ms
    if outcome.returned_ms is not None and outcome.returned_ms <= window_end:
        no_return = ComponentResult(
            Component.NO_RETURN,
            0.0,
            w[Component.NO_RETURN],
            Basis.CONFIRMED,
            "asked again at the same place",
        )
    elif now_ms >= window_end:
        no_return = ComponentResult(
            Component.NO_RETURN,
            1.0,
            w[Component.NO_RETURN],
            Basis.CONFIRMED,
            "did not ask again within the window",
        )
    else:
        no_return = ComponentResult(
            Component.NO_RETURN,
            1.0,
            w[Component.NO_RETURN],
            Basis.ASSUMED,
            "return window still open",
        )
    goal_part = (
        ComponentResult(
            Component.GOAL_REACHED,
            1.0 if goal else 0.0,
            w[Component.GOAL_REACHED],
            Basis.CONFIRMED,
            goal_why,
        ),
    )
    return (
        *(goal_part if outcome.walkthrough else ()),
        confirmation,
        no_return,
        ComponentResult(
            Component.LOW_FRUSTRATION,
            0.0 if outcome.frustrated else 1.0,
            w[Component.LOW_FRUSTRATION],
            Basis.CONFIRMED,
            "frustration crossed its threshold" if outcome.frustrated else "frustration stayed low",
        ),
    )


def failure_reason(outcome: SessionOutcome) -> FailureReason:
    """The most telling reason a session that scored below its threshold failed."""
    if outcome.asked_for_human:
        return FailureReason.USER_ASKED_FOR_HUMAN
    if outcome.frustrated:
        return FailureReason.FRUSTRATION_THRESHOLD
    if outcome.confirmation is False:
        return FailureReason.USER_SAID_NO
    if outcome.target_missing:
        return FailureReason.TARGET_MISSING
    if outcome.timed_out:
        return FailureReason.TIMEOUT
    if not outcome.run_completed and outcome.steps_total:
        return FailureReason.STEP_NOT_COMPLETED
    if outcome.returned_ms is not None or not outcome.walkthrough:
        return FailureReason.RETURNED_FOR_HELP
    return FailureReason.GOAL_NOT_REACHED


def effectiveness(
    outcome: SessionOutcome,
    now_ms: int,
    *,
    threshold: float | None = None,
    rules: EffectivenessRules | None = None,
) -> Effectiveness:
    """Score a session as of ``now_ms`` against the process's threshold (or the site default)."""
    rules = rules or EffectivenessRules()
    limit = rules.default_threshold if threshold is None else threshold
    if outcome.greeting_only:
        return Effectiveness(None, (), True, limit, False, None)
    components = _components(outcome, now_ms, rules)
    weight = sum(c.weight for c in components)
    score = round(sum(c.contribution for c in components) / weight, 6) if weight else 0.0
    returned = (
        outcome.returned_ms is not None
        and outcome.returned_ms <= outcome.started_ms + rules.return_window_ms
    )
    final = returned or now_ms >= outcome.started_ms + rules.return_window_ms
    below = score < limit
    return Effectiveness(
        score, components, final, limit, below, failure_reason(outcome) if below else None
    )
