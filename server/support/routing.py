"""Routing a referred visitor to a live agent: assign, queue, or fall back (the live-agent channel).

Rules, in order:

1. nobody online (away and offline agents do not count) → the fallback
   channel ``choose_channel`` gives when none is online: a call-back when
   configured, else email, else none;
2. the candidates are online agents under capacity (open sessions < capacity)
   whose skills cover what the request needs (the persona's skills and its
   role, the role counting as a skill); once the request has waited
   ``loosen_after_ms`` (60 s) since it was queued, any online agent under
   capacity is a candidate too, agents covering the needs still first;
3. agents who let this offer lapse (``skip``) are passed over unless no one
   else can take it;
4. among candidates: fewest open sessions first, then the longest idle, then
   the agent id (determinism);
5. no candidate → queued: the position is the request's place in the queue
   (FIFO by ``queued_at_ms``, ties by session id) and the wait is estimated
   by ``WaitEstimator``.

Wait estimate: ``round(average * position / agents)`` ms, where ``average`` is
the exponentially smoothed average of observed waits (the first wait observed
becomes the average, each later wait ``w`` gives ``alpha * w + (1 - alpha) *
average``; ``default_wait_ms``, 120 s, before any wait is observed),
``position`` starts at 1 and ``agents`` is the number of online agents
matching the request (no agent: no estimate). Before loosening with no
skilled agent online, ``agents`` is every online agent and the estimate is at
least the time left until loosening.

An offer not accepted within ``offer_timeout_ms`` (30 s) has ``expired``; the
request is routed again with its agent in ``skip``. Every decision carries
machine-readable reasons. Pure: ``now_ms`` is passed in.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from server.support.history import Reason
from server.support.referral import Channel, choose_channel

SECOND_MS = 1000


class Presence(enum.StrEnum):
    ONLINE = "online"
    AWAY = "away"
    OFFLINE = "offline"


@dataclass(frozen=True)
class Agent:
    id: str
    presence: Presence
    skills: frozenset[str] = frozenset()
    capacity: int = 3  # the most sessions open at once
    open_sessions: int = 0
    idle_since_ms: int = 0  # when their last session ended or they came online

    @property
    def online(self) -> bool:
        return self.presence is Presence.ONLINE

    @property
    def free(self) -> bool:
        """Online and under capacity."""
        return self.online and self.open_sessions < self.capacity

    def covers(self, needs: Collection[str]) -> bool:
        return self.skills.issuperset(needs)


@dataclass(frozen=True)
class Request:
    """A referred visitor waiting for an agent: what the persona that referred them needs."""

    session_id: str
    queued_at_ms: int
    role: str | None = None
    skills: frozenset[str] = frozenset()

    @property
    def needs(self) -> frozenset[str]:
        """The skills an agent needs to take it: the persona's skills and its role."""
        return self.skills | {self.role} if self.role else self.skills

    @property
    def order(self) -> tuple[int, str]:
        return (self.queued_at_ms, self.session_id)


@dataclass(frozen=True)
class RoutingRules:
    loosen_after_ms: int = 60 * SECOND_MS
    offer_timeout_ms: int = 30 * SECOND_MS
    alpha: float = 0.3  # weight of the newest wait in the smoothed average
    default_wait_ms: int = 120 * SECOND_MS  # the average before any wait is observed

    def __post_init__(self) -> None:
        _check(self.alpha, self.default_wait_ms)
        if self.loosen_after_ms < 0 or self.offer_timeout_ms < 0:
            raise ValueError("loosen_after_ms and offer_timeout_ms must not be negative")


def _check(alpha: float, default_wait_ms: int) -> None:
    if not 0 < alpha <= 1:
        raise ValueError(f"alpha must be in (0, 1], not {alpha}")
    if default_wait_ms < 0:
        raise ValueError("default_wait_ms must not be negative")


@dataclass(frozen=True)
class WaitEstimator:
    """The smoothed average of recent waits for an agent (immutable: ``observe`` returns a new one)."""

    alpha: float = 0.3
    default_wait_ms: int = 120 * SECOND_MS
    average_ms: float | None = None  # None: no wait observed yet
    observations: int = 0

    def __post_init__(self) -> None:
        _check(self.alpha, self.default_wait_ms)

    @classmethod
    def for_rules(cls, rules: RoutingRules) -> WaitEstimator:
        return cls(alpha=rules.alpha, default_wait_ms=rules.default_wait_ms)

    def observe(self, wait_ms: int) -> WaitEstimator:
        """With one more observed wait: the first becomes the average, later ones are smoothed in."""
        if wait_ms < 0:
            raise ValueError("a wait cannot be negative")
        average = (
            float(wait_ms)
            if self.average_ms is None
            else self.alpha * wait_ms + (1 - self.alpha) * self.average_ms
        )
        return replace(self, average_ms=average, observations=self.observations + 1)

    @property
    def average(self) -> float:
        return self.default_wait_ms if self.average_ms is None else self.average_ms

    def estimate(self, position: int, agents: int) -> int | None:
        """``round(average * position / agents)`` ms; None (no estimate) without agents."""
        if position < 1:
            raise ValueError("queue positions start at 1")
        if agents <= 0:
            return None
        return round(self.average * position / agents)


@dataclass(frozen=True)
class AgentOffer:
    """A request offered to an agent, waiting for them to accept it."""

    session_id: str
    agent_id: str
    offered_at_ms: int


def expired(offer: AgentOffer, now_ms: int, rules: RoutingRules | None = None) -> bool:
    """Not accepted within ``offer_timeout_ms``: route the request again, skipping this agent."""
    rules = rules or RoutingRules()
    return now_ms - offer.offered_at_ms >= rules.offer_timeout_ms


class Outcome(enum.StrEnum):
    ASSIGNED = "assigned"  # offered to ``agent`` for co-browsing
    QUEUED = "queued"  # agents online, none can take it now
    FALLBACK = "fallback"  # nobody online: ``channel`` (call-back, email, or None)


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    reasons: tuple[Reason, ...]
    channel: Channel | None  # as ``choose_channel`` gives it
    agent: str | None = None
    position: int | None = None  # 1 = next
    wait_ms: int | None = None


def queue_order(queue: Iterable[Request]) -> list[Request]:
    """FIFO by when each was queued, ties by session id: the order to route them in."""
    return sorted(queue, key=lambda r: r.order)


def queue_position(request: Request, queue: Iterable[Request]) -> int:
    """1 + the requests queued before this one (the request itself may be in ``queue`` or not)."""
    return 1 + sum(
        1 for r in queue if r.session_id != request.session_id and r.order < request.order
    )


def _ranked(agents: Iterable[Agent]) -> list[Agent]:
    return sorted(agents, key=lambda a: (a.open_sessions, a.idle_since_ms, a.id))


def _tie_break(chosen: Agent, runner_up: Agent | None, now_ms: int) -> Reason:
    """Which rule picked ``chosen`` over the next best candidate."""
    detail: dict[str, Any] = {
        "open_sessions": chosen.open_sessions,
        "idle_ms": now_ms - chosen.idle_since_ms,
    }
    if runner_up is None:
        return Reason("only_candidate", detail)
    if chosen.open_sessions < runner_up.open_sessions:
        return Reason("fewest_open_sessions", {**detail, "next": runner_up.open_sessions})
    if chosen.idle_since_ms < runner_up.idle_since_ms:
        return Reason("longest_idle", {**detail, "next_idle_ms": now_ms - runner_up.idle_since_ms})
    return Reason("lowest_agent_id", {**detail, "next": runner_up.id})


def route(
    request: Request,
    agents: Sequence[Agent],
    now_ms: int,
    rules: RoutingRules | None = None,
    *,
    queue: Iterable[Request] = (),
    skip: Collection[str] = frozenset(),
    estimator: WaitEstimator | None = None,
    email: bool = True,
    callback: bool = False,
) -> Decision:
    """Assign ``request`` to an agent, queue it, or fall back to another channel when none is online.

    ``queue``: the requests waiting (this one among them or not); ``skip``: the
    agents who let this request's offer lapse; ``email``/``callback``: the
    site's fallback channels.
    """
    rules = rules or RoutingRules()
    estimator = estimator or WaitEstimator.for_rules(rules)
    needs = request.needs
    lapsed: tuple[Reason, ...] = (
        (Reason("reassigned_after_timeout", {"skipped": sorted(skip)}),) if skip else ()
    )

    online = [a for a in agents if a.online]
    if not online:
        channel = choose_channel(agents_online=0, agents_free=0, email=email, callback=callback)
        detail = {
            "away": sorted(a.id for a in agents if a.presence is Presence.AWAY),
            "channel": channel.value if channel else None,
        }
        reasons = (*lapsed, Reason("nobody_online", detail))
        if channel is None:
            reasons = (*reasons, Reason("no_fallback_channel"))
        return Decision(Outcome.FALLBACK, reasons, channel)

    waited = now_ms - request.queued_at_ms
    loosened = waited >= rules.loosen_after_ms
    skilled = [a for a in online if a.covers(needs)]
    # Tiers in order of preference: who can take it without being offered it again first.
    tiers: list[tuple[list[Agent], bool]] = []
    for again in (False, True):
        tiers.append(([a for a in skilled if a.free and (a.id in skip) == again], False))
        if loosened:
            others = [a for a in online if not a.covers(needs)]
            tiers.append(([a for a in others if a.free and (a.id in skip) == again], True))
    for candidates, loose in tiers:
        if not candidates:
            continue
        ranked = _ranked(candidates)
        chosen = ranked[0]
        match = (
            Reason(
                "loosened_after_timeout",
                {
                    "needs": sorted(needs),
                    "missing": sorted(needs - chosen.skills),
                    "waited_ms": waited,
                    "loosen_after_ms": rules.loosen_after_ms,
                },
            )
            if loose
            else Reason("skills_matched", {"needs": sorted(needs)})
        )
        reasons = (
            *lapsed,
            match,
            _tie_break(chosen, ranked[1] if len(ranked) > 1 else None, now_ms),
        )
        if chosen.id in skip:
            reasons = (*reasons, Reason("reoffered_no_one_else", {"agent": chosen.id}))
        channel = choose_channel(
            agents_online=len(online), agents_free=len(candidates), email=email, callback=callback
        )
        return Decision(Outcome.ASSIGNED, reasons, channel, agent=chosen.id)

    position = queue_position(request, queue)
    channel = choose_channel(
        agents_online=len(online), agents_free=0, email=email, callback=callback
    )
    if loosened or skilled:
        matching = online if loosened else skilled
        wait = estimator.estimate(position, len(matching))
        why = Reason("all_busy", {"matching": len(matching), "loosened": loosened})
    else:
        loosen_in = rules.loosen_after_ms - waited
        wait = max(loosen_in, estimator.estimate(position, len(online)) or 0)
        why = Reason("no_skill_match", {"needs": sorted(needs), "loosen_in_ms": loosen_in})
    estimate = Reason(
        "wait_estimated",
        {
            "position": position,
            "average_ms": round(estimator.average),
            "basis": "default" if estimator.average_ms is None else "history",
            "observations": estimator.observations,
        },
    )
    return Decision(
        Outcome.QUEUED,
        (*lapsed, why, estimate),
        channel,
        position=position,
        wait_ms=wait,
    )
