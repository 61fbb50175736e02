"""The support failure calculator (claim 10): a visitor's frustration indicator.

Pure: it reads observations of what happened on the page (clicks with what they
caused, uncaught errors, navigations) and of the walkthrough (a step retried,
reversed or slow, repeated help requests, asking for a human), detects
frustration signals by published rules, and folds them into one indicator
that decays with time. Every signal keeps its evidence, so a decision based on
it can be explained.

Defaults follow the published thresholds of session-replay tools (PostHog,
Datadog, Sentry): rage click = 3 clicks within 1 s within 30 px; dead click =
no DOM change, URL change or request within 1 s of a click on a control.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any


class TargetKind(enum.StrEnum):
    """What a click landed on, as the client classifies it."""

    BUTTON = "button"
    LINK = "link"
    TEXT_FIELD = "text_field"  # typing targets: repeated clicks there are not rage
    STEPPER = "stepper"  # number spinners, +/- buttons: repeated clicks are normal
    OTHER = "other"


class SignalKind(enum.StrEnum):
    RAGE_CLICK = "rage_click"
    DEAD_CLICK = "dead_click"
    ERROR_CLICK = "error_click"
    QUICK_BACK = "quick_back"
    STEP_RETRIED = "step_retried"
    STEP_REVERSED = "step_reversed"
    SLOW_STEP = "slow_step"
    REPEATED_HELP = "repeated_help"
    ASKED_FOR_HUMAN = "asked_for_human"


WALKTHROUGH_SIGNALS = frozenset(
    {
        SignalKind.STEP_RETRIED,
        SignalKind.STEP_REVERSED,
        SignalKind.SLOW_STEP,
        SignalKind.REPEATED_HELP,
    }
)


# --- observations (what the client and the player report) ----------------------------


@dataclass(frozen=True)
class Click:
    at_ms: int
    x: float
    y: float
    target: TargetKind
    selector: str = ""  # how the client described the target, kept as evidence
    #: ms from the click to the first DOM mutation, URL change or network request; None if none came
    effect_ms: int | None = None


@dataclass(frozen=True)
class PageError:
    at_ms: int
    message: str


@dataclass(frozen=True)
class Navigation:
    at_ms: int
    url: str


@dataclass(frozen=True)
class WalkthroughEvent:
    """A walkthrough-level signal the player or the support session reports directly."""

    at_ms: int
    kind: SignalKind
    detail: str = ""


Observation = Click | PageError | Navigation | WalkthroughEvent


# --- rules ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FrustrationRules:
    """Published defaults; every number can be set per site."""

    rage_clicks: int = 3
    rage_window_ms: int = 1000
    rage_radius_px: float = 30.0
    dead_click_window_ms: int = 1000
    error_click_window_ms: int = 1000
    quick_back_ms: int = 5000
    slow_step_factor: float = 3.0
    half_life_ms: int = 120_000
    threshold: float = 8.0
    weights: dict[SignalKind, float] = field(
        default_factory=lambda: {
            SignalKind.ERROR_CLICK: 4.0,
            SignalKind.RAGE_CLICK: 4.0,
            SignalKind.DEAD_CLICK: 2.0,
            SignalKind.QUICK_BACK: 1.0,
            SignalKind.STEP_RETRIED: 2.0,
            SignalKind.STEP_REVERSED: 2.0,
            SignalKind.SLOW_STEP: 2.0,
            SignalKind.REPEATED_HELP: 2.0,
            SignalKind.ASKED_FOR_HUMAN: 5.0,
        }
    )


@dataclass(frozen=True)
class FrustrationSignal:
    kind: SignalKind
    at_ms: int
    weight: float
    evidence: dict[str, Any]


# --- detection --------------------------------------------------------------------------------

_CONTROLS = (TargetKind.BUTTON, TargetKind.LINK)
_NOT_RAGE = (TargetKind.TEXT_FIELD, TargetKind.STEPPER)


def _signal(
    kind: SignalKind, at_ms: int, rules: FrustrationRules, **evidence: Any
) -> FrustrationSignal:
    return FrustrationSignal(kind, at_ms, rules.weights.get(kind, 0.0), evidence)


def rage_clicks(clicks: Sequence[Click], rules: FrustrationRules) -> list[FrustrationSignal]:
    """One signal per burst: ``rage_clicks`` or more clicks, each within the window and radius of the burst's first."""
    found: list[FrustrationSignal] = []
    candidates = [c for c in clicks if c.target not in _NOT_RAGE]
    i = 0
    while i < len(candidates):
        first = candidates[i]
        burst = [first]
        for later in candidates[i + 1 :]:
            if later.at_ms - first.at_ms > rules.rage_window_ms:
                break
            if math.dist((first.x, first.y), (later.x, later.y)) <= rules.rage_radius_px:
                burst.append(later)
        if len(burst) >= rules.rage_clicks:
            found.append(
                _signal(
                    SignalKind.RAGE_CLICK,
                    first.at_ms,
                    rules,
                    clicks=len(burst),
                    span_ms=burst[-1].at_ms - first.at_ms,
                    x=first.x,
                    y=first.y,
                    target=first.selector,
                )
            )
            i = candidates.index(burst[-1]) + 1
        else:
            i += 1
    return found


def dead_clicks(clicks: Sequence[Click], rules: FrustrationRules) -> list[FrustrationSignal]:
    """A click on a button or link that caused nothing within the window."""
    return [
        _signal(
            SignalKind.DEAD_CLICK,
            c.at_ms,
            rules,
            target=c.selector,
            waited_ms=rules.dead_click_window_ms,
        )
        for c in clicks
        if c.target in _CONTROLS
        and (c.effect_ms is None or c.effect_ms > rules.dead_click_window_ms)
    ]


def error_clicks(
    clicks: Sequence[Click], errors: Sequence[PageError], rules: FrustrationRules
) -> list[FrustrationSignal]:
    """An uncaught error within the window after a click: one signal per click, blamed on the latest click before it."""
    found: dict[int, FrustrationSignal] = {}
    for error in errors:
        before = [
            i
            for i, c in enumerate(clicks)
            if 0 <= error.at_ms - c.at_ms <= rules.error_click_window_ms
        ]
        if not before or before[-1] in found:
            continue
        click = clicks[before[-1]]
        found[before[-1]] = _signal(
            SignalKind.ERROR_CLICK, click.at_ms, rules, target=click.selector,
            error=error.message[:200], after_ms=error.at_ms - click.at_ms,
        )  # fmt: skip
    return list(found.values())


def quick_backs(
    navigations: Sequence[Navigation], rules: FrustrationRules
) -> list[FrustrationSignal]:
    """Returning to the previous page within ``quick_back_ms`` of leaving it."""
    found = []
    for before, page, after in zip(navigations, navigations[1:], navigations[2:], strict=False):
        stayed = after.at_ms - page.at_ms
        if after.url == before.url and page.url != before.url and stayed <= rules.quick_back_ms:
            found.append(
                _signal(
                    SignalKind.QUICK_BACK,
                    after.at_ms,
                    rules,
                    left=page.url,
                    returned_to=after.url,
                    stayed_ms=stayed,
                )
            )
    return found


def slow_step(duration_ms: int, median_ms: int, rules: FrustrationRules) -> bool:
    """A step took more than ``slow_step_factor`` times its median."""
    return median_ms > 0 and duration_ms > rules.slow_step_factor * median_ms


def detect(
    observations: Iterable[Observation], rules: FrustrationRules | None = None
) -> list[FrustrationSignal]:
    """Every frustration signal in a stream of observations, in time order."""
    rules = rules or FrustrationRules()
    ordered = sorted(observations, key=lambda o: o.at_ms)
    clicks = [o for o in ordered if isinstance(o, Click)]
    errors = [o for o in ordered if isinstance(o, PageError)]
    navigations = [o for o in ordered if isinstance(o, Navigation)]
    signals = [
        *rage_clicks(clicks, rules),
        *dead_clicks(clicks, rules),
        *error_clicks(clicks, errors, rules),
        *quick_backs(navigations, rules),
        *(
            _signal(o.kind, o.at_ms, rules, detail=o.detail)
            for o in ordered
            if isinstance(o, WalkthroughEvent)
        ),
    ]
    return sorted(signals, key=lambda s: (s.at_ms, s.kind.value))


# --- the indicator -----------------------------------------------------------------------------


@dataclass(frozen=True)
class FrustrationIndicator:
    """The stored indicator: its level at ``at_ms``, whether it crossed the threshold, and why."""

    level: float
    at_ms: int
    threshold: float
    signals: tuple[FrustrationSignal, ...]

    @property
    def frustrated(self) -> bool:
        return self.level >= self.threshold

    def top(self, n: int = 3) -> list[FrustrationSignal]:
        """The signals that weigh most now (the evidence to show)."""
        return sorted(self.signals, key=lambda s: -s.weight)[:n]


def decayed(weight: float, age_ms: int, half_life_ms: int) -> float:
    """A signal's weight after ``age_ms``: halved every ``half_life_ms``."""
    factor: float = 0.5 ** (max(age_ms, 0) / half_life_ms)
    return weight * factor


def indicator(
    signals: Sequence[FrustrationSignal], now_ms: int, rules: FrustrationRules | None = None
) -> FrustrationIndicator:
    """Sum of the decayed weights of the signals up to ``now_ms``."""
    rules = rules or FrustrationRules()
    past = tuple(s for s in signals if s.at_ms <= now_ms)
    level = sum(decayed(s.weight, now_ms - s.at_ms, rules.half_life_ms) for s in past)
    return FrustrationIndicator(round(level, 6), now_ms, rules.threshold, past)
