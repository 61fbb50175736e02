"""Routing to live agents: assign, queue or fall back, the wait estimate and lapsed offers, one row per rule."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from server.support.referral import Channel
from server.support.routing import (
    Agent,
    AgentOffer,
    Decision,
    Outcome,
    Presence,
    Request,
    RoutingRules,
    WaitEstimator,
    expired,
    queue_order,
    queue_position,
    route,
)

NOW = 10_000_000
ONLINE, AWAY, OFFLINE = Presence.ONLINE, Presence.AWAY, Presence.OFFLINE


def agent(
    id: str,
    *skills: str,
    presence: Presence = ONLINE,
    capacity: int = 2,
    open: int = 0,
    idle: int = NOW - 60_000,
) -> Agent:
    return Agent(id, presence, frozenset(skills), capacity, open, idle)


def request(
    waited: int = 10_000, *skills: str, role: str | None = "billing", session: str = "s1"
) -> Request:
    return Request(session, NOW - waited, role, frozenset(skills))


def codes(decision: Decision) -> tuple[str, ...]:
    return tuple(r.code for r in decision.reasons)


def estimator(*waits: int) -> WaitEstimator:
    result = WaitEstimator()
    for wait in waits:
        result = result.observe(wait)
    return result


FRESH = request(10_000, "invoices")  # needs billing (the role) and invoices; not loosened yet
LOOSE = request(60_000, "invoices")  # waited exactly loosen_after_ms
FULL = ("billing", "invoices")  # covers FRESH and LOOSE
PARTIAL = ("invoices",)  # has the skill, not the role


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("loosen_after_ms", 60_000),
        ("offer_timeout_ms", 30_000),
        ("alpha", 0.3),
        ("default_wait_ms", 120_000),
    ],
)
def test_defaults(field: str, value: float) -> None:
    assert getattr(RoutingRules(), field) == value


def test_the_default_estimator_follows_the_rules() -> None:
    rules = RoutingRules(alpha=0.5, default_wait_ms=90_000)
    assert WaitEstimator() == WaitEstimator.for_rules(RoutingRules())
    assert (WaitEstimator.for_rules(rules).alpha, WaitEstimator.for_rules(rules).average) == (
        0.5,
        90_000,
    )


@pytest.mark.parametrize(
    ("req", "agents", "skip", "chosen", "reasons"),
    [
        pytest.param(
            FRESH,
            [agent("a1", *FULL, open=1), agent("a2", *PARTIAL)],
            (),
            "a1",
            ("skills_matched", "only_candidate"),
            id="skills cover the role and the skills",
        ),
        pytest.param(
            request(10_000, role=None),
            [agent("a2", open=1), agent("a1", "other")],
            (),
            "a1",
            ("skills_matched", "fewest_open_sessions"),
            id="a request needing nothing matches anyone",
        ),
        pytest.param(
            FRESH,
            [
                agent("a1", *FULL, presence=AWAY),
                agent("a2", *FULL, presence=OFFLINE),
                agent("a3", *FULL, open=1),
            ],
            (),
            "a3",
            ("skills_matched", "only_candidate"),
            id="away and offline agents are ignored",
        ),
        pytest.param(
            FRESH,
            [agent("a1", *FULL, capacity=2, open=2), agent("a2", *FULL, capacity=2, open=1)],
            (),
            "a2",
            ("skills_matched", "only_candidate"),
            id="an agent with capacity exactly reached is busy",
        ),
        pytest.param(
            FRESH,
            [agent("a1", *FULL, open=1), agent("a2", *FULL, open=0, idle=NOW)],
            (),
            "a2",
            ("skills_matched", "fewest_open_sessions"),
            id="fewest open sessions first",
        ),
        pytest.param(
            FRESH,
            [agent("a1", *FULL, idle=NOW - 5_000), agent("a2", *FULL, idle=NOW - 9_000)],
            (),
            "a2",
            ("skills_matched", "longest_idle"),
            id="tie on open sessions: the longest idle",
        ),
        pytest.param(
            FRESH,
            [agent("a2", *FULL), agent("a1", *FULL)],
            (),
            "a1",
            ("skills_matched", "lowest_agent_id"),
            id="tie on open sessions and idle time: the agent id",
        ),
        pytest.param(
            LOOSE,
            [agent("a1", *PARTIAL)],
            (),
            "a1",
            ("loosened_after_timeout", "only_candidate"),
            id="skills partly covered at the loosen timeout",
        ),
        pytest.param(
            request(59_999, "invoices"),
            [agent("a1", *FULL, open=2), agent("a2", *PARTIAL)],
            (),
            None,
            ("all_busy", "wait_estimated"),
            id="skills partly covered 1 ms before the loosen timeout",
        ),
        pytest.param(
            LOOSE,
            [agent("a1", *FULL, open=1), agent("a2", *PARTIAL, open=0)],
            (),
            "a1",
            ("skills_matched", "only_candidate"),
            id="after loosening, agents covering the needs still come first",
        ),
        pytest.param(
            LOOSE,
            [
                agent("a1", *FULL, open=2),
                agent("a3", "x", open=1),
                agent("a2", *PARTIAL, open=1, idle=NOW - 90_000),
            ],
            (),
            "a2",
            ("loosened_after_timeout", "longest_idle"),
            id="after loosening, the skilled all busy: any online agent under capacity",
        ),
        pytest.param(
            FRESH,
            [agent("a1", *FULL), agent("a2", *FULL, open=1)],
            ("a1",),
            "a2",
            ("reassigned_after_timeout", "skills_matched", "only_candidate"),
            id="reassigned, skipping the agent who let the offer lapse",
        ),
        pytest.param(
            FRESH,
            [agent("a1", *FULL), agent("a2", *FULL, open=2)],
            ("a1",),
            "a1",
            (
                "reassigned_after_timeout",
                "skills_matched",
                "only_candidate",
                "reoffered_no_one_else",
            ),
            id="offered to the same agent again when nobody else can take it",
        ),
        pytest.param(
            LOOSE,
            [agent("a1", *FULL), agent("a2", *PARTIAL, open=1)],
            ("a1",),
            "a2",
            ("reassigned_after_timeout", "loosened_after_timeout", "only_candidate"),
            id="after loosening, anyone else before the agent who let it lapse",
        ),
        pytest.param(
            FRESH,
            [agent("a1", *FULL), agent("a2", *PARTIAL)],
            ("a1",),
            "a1",
            (
                "reassigned_after_timeout",
                "skills_matched",
                "only_candidate",
                "reoffered_no_one_else",
            ),
            id="before loosening, an unskilled agent is not someone else who can take it",
        ),
    ],
)
def test_assignment(
    req: Request,
    agents: list[Agent],
    skip: tuple[str, ...],
    chosen: str | None,
    reasons: tuple[str, ...],
) -> None:
    decision = route(req, agents, NOW, skip=frozenset(skip))
    assert (decision.agent, codes(decision)) == (chosen, reasons)
    if chosen is not None:
        assert (decision.outcome, decision.channel) == (Outcome.ASSIGNED, Channel.LIVE_AGENT)
        assert (decision.position, decision.wait_ms) == (None, None)


def test_the_reasons_carry_their_evidence() -> None:
    loose = route(LOOSE, [agent("a1", *PARTIAL, open=1, idle=NOW - 7_000)], NOW)
    assert loose.reasons[0].detail == {
        "needs": ["billing", "invoices"],
        "missing": ["billing"],
        "waited_ms": 60_000,
        "loosen_after_ms": 60_000,
    }
    assert loose.reasons[1].detail == {"open_sessions": 1, "idle_ms": 7_000}
    tie = route(
        FRESH, [agent("a1", *FULL, idle=NOW - 9_000), agent("a2", *FULL, idle=NOW - 5_000)], NOW
    )
    assert tie.reasons[1].detail == {"open_sessions": 0, "idle_ms": 9_000, "next_idle_ms": 5_000}
    lapsed = route(FRESH, [agent("a1", *FULL)], NOW, skip={"a1", "a0"})
    assert lapsed.reasons[0].detail == {"skipped": ["a0", "a1"]}
    assert lapsed.reasons[-1].detail == {"agent": "a1"}


def test_loosening_follows_the_rules() -> None:
    agents = [agent("a1", *PARTIAL)]
    assert route(FRESH, agents, NOW, RoutingRules(loosen_after_ms=10_000)).agent == "a1"
    assert route(LOOSE, agents, NOW, RoutingRules(loosen_after_ms=60_001)).agent is None


# A queue of four: s2 and s3 were queued at the same time (ties by session id), s4 last.
QUEUE = [
    request(40_000, session="s4"),
    request(50_000, session="s3"),
    request(90_000, session="s1"),
    request(50_000, session="s2"),
]


@pytest.mark.parametrize(
    ("req", "position"),
    [
        pytest.param(QUEUE[2], 1, id="the earliest is first"),
        pytest.param(QUEUE[3], 2, id="a tie on queued_at: s2 before s3"),
        pytest.param(QUEUE[1], 3, id="s3 after s2"),
        pytest.param(QUEUE[0], 4, id="the latest is last"),
        pytest.param(request(1_000, session="s0"), 5, id="a request not in the queue yet"),
        pytest.param(request(50_000, session="s25"), 3, id="a new request tied with s2 and s3"),
    ],
)
def test_queue_positions(req: Request, position: int) -> None:
    assert queue_position(req, QUEUE) == position
    decision = route(req, [agent("a1", "billing", open=2)], NOW, queue=QUEUE)
    assert (decision.outcome, decision.position) == (Outcome.QUEUED, position)


def test_queue_order_is_fifo_with_ties_by_session_id() -> None:
    assert [r.session_id for r in queue_order(QUEUE)] == ["s1", "s2", "s3", "s4"]


@pytest.mark.parametrize(
    ("req", "agents", "history", "position", "wait", "why"),
    [
        pytest.param(
            FRESH,
            [agent("a1", *FULL, open=2), agent("a2", *FULL, capacity=1, open=1)],
            (),
            1,
            60_000,
            {"matching": 2, "loosened": False},
            id="all skilled agents busy: the default 120 s over 2 agents",
        ),
        pytest.param(
            FRESH,
            [
                agent("a1", *FULL, open=2),
                agent("a2", *FULL, presence=AWAY),
                agent("a3", *PARTIAL, open=2),
            ],
            (60_000,),
            3,
            180_000,
            {"matching": 1, "loosened": False},
            id="away and unskilled agents do not count as matching; position 3",
        ),
        pytest.param(
            LOOSE,
            [agent("a1", *FULL, open=2), agent("a2", *PARTIAL, open=2), agent("a3", open=2)],
            (60_000, 120_000),
            2,
            52_000,
            {"matching": 3, "loosened": True},
            id="loosened and everyone busy: all online agents match",
        ),
        pytest.param(
            FRESH,
            [agent("a1", *PARTIAL)],
            (10_000,),
            1,
            50_000,
            {"needs": ["billing", "invoices"], "loosen_in_ms": 50_000},
            id="no skilled agent online: at least until loosening",
        ),
        pytest.param(
            FRESH,
            [agent("a1", *PARTIAL), agent("a2", "x", open=2)],
            (),
            1,
            60_000,
            {"needs": ["billing", "invoices"], "loosen_in_ms": 50_000},
            id="no skilled agent online: the estimate over all online agents when longer",
        ),
    ],
)
def test_queued(
    req: Request,
    agents: list[Agent],
    history: tuple[int, ...],
    position: int,
    wait: int,
    why: dict[str, object],
) -> None:
    queue = [request(100_000 + i, session=f"q{i}") for i in range(position - 1)]
    decision = route(req, agents, NOW, queue=queue, estimator=estimator(*history))
    assert (decision.outcome, decision.agent, decision.position, decision.wait_ms) == (
        Outcome.QUEUED,
        None,
        position,
        wait,
    )
    assert decision.channel is Channel.CHAT  # choose_channel: agents online, none free
    assert decision.reasons[0].detail == why
    assert decision.reasons[-1].code == "wait_estimated"


def test_a_queued_decision_says_what_the_estimate_rests_on() -> None:
    busy = [agent("a1", *FULL, open=2)]
    assert route(FRESH, busy, NOW).reasons[-1].detail == {
        "position": 1,
        "average_ms": 120_000,
        "basis": "default",
        "observations": 0,
    }
    assert route(FRESH, busy, NOW, estimator=estimator(60_000, 120_000)).reasons[-1].detail == {
        "position": 1,
        "average_ms": 78_000,
        "basis": "history",
        "observations": 2,
    }
    assert route(FRESH, busy, NOW, RoutingRules(default_wait_ms=30_000)).wait_ms == 30_000


@pytest.mark.parametrize(
    ("agents", "email", "callback", "channel", "reasons"),
    [
        pytest.param([], True, False, Channel.EMAIL, ("nobody_online",), id="no agents: email"),
        pytest.param(
            [agent("a1", *FULL, presence=AWAY), agent("a2", *FULL, presence=OFFLINE)],
            True,
            False,
            Channel.EMAIL,
            ("nobody_online",),
            id="away and offline only: email",
        ),
        pytest.param(
            [agent("a1", presence=AWAY)],
            True,
            True,
            Channel.CALLBACK,
            ("nobody_online",),
            id="a call-back when configured",
        ),
        pytest.param(
            [agent("a1", presence=OFFLINE)],
            False,
            False,
            None,
            ("nobody_online", "no_fallback_channel"),
            id="no fallback channel configured",
        ),
    ],
)
def test_nobody_online(
    agents: list[Agent],
    email: bool,
    callback: bool,
    channel: Channel | None,
    reasons: tuple[str, ...],
) -> None:
    decision = route(LOOSE, agents, NOW, email=email, callback=callback)
    assert (decision.outcome, decision.channel, codes(decision)) == (
        Outcome.FALLBACK,
        channel,
        reasons,
    )
    assert (decision.agent, decision.position, decision.wait_ms) == (None, None, None)


def test_nobody_online_names_who_is_away() -> None:
    agents = [agent("a2", presence=AWAY), agent("a1", presence=AWAY), agent("a3", presence=OFFLINE)]
    assert route(FRESH, agents, NOW).reasons[0].detail == {"away": ["a1", "a2"], "channel": "email"}


@pytest.mark.parametrize(
    ("waits", "alpha", "average"),
    [
        pytest.param((), 0.3, 120_000.0, id="no history: the default"),
        pytest.param((60_000,), 0.3, 60_000.0, id="the first wait becomes the average"),
        pytest.param((60_000, 120_000), 0.3, 78_000.0, id="0.3 x 120 s + 0.7 x 60 s"),
        pytest.param((60_000, 120_000, 30_000), 0.3, 63_600.0, id="0.3 x 30 s + 0.7 x 78 s"),
        pytest.param(
            (60_000, 120_000, 30_000, 90_000), 0.3, 71_520.0, id="0.3 x 90 s + 0.7 x 63.6 s"
        ),
        pytest.param((60_000, 120_000, 30_000), 0.5, 60_000.0, id="alpha 0.5"),
        pytest.param((60_000, 120_000), 1.0, 120_000.0, id="alpha 1: the last wait"),
    ],
)
def test_ewma(waits: tuple[int, ...], alpha: float, average: float) -> None:
    result = WaitEstimator(alpha=alpha)
    for wait in waits:
        result = result.observe(wait)
    assert (result.average, result.observations) == (average, len(waits))


def test_observe_leaves_the_estimator_unchanged() -> None:
    before = estimator(60_000)
    after = before.observe(120_000)
    assert (before.average, before.observations) == (60_000, 1)
    assert after is not before and after.average == 78_000


@pytest.mark.parametrize(
    ("waits", "position", "agents", "wait"),
    [
        pytest.param((), 1, 1, 120_000, id="the default for the next in line with one agent"),
        pytest.param((), 3, 2, 180_000, id="scaled by position, divided by agents"),
        pytest.param((60_000, 120_000), 2, 3, 52_000, id="78 s x 2 / 3"),
        pytest.param((60_000, 120_000, 30_000), 1, 3, 21_200, id="63.6 s / 3"),
        pytest.param((60_000, 120_000, 30_000, 90_000), 1, 7, 10_217, id="rounded to the ms"),
        pytest.param((60_000,), 1, 0, None, id="no agent online: no estimate"),
    ],
)
def test_estimate(waits: tuple[int, ...], position: int, agents: int, wait: int | None) -> None:
    assert estimator(*waits).estimate(position, agents) == wait


@pytest.mark.parametrize(
    ("make", "message"),
    [
        pytest.param(
            lambda: WaitEstimator().estimate(0, 1), "positions start at 1", id="position 0"
        ),
        pytest.param(lambda: WaitEstimator().observe(-1), "negative", id="negative wait"),
        pytest.param(lambda: WaitEstimator(alpha=0), "alpha", id="alpha 0"),
        pytest.param(lambda: RoutingRules(alpha=1.5), "alpha", id="alpha above 1"),
        pytest.param(lambda: RoutingRules(offer_timeout_ms=-1), "negative", id="negative timeout"),
    ],
)
def test_invalid_values_are_refused(make: Callable[[], object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()


@pytest.mark.parametrize(
    ("elapsed", "rules", "lapsed"),
    [
        pytest.param(29_999, RoutingRules(), False, id="1 ms before 30 s"),
        pytest.param(30_000, RoutingRules(), True, id="at exactly 30 s"),
        pytest.param(45_000, RoutingRules(), True, id="after 30 s"),
        pytest.param(45_000, RoutingRules(offer_timeout_ms=60_000), False, id="a longer timeout"),
    ],
)
def test_offer_expiry(elapsed: int, rules: RoutingRules, lapsed: bool) -> None:
    offer = AgentOffer("s1", "a1", NOW)
    assert expired(offer, NOW + elapsed, rules) is lapsed


def test_a_lapsed_offer_goes_to_someone_else() -> None:
    agents = [agent("a1", *FULL), agent("a2", *FULL, open=1)]
    first = route(FRESH, agents, NOW)
    assert first.agent == "a1"
    offer = AgentOffer(FRESH.session_id, "a1", NOW)
    later = NOW + 30_000
    assert expired(offer, later, RoutingRules())
    again = route(FRESH, agents, later, skip={offer.agent_id})
    assert again.agent == "a2"
