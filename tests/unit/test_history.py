"""Offers for first / resumed / completed / failed / repeatedly failed history, one row per rule."""

from __future__ import annotations

import pytest

from server.support.history import (
    DAY_MS,
    MINUTE_MS,
    HistoryRules,
    Offer,
    OfferKind,
    PastSession,
    Place,
    RunStatus,
    Walkthrough,
    choose_offer,
    run_status,
)

NOW = 100 * DAY_MS
INVITE = Place(process="invite-teammate")
EXPORT = Place(process="export-report")
WALKTHROUGHS = [
    Walkthrough("invite"),
    Walkthrough("invite-short", variant_of="invite"),
    Walkthrough("invite-roles"),
]


def session(
    id: str, *, at: int = NOW - 2 * 60 * MINUTE_MS, place: Place = INVITE, **kw: object
) -> PastSession:
    return PastSession(id, place, at, **kw)  # type: ignore[arg-type]


def offer(
    history: list[PastSession],
    *,
    walkthroughs: list[Walkthrough] = WALKTHROUGHS,
    faq: bool = True,
    place: Place = INVITE,
) -> Offer:
    return choose_offer(place, history, walkthroughs, now_ms=NOW, faq_available=faq)


def test_first_request_offers_the_first_walkthrough() -> None:
    result = offer([])
    assert (result.kind, result.walkthrough, result.reasons[0].code) == (
        OfferKind.WALKTHROUGH,
        "invite",
        "first_request",
    )


def test_first_request_without_walkthroughs_offers_the_faq_then_a_person() -> None:
    assert offer([], walkthroughs=[]).kind is OfferKind.FAQ
    assert offer([], walkthroughs=[], faq=False).kind is OfferKind.PERSON


def test_history_elsewhere_does_not_count() -> None:
    elsewhere = [
        session("s1", place=EXPORT, walkthrough="export", failed=True),
        session("s2", place=EXPORT, failed=True),
    ]
    assert offer(elsewhere).reasons[0].code == "first_request"


@pytest.mark.parametrize(
    ("case", "past", "status"),
    [
        (
            "progress 29 min ago",
            session("s", walkthrough="invite", last_progress_ms=NOW - 29 * MINUTE_MS),
            RunStatus.ACTIVE,
        ),
        (
            "progress exactly 30 min ago",
            session("s", walkthrough="invite", last_progress_ms=NOW - 30 * MINUTE_MS),
            RunStatus.ABANDONED,
        ),
        (
            "tab closed 1 min ago",
            session("s", walkthrough="invite", last_progress_ms=NOW - MINUTE_MS, tab_closed=True),
            RunStatus.ABANDONED,
        ),
        (
            "completed",
            session("s", walkthrough="invite", run_completed=True, tab_closed=True),
            RunStatus.COMPLETED,
        ),
        ("no run (an FAQ answer)", session("s"), None),
    ],
)
def test_run_status(case: str, past: PastSession, status: RunStatus | None) -> None:
    assert run_status(past, NOW, HistoryRules()) is status


def test_an_abandoned_run_is_resumed_at_its_step() -> None:
    result = offer([session("s1", walkthrough="invite", step="fill-email", tab_closed=True)])
    assert (result.kind, result.walkthrough, result.step) == (
        OfferKind.RESUME,
        "invite",
        "fill-email",
    )
    assert result.reasons[0].detail == {
        "session": "s1",
        "walkthrough": "invite",
        "step": "fill-email",
    }


def test_an_abandoned_and_failed_run_is_still_resumed() -> None:
    result = offer([session("s1", walkthrough="invite", step="role", tab_closed=True, failed=True)])
    assert result.kind is OfferKind.RESUME


def test_an_active_run_is_not_resumed_as_abandoned() -> None:
    result = offer(
        [session("s1", walkthrough="invite", step="role", last_progress_ms=NOW - MINUTE_MS)]
    )
    assert (
        result.kind is OfferKind.WALKTHROUGH
    )  # nothing completed or abandoned yet: the first walkthrough


def test_a_run_the_visitor_closed_a_minute_ago_is_abandoned_and_resumed() -> None:
    result = offer(
        [
            session(
                "s1",
                walkthrough="invite",
                step="email",
                last_progress_ms=NOW - MINUTE_MS,
                run_ended=True,
            )
        ]
    )
    assert (result.kind, result.step, result.reasons[0].code) == (
        OfferKind.RESUME,
        "email",
        "resume_abandoned",
    )


def test_a_completed_walkthrough_is_not_replayed() -> None:
    result = offer([session("s1", walkthrough="invite", run_completed=True)])
    assert (result.kind, result.walkthrough, result.reasons[0].code) == (
        OfferKind.WALKTHROUGH,
        "invite-roles",
        "next_in_process",
    )


def test_completing_a_variant_counts_as_completing_the_walkthrough() -> None:
    result = offer([session("s1", walkthrough="invite-short", run_completed=True)])
    assert result.walkthrough == "invite-roles"


def test_everything_completed_offers_the_faq_answer_then_a_person() -> None:
    done = [
        session("s1", walkthrough="invite", run_completed=True),
        session("s2", walkthrough="invite-roles", run_completed=True),
    ]
    assert offer(done).kind is OfferKind.FAQ
    assert offer(done, faq=False).reasons[0].code == "nothing_new_to_offer"


def test_one_failure_switches_to_a_variant() -> None:
    result = offer(
        [session("s1", walkthrough="invite", run_completed=True, failed=True, persona="ada")]
    )
    assert (result.kind, result.walkthrough, result.reasons[0].code) == (
        OfferKind.WALKTHROUGH,
        "invite-short",
        "switch_variant",
    )
    assert result.avoid_persona == "ada"


def test_one_failure_without_a_variant_switches_persona() -> None:
    result = offer(
        [session("s1", walkthrough="invite-roles", run_completed=True, failed=True, persona="ada")]
    )
    assert (result.walkthrough, result.avoid_persona, result.reasons[0].code) == (
        "invite-roles",
        "ada",
        "switch_persona",
    )


def test_a_failed_variant_switches_to_its_sibling_or_original() -> None:
    result = offer([session("s1", walkthrough="invite-short", run_completed=True, failed=True)])
    assert result.walkthrough == "invite"


@pytest.mark.parametrize(
    ("case", "ages_days", "person"),
    [
        ("one failure", [1], False),
        ("two failures within 30 days", [1, 29], True),
        ("two failures, one exactly 30 days ago", [1, 30], True),
        ("two failures, one 31 days ago", [1, 31], False),
    ],
)
def test_repeated_failure_offers_a_person(case: str, ages_days: list[int], person: bool) -> None:
    history = [
        session(
            f"s{i}", at=NOW - days * DAY_MS, walkthrough="invite", run_completed=True, failed=True
        )
        for i, days in enumerate(ages_days)
    ]
    result = offer(history)
    assert (result.kind is OfferKind.PERSON) is person
    if person:
        assert result.reasons[0].code == "repeated_failure"
        assert set(result.reasons[0].detail["failures"]) == {s.id for s in history}
        assert result.reasons[0].detail["window_days"] == 30


def test_same_place_without_a_process_is_the_same_url_pattern() -> None:
    page = Place(url_pattern="/settings")
    history = [session(f"s{i}", place=page, failed=True) for i in range(2)]
    same = choose_offer(page, history, [], now_ms=NOW, faq_available=True)
    assert (same.kind, same.reasons[0].code) == (OfferKind.PERSON, "repeated_failure")
    other = choose_offer(Place(url_pattern="/billing"), history, [], now_ms=NOW, faq_available=True)
    assert (other.kind, other.reasons[0].code) == (OfferKind.FAQ, "no_walkthrough_here")


def test_rules_are_configurable() -> None:
    history = [session("s0", walkthrough="invite", run_completed=True, failed=True)]
    strict = HistoryRules(repeated_failures=1)
    assert (
        choose_offer(INVITE, history, WALKTHROUGHS, now_ms=NOW, rules=strict).kind
        is OfferKind.PERSON
    )
