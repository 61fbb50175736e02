"""A help request decided from profile, location and history: two requests in a row, the second accounting for the first."""

from __future__ import annotations

from server.support.help import (
    SUPPORT_SESSION,
    HelpDecision,
    HelpRequest,
    decide_help,
    past_sessions,
)
from server.support.history import MINUTE_MS, OfferKind, Walkthrough
from server.support.persona import PersonaCandidate, SelectionRule
from server.support.profile import Profile, SupportItem

PERSONAE = [
    PersonaCandidate("guide", (SelectionRule(new_visitor=True),)),
    PersonaCandidate("coach", (SelectionRule(min_failures=1),)),
    PersonaCandidate("assistant"),
]
WALKTHROUGHS = [
    Walkthrough("invite-teammate"),
    Walkthrough("invite-short", variant_of="invite-teammate"),
]
T0 = 1_000 * MINUTE_MS


def profile(*items: SupportItem) -> Profile:
    return Profile("demo", "u-ada", {"first_name": "Ada"}, 0, tuple(items))


def item(i: int, at: int, failure: bool = False, **payload: object) -> SupportItem:
    return SupportItem(i, SUPPORT_SESSION, at, dict(payload), failure)


def ask(
    p: Profile, at: int, *, faq: tuple[str, ...] = ("invite",), question: str = ""
) -> HelpDecision:
    request = HelpRequest(f"s{at}", question, "http://x/team/invite", "invite-teammate")
    return decide_help(
        request, p, walkthroughs=WALKTHROUGHS, faq_hits=faq, personae=PERSONAE, now_ms=at
    )


def record(
    decision: HelpDecision, at: int, i: int, failure: bool = False, **progress: object
) -> SupportItem:
    return item(i, at, failure, **{**decision.item, **progress})


def test_first_request_new_visitor_gets_the_guide_and_the_walkthrough() -> None:
    first = ask(profile(), T0)
    assert (
        first.persona.persona if first.persona else None,
        first.offer.kind,
        first.offer.walkthrough,
    ) == ("guide", OfferKind.WALKTHROUGH, "invite-teammate")
    assert [r.code for r in first.reasons] == ["persona_rule_matched", "first_request"]
    assert first.item["place"] == {"process": "invite-teammate", "url_pattern": None}
    assert first.item["offer"] == "walkthrough" and first.item["persona"] == "guide"


def test_second_request_resumes_what_the_first_abandoned() -> None:
    first = ask(profile(), T0)
    abandoned = record(
        first,
        T0,
        1,
        step="email",
        last_progress_ms=T0 + MINUTE_MS,
        run_status="active",
        tab_closed=True,
    )
    second = ask(profile(abandoned), T0 + 10 * MINUTE_MS)
    assert (second.offer.kind, second.offer.walkthrough, second.offer.step) == (
        OfferKind.RESUME,
        "invite-teammate",
        "email",
    )


def test_second_request_does_not_replay_a_completed_walkthrough() -> None:
    first = ask(profile(), T0)
    done = record(first, T0, 1, run_status="completed")
    second = ask(profile(done), T0 + 60 * MINUTE_MS)
    assert (
        second.offer.kind is OfferKind.FAQ
    )  # the only other walkthrough is a variant of the completed one
    assert second.faq == ("invite",)


def test_after_a_failure_the_approach_and_persona_change() -> None:
    first = ask(profile(), T0)
    failed = record(first, T0, 1, failure=True, run_status="completed")
    second = ask(profile(failed), T0 + 60 * MINUTE_MS)
    assert (second.offer.walkthrough, second.offer.reasons[0].code) == (
        "invite-short",
        "switch_variant",
    )
    assert (
        second.persona is not None and second.persona.persona == "coach"
    )  # guide avoided; one failure


def test_after_repeated_failure_a_person_is_offered_straight_away() -> None:
    first = ask(profile(), T0)
    fails = [
        record(first, T0 + i, i, failure=True, session=f"s{i}", run_status="completed")
        for i in (1, 2)
    ]
    third = ask(profile(*fails), T0 + 60 * MINUTE_MS)
    assert third.offer.kind is OfferKind.PERSON and third.faq == ()


def test_later_items_about_a_session_update_it() -> None:
    sessions = past_sessions(
        [
            item(1, 10, session="s1", place={"process": "p"}, walkthrough="w", step="a"),
            item(2, 20, session="s1", step="c", run_status="completed"),
            item(3, 30, True, session="s2", place={"process": "p"}),
            SupportItem(4, "note", 40, {}),
        ]
    )
    assert [(s.id, s.step, s.run_completed, s.failed, s.at_ms) for s in sessions] == [
        ("s1", "c", True, False, 10),
        ("s2", None, False, True, 30),
    ]


def test_run_progress_completes_the_session_record() -> None:
    from server.support.run import StepEvent, advance, start_run

    run = start_run("run-1", "invite-teammate", 1, ["a", "b"], now_ms=T0, session="s1")
    run = advance(run, "a", StepEvent.COMPLETED, now_ms=T0 + 1).run
    [session] = past_sessions(
        [
            item(
                1,
                T0,
                session="s1",
                place={"process": "invite-teammate"},
                walkthrough="invite-teammate",
            )
        ],
        [run],
    )
    assert (session.step, session.run_completed, session.last_progress_ms) == ("b", False, T0 + 1)
    later = ask(
        profile(
            item(
                1,
                T0,
                session="s1",
                place={"process": "invite-teammate"},
                walkthrough="invite-teammate",
            )
        ),
        T0 + 31 * MINUTE_MS,
    )
    assert (
        later.offer.kind is OfferKind.WALKTHROUGH
    )  # without the run's progress the session looks like a fresh offer
    resumed = decide_help(
        HelpRequest("s2", process="invite-teammate"), profile(item(1, T0, session="s1", place={"process": "invite-teammate"}, walkthrough="invite-teammate")),
        walkthroughs=WALKTHROUGHS, faq_hits=(), personae=PERSONAE, now_ms=T0 + 31 * MINUTE_MS, runs=[run],
    )  # fmt: skip
    assert (resumed.offer.kind, resumed.offer.step) == (
        OfferKind.RESUME,
        "b",
    )  # 30 min without progress: abandoned
