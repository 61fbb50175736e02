"""Persona selection and the referral decision, one row per rule."""

from __future__ import annotations

import pytest

from server.support.effectiveness import SessionOutcome, effectiveness
from server.support.frustration import Click, SignalKind, TargetKind, detect, indicator
from server.support.persona import PersonaCandidate, SelectionRule, choose_persona
from server.support.referral import Channel, Trigger, choose_channel, should_refer

PERSONAE = [
    PersonaCandidate("guide", (SelectionRule(new_visitor=True),)),
    PersonaCandidate(
        "expert",
        (
            SelectionRule(traits={"role": ["admin"]}),
            SelectionRule(traits={"plan": ["business", "enterprise"]}),
        ),
    ),
    PersonaCandidate("coach", (SelectionRule(min_failures=1),)),
    PersonaCandidate("assistant"),  # the default
]


@pytest.mark.parametrize(
    ("case", "traits", "sessions", "failures", "avoid", "persona", "code"),
    [
        (
            "a new visitor gets the guide",
            {"role": "admin"},
            0,
            0,
            None,
            "guide",
            "persona_rule_matched",
        ),
        (
            "a returning admin gets the expert",
            {"role": "admin"},
            3,
            0,
            None,
            "expert",
            "persona_rule_matched",
        ),
        (
            "a returning business plan gets the expert (second rule)",
            {"plan": "business"},
            3,
            0,
            None,
            "expert",
            "persona_rule_matched",
        ),
        (
            "a returning visitor who failed gets the coach",
            {"plan": "starter"},
            3,
            1,
            None,
            "coach",
            "persona_rule_matched",
        ),
        (
            "anyone else gets the default",
            {"plan": "starter"},
            3,
            0,
            None,
            "assistant",
            "default_persona",
        ),
        (
            "after failing with the guide, a new-ish visitor gets another",
            {},
            0,
            1,
            "guide",
            "coach",
            "persona_rule_matched",
        ),
        (
            "after failing with the default, the last other persona stands in",
            {},
            2,
            0,
            "assistant",
            "coach",
            "no_rule_matched_last_persona",
        ),
    ],
)
def test_persona_selection(
    case: str,
    traits: dict[str, str],
    sessions: int,
    failures: int,
    avoid: str | None,
    persona: str,
    code: str,
) -> None:
    choice = choose_persona(PERSONAE, traits, sessions=sessions, failures=failures, avoid=avoid)
    assert choice is not None
    assert (choice.persona, choice.reason.code) == (persona, code)


def test_the_second_rule_is_named_in_the_reason() -> None:
    choice = choose_persona(PERSONAE, {"plan": "enterprise"}, sessions=1, failures=0)
    assert choice is not None and choice.reason.detail == {"rule": 1}


def test_no_personae_no_choice() -> None:
    assert choose_persona([], {}, sessions=0, failures=0) is None


def test_a_lone_persona_is_kept_even_when_to_be_avoided() -> None:
    choice = choose_persona([PersonaCandidate("only")], {}, sessions=0, failures=1, avoid="only")
    assert choice is not None and choice.persona == "only"


T0 = 0
DAY = 24 * 3600 * 1000


@pytest.mark.parametrize(
    ("case", "kwargs", "triggers"),
    [
        (
            "a good session is not referred",
            {
                "effectiveness": effectiveness(
                    SessionOutcome(T0, run_completed=True, goal_seen=True), DAY
                )
            },
            None,
        ),
        (
            "below threshold",
            {"effectiveness": effectiveness(SessionOutcome(T0, steps_total=3), DAY)},
            (Trigger.BELOW_THRESHOLD,),
        ),
        (
            "greeting only is never below threshold",
            {"effectiveness": effectiveness(SessionOutcome(T0, greeting_only=True), DAY)},
            None,
        ),
        ("explicit request", {"asked_for_human": True}, (Trigger.ASKED_FOR_HUMAN,)),
        ("the offer was a person", {"offered_person": True}, (Trigger.OFFERED_PERSON,)),
    ],
)
def test_referral_triggers(
    case: str, kwargs: dict[str, object], triggers: tuple[Trigger, ...] | None
) -> None:
    referral = should_refer(**kwargs)  # type: ignore[arg-type]
    assert (referral.triggers if referral else None) == triggers


def test_frustration_mid_session_refers_with_the_clicks_as_evidence() -> None:
    rage = [
        Click(t, 10, 10, TargetKind.BUTTON, "[data-testid=dead-button]", None)
        for t in (0, 200, 400, 600, 800, 1000)
    ]
    level = indicator(detect(rage), 1000)
    assert level.frustrated  # rage 4 + six dead clicks 12
    referral = should_refer(frustration=level)
    assert referral is not None and referral.triggers == (Trigger.FRUSTRATION,)
    evidence = referral.reasons[0].detail["signals"]
    assert {e["kind"] for e in evidence} >= {SignalKind.RAGE_CLICK.value}
    assert all(e["target"] == "[data-testid=dead-button]" for e in evidence)


def test_below_frustration_threshold_is_not_referred() -> None:
    one_dead = indicator(detect([Click(0, 1, 1, TargetKind.BUTTON, "#x", None)]), 0)
    assert should_refer(frustration=one_dead) is None


@pytest.mark.parametrize(
    ("online", "free", "callback", "channel"),
    [
        (3, 1, False, Channel.LIVE_AGENT),
        (3, 0, False, Channel.CHAT),
        (0, 0, False, Channel.EMAIL),
        (0, 0, True, Channel.CALLBACK),
    ],
)
def test_channel_routing(online: int, free: int, callback: bool, channel: Channel) -> None:
    assert choose_channel(agents_online=online, agents_free=free, callback=callback) is channel


def test_no_channel_when_nothing_is_configured_and_nobody_is_online() -> None:
    assert choose_channel(agents_online=0, agents_free=0, email=False) is None


def test_a_visitor_who_says_it_did_not_help_is_referred_whatever_the_score() -> None:
    from server.support.referral import Trigger, should_refer

    referral = should_refer(said_no=True)
    assert referral is not None and referral.triggers == (Trigger.USER_SAID_NO,)
    assert should_refer(said_no=False) is None
