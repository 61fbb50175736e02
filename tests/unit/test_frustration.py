"""The support failure calculator: each signal just below, at and above its threshold, and the decay."""

from __future__ import annotations

import pytest

from server.support.frustration import (
    Click,
    FrustrationRules,
    Navigation,
    Observation,
    PageError,
    SignalKind,
    TargetKind,
    WalkthroughEvent,
    decayed,
    detect,
    indicator,
    slow_step,
)

RULES = FrustrationRules()
B = TargetKind.BUTTON


def kinds(observations: list) -> list[str]:  # type: ignore[type-arg]
    return [s.kind.value for s in detect(observations, RULES)]


def burst(
    times: list[int], *, dx: float = 0, target: TargetKind = B, effect_ms: int | None = 10
) -> list[Click]:
    return [Click(t, 100 + dx * i, 100, target, "#btn", effect_ms) for i, t in enumerate(times)]


@pytest.mark.parametrize(
    ("case", "clicks", "rage"),
    [
        ("2 clicks: below the count", burst([0, 100]), False),
        ("3 clicks within 1 s", burst([0, 400, 999]), True),
        ("3 clicks at exactly 1 s", burst([0, 500, 1000]), True),
        ("3 clicks over 1 s", burst([0, 500, 1001]), False),
        ("spread 15 px apart (30 px from the first)", burst([0, 100, 200], dx=15), True),
        ("spread 15.5 px apart (31 px from the first)", burst([0, 100, 200], dx=15.5), False),
        ("on a text field", burst([0, 100, 200], target=TargetKind.TEXT_FIELD), False),
        ("on a stepper", burst([0, 100, 200], target=TargetKind.STEPPER), False),
        ("6 quick clicks are one burst", burst([0, 100, 200, 300, 400, 500]), True),
    ],
)
def test_rage_click(case: str, clicks: list[Click], rage: bool) -> None:
    found = [s for s in detect(clicks, RULES) if s.kind is SignalKind.RAGE_CLICK]
    assert len(found) == (1 if rage else 0)
    if rage:
        assert found[0].evidence["clicks"] == len(clicks) and found[0].weight == 4


def test_one_error_is_blamed_on_the_latest_click_only() -> None:
    found = detect(
        [Click(0, 1, 1, B, "#a", 5), Click(300, 1, 1, B, "#b", 5), PageError(500, "boom")], RULES
    )
    errors = [s for s in found if s.kind is SignalKind.ERROR_CLICK]
    assert [s.evidence["target"] for s in errors] == ["#b"]


def test_two_bursts_are_two_signals() -> None:
    clicks = burst([0, 100, 200]) + burst([5000, 5100, 5200])
    assert kinds(clicks).count("rage_click") == 2


@pytest.mark.parametrize(
    ("case", "target", "effect_ms", "dead"),
    [
        ("a button that changes the DOM at 500 ms", B, 500, False),
        ("a button whose effect comes at exactly 1 s", B, 1000, False),
        ("a button whose effect comes at 1001 ms", B, 1001, True),
        ("a button that does nothing", B, None, True),
        ("a link that does nothing", TargetKind.LINK, None, True),
        ("plain text that does nothing", TargetKind.OTHER, None, False),
        ("a text field (typing, not a control)", TargetKind.TEXT_FIELD, None, False),
    ],
)
def test_dead_click(case: str, target: TargetKind, effect_ms: int | None, dead: bool) -> None:
    assert ("dead_click" in kinds([Click(0, 1, 1, target, "#x", effect_ms)])) is dead


@pytest.mark.parametrize(
    ("case", "error_at", "error_click"),
    [
        ("error before the click", -1, False),
        ("error 999 ms after", 999, True),
        ("error at exactly 1 s", 1000, True),
        ("error 1001 ms after", 1001, False),
    ],
)
def test_error_click(case: str, error_at: int, error_click: bool) -> None:
    found = kinds(
        [Click(10_000, 1, 1, B, "#x", 5), PageError(10_000 + error_at, "TypeError: x is undefined")]
    )
    assert ("error_click" in found) is error_click


@pytest.mark.parametrize(
    ("case", "stayed_ms", "quick"),
    [
        ("back after 4.999 s", 4999, True),
        ("back after exactly 5 s", 5000, True),
        ("back after 5.001 s", 5001, False),
    ],
)
def test_quick_back(case: str, stayed_ms: int, quick: bool) -> None:
    navigations = [Navigation(0, "/a"), Navigation(1000, "/b"), Navigation(1000 + stayed_ms, "/a")]
    assert ("quick_back" in kinds(navigations)) is quick


def test_moving_on_is_not_a_quick_back() -> None:
    assert kinds([Navigation(0, "/a"), Navigation(100, "/b"), Navigation(200, "/c")]) == []


@pytest.mark.parametrize(
    ("duration", "median", "slow"),
    [(2999, 1000, False), (3000, 1000, False), (3001, 1000, True), (5000, 0, False)],
)
def test_slow_step_is_over_three_times_the_median(duration: int, median: int, slow: bool) -> None:
    assert slow_step(duration, median, RULES) is slow


@pytest.mark.parametrize(
    ("kind", "weight"),
    [
        (SignalKind.STEP_RETRIED, 2),
        (SignalKind.STEP_REVERSED, 2),
        (SignalKind.SLOW_STEP, 2),
        (SignalKind.REPEATED_HELP, 2),
        (SignalKind.ASKED_FOR_HUMAN, 5),
    ],
)
def test_walkthrough_signals_carry_their_published_weights(kind: SignalKind, weight: float) -> None:
    [signal] = detect([WalkthroughEvent(0, kind, "step 2")], RULES)
    assert (signal.kind, signal.weight, signal.evidence) == (kind, weight, {"detail": "step 2"})


def test_published_weights() -> None:
    w = RULES.weights
    assert (
        w[SignalKind.ERROR_CLICK],
        w[SignalKind.RAGE_CLICK],
        w[SignalKind.DEAD_CLICK],
        w[SignalKind.QUICK_BACK],
    ) == (4, 4, 2, 1)
    assert (RULES.half_life_ms, RULES.threshold) == (120_000, 8)


@pytest.mark.parametrize(
    ("age_ms", "left"), [(0, 4.0), (120_000, 2.0), (240_000, 1.0), (60_000, 4 * 0.5**0.5)]
)
def test_decay_halves_every_two_minutes(age_ms: int, left: float) -> None:
    assert decayed(4.0, age_ms, RULES.half_life_ms) == pytest.approx(left)


def test_threshold_just_below_at_and_above() -> None:
    rage = detect(burst([0, 100, 200]), RULES)  # 4
    error = detect(
        [Click(5000, 500, 500, B, "#e", 5), PageError(5100, "boom")], RULES
    )  # error 4 (its click had an effect)
    both = rage + error
    assert indicator(both, 5000, RULES).level == pytest.approx(4 * 0.5 ** (5000 / 120_000) + 4)
    assert not indicator(both, 5000, RULES).frustrated  # 7.89: just below 8
    simultaneous: list[Observation] = [
        *burst([0, 100, 200]),
        Click(300, 500, 500, B, "#e", 5),
        PageError(400, "boom"),
    ]
    at = indicator(detect(simultaneous, RULES), 300)  # rage 4 (at 0) + error 4 (at 300)
    assert at.level == pytest.approx(4 * 0.5 ** (300 / 120_000) + 4)
    no_decay = FrustrationRules(half_life_ms=10**15)
    exact = indicator(
        detect(simultaneous, no_decay), 300, no_decay
    )  # no decay: exactly 8, the threshold
    assert exact.level == pytest.approx(8.0) and exact.frustrated
    at = exact
    assert at.level == pytest.approx(8.0) and at.frustrated
    above = indicator(
        both + detect([WalkthroughEvent(5000, SignalKind.ASKED_FOR_HUMAN)], RULES), 5000
    )
    assert above.frustrated and above.top(1)[0].kind is SignalKind.ASKED_FOR_HUMAN


def test_rules_are_configurable() -> None:
    strict = FrustrationRules(threshold=2, rage_clicks=4)
    assert not any(s.kind is SignalKind.RAGE_CLICK for s in detect(burst([0, 100, 200]), strict))
    dead = detect([Click(0, 1, 1, B, "#x", None)], strict)
    assert indicator(dead, 0, strict).frustrated


def test_future_signals_do_not_count_yet() -> None:
    signals = detect([Click(10_000, 1, 1, B, "#x", None)], RULES)
    assert indicator(signals, 9_999, RULES).level == 0
