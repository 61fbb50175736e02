"""Referred visitors to live agents: presence, assignments, offers that lapse (``support.routing`` decides).

An agent is online while they said so in the console and their console keeps
asking for news (it refreshes itself): an agent whose console has been quiet
for ``SEEN_WITHIN_MS`` counts as offline, so a closed laptop never holds
visitors. Each referred session gets an assignment in the store — queued,
offered to an agent, accepted, closed — moved only by compare-and-set, so two
nodes never offer one session twice. ``dispatch`` routes the site's queue in
order and re-routes offers not accepted within the offer timeout, skipping the
agent who let it lapse.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import msgspec

from server.knowledge.site import Site
from server.store.base import AccountRecord, Assignment
from server.support.history import Reason
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
    route,
)

if TYPE_CHECKING:
    from server.web.state import AppState

#: An agent whose console has not asked for news for this long counts as offline.
SEEN_WITHIN_MS = 90_000
#: A visitor still waiting after this long has gone (or been emailed): no agent is offered them.
QUEUED_FOR_AT_MOST_MS = 2 * 3600 * 1000
#: A session an agent took and never closed is closed after this long.
ACCEPTED_FOR_AT_MOST_MS = 12 * 3600 * 1000
AGENT_ROLES = frozenset({"agent", "admin"})
RULES = RoutingRules()


def agents_of(
    accounts: list[AccountRecord], assignments: list[Assignment], now_ms: int
) -> list[Agent]:
    """The site's agents as routing sees them: presence as of now, open sessions (offers included)."""
    busy: dict[str, int] = {}
    for a in assignments:
        if a.state in ("offered", "accepted") and a.agent:
            busy[a.agent] = busy.get(a.agent, 0) + 1
    agents = []
    for account in accounts:
        if account.role not in AGENT_ROLES:
            continue
        quiet = now_ms - account.seen_ms > SEEN_WITHIN_MS
        presence = Presence.OFFLINE if quiet else Presence(account.presence)
        agents.append(
            Agent(
                account.email,
                presence,
                frozenset(account.skills),
                account.capacity,
                busy.get(account.email, 0),
                account.idle_since_ms,
            )
        )
    return agents


def channel_of(decision: Decision) -> str:
    """Where a referral goes: an agent, the chat while agents are busy, email or a call-back when none
    is online, or ``queue`` when the site has no such channel (the next agent online picks it up)."""
    return decision.channel.value if decision.channel is not None else "queue"


def waiting(decision: Decision) -> dict[str, int]:
    """The visitor's place in line and the estimated wait, when they wait for an agent."""
    if decision.outcome is not Outcome.QUEUED or decision.position is None:
        return {}
    return {
        "position": decision.position,
        **({"wait_ms": decision.wait_ms} if decision.wait_ms else {}),
    }


def needs_of(site: Site, persona: str | None) -> frozenset[str]:
    """What a referred session needs of an agent: its persona's role and skills."""
    found = next((p for p in site.personae if p.id == persona), None)
    return frozenset({found.role, *found.skills}) if found else frozenset()


async def refer(
    state: AppState, site: Site, user: str, session: str, persona: str | None, *, now_ms: int
) -> Decision:
    """Queue a referred session for the site's agents and route the queue; this session's decision."""
    await state.store.add_assignment(
        Assignment(
            site.key, session, user, "queued", now_ms, needs=tuple(sorted(needs_of(site, persona)))
        )
    )
    decisions = await dispatch(state, site, now_ms=now_ms, referring=session)
    decided = decisions.get(session)
    if decided is not None:
        return decided
    # Another dispatch (a referral at the same moment, or another node's) routed it first.
    return routed_before(await state.store.open_assignment(site.key, session))


def routed_before(found: Assignment | None) -> Decision:
    """A referred session's decision when another dispatch routed it before its own: offered to
    (or taken by) an agent is assigned to that agent, as a direct offer is; else it waits."""
    if found is not None and found.state in ("offered", "accepted") and found.agent:
        reason = Reason("routed_by_another_dispatch", {"agent": found.agent})
        return Decision(Outcome.ASSIGNED, (reason,), Channel.LIVE_AGENT, agent=found.agent)
    return Decision(Outcome.QUEUED, (), None)


async def dispatch(
    state: AppState, site: Site, *, now_ms: int, referring: str | None = None
) -> dict[str, Decision]:
    """Route every queued session in order, and every offer that lapsed; each one's decision.

    One dispatch of a site at a time in this process, so an agent's load is never counted
    twice by two dispatches at once (another process's offer loses its compare-and-set and
    the session waits for the next dispatch).
    """
    lock = state.dispatching.setdefault(site.key, asyncio.Lock())
    async with lock:
        return await _dispatch(state, site, now_ms=now_ms, referring=referring)


async def _dispatch(
    state: AppState, site: Site, *, now_ms: int, referring: str | None
) -> dict[str, Decision]:
    store = state.store
    accounts = await store.list_accounts(site.key)
    assignments = []
    for a in await store.open_assignments(site.key):
        stale = (a.state == "queued" and now_ms - a.queued_ms > QUEUED_FOR_AT_MOST_MS) or (
            a.state == "accepted" and now_ms - a.accepted_ms > ACCEPTED_FOR_AT_MOST_MS
        )
        if not stale:
            assignments.append(a)
        elif await store.update_assignment(
            replace(a, state="closed", closed_ms=now_ms), revision=a.revision
        ):
            await store.append_audit(
                site.key, at_ms=now_ms, actor="system", action="assignment.expired", target=a.session,
                detail={"state": a.state, "agent": a.agent},
            )  # fmt: skip
            if a.state == "accepted":
                from server.web import cobrowse

                await cobrowse.end(state, site, a.session)
    waiting = [a for a in assignments if a.state == "queued"]
    for a in assignments:
        if a.state == "offered" and expired(
            AgentOffer(a.session, a.agent, a.offered_ms), now_ms, RULES
        ):
            skipped = a.skipped if a.agent in a.skipped else (*a.skipped, a.agent)
            lapsed = replace(a, state="queued", agent="", skipped=skipped)
            if await store.update_assignment(lapsed, revision=a.revision):
                waiting.append(replace(lapsed, revision=a.revision + 1))
    decisions: dict[str, Decision] = {}
    for request in queue_order(_request(w) for w in waiting):
        current = await store.open_assignments(site.key)  # what this loop (or another node) changed
        queued = next(
            (x for x in current if x.session == request.session_id and x.state == "queued"), None
        )
        if queued is None:
            continue
        decision = route(
            request, agents_of(accounts, current, now_ms), now_ms, RULES,
            queue=[_request(x) for x in current if x.state == "queued"], skip=queued.skipped,
            email=site.config.channels.email is not None, estimator=state.waits.get(site.key),
        )  # fmt: skip
        if decision.outcome is Outcome.ASSIGNED and decision.agent:
            offered = replace(queued, state="offered", agent=decision.agent, offered_ms=now_ms)
            if not await store.update_assignment(offered, revision=queued.revision):
                decision = replace(decision, outcome=Outcome.QUEUED, agent=None)  # moved elsewhere
        elif (
            decision.outcome is Outcome.FALLBACK
            and decision.channel is not None
            and request.session_id != referring  # its referral hands it to the channel itself
        ):
            await _fall_back(state, site, queued, decision.channel.value, now_ms=now_ms)
        decisions[request.session_id] = decision
    still = [a for a in await store.open_assignments(site.key) if a.state == "queued"]
    state.metrics.queue.labels(site.key).set(len(still))
    return decisions


async def _fall_back(
    state: AppState, site: Site, waiting: Assignment, channel: str, *, now_ms: int
) -> None:
    """A visitor waiting for an agent when the last one went away: their session goes to the
    site's email (or call-back) after all, and they are told — unless it went there already
    when they were referred."""
    from server.web import referrals

    trail = await state.store.support_session(site.key, waiting.session)
    if trail is None:
        return
    user, items = trail
    referral = next((i.payload for i in reversed(items) if "referral" in i.payload), None)
    if referral is None or referral["referral"].get("channel") == channel:
        return
    closed = replace(waiting, state="closed", closed_ms=now_ms)
    if not await state.store.update_assignment(closed, revision=waiting.revision):
        return
    await state.store.append_audit(
        site.key, at_ms=now_ms, actor="system", action="assignment.fallback",
        target=waiting.session, detail={"channel": channel},
    )  # fmt: skip
    item = {**referral, "referral": {**referral["referral"], "channel": channel}}
    referrals.hand_off(state, site, user, None, waiting.session, item, None, now_ms=now_ms)
    await referrals.offer_person(
        state, site, user, None, waiting.session, None, {}, channel=channel
    )


def _request(assignment: Assignment) -> Request:
    return Request(assignment.session, assignment.queued_ms, skills=frozenset(assignment.needs))


async def accept(state: AppState, site: Site, session: str, agent: str, *, now_ms: int) -> bool:
    """The agent accepts the session offered to them (in time); whether it is theirs now."""
    found = await state.store.open_assignment(site.key, session)
    if found is None or found.state != "offered" or found.agent != agent:
        return False
    if expired(AgentOffer(found.session, found.agent, found.offered_ms), now_ms, RULES):
        return False
    taken = await state.store.update_assignment(
        replace(found, state="accepted", accepted_ms=now_ms), revision=found.revision
    )
    if taken:  # how long this visitor waited teaches the estimate the next ones are told
        previous = state.waits.get(site.key) or WaitEstimator.for_rules(RULES)
        state.waits[site.key] = previous.observe(now_ms - found.queued_ms)
        from server.support.help import SUPPORT_SESSION

        await state.store.append_support_item(
            site.key, found.user_id, SUPPORT_SESSION, at_ms=now_ms,
            payload={"session": session, "agent_accepted": {"agent": agent, "waited_ms": now_ms - found.queued_ms}},
        )  # fmt: skip
    return taken


OUTCOMES = ("resolved", "not_resolved", "follow_up")


async def close(
    state: AppState, site: Site, session: str, agent: AccountRecord, outcome: str, *, now_ms: int
) -> bool:
    """The agent who took the session closes it with its outcome; the visitor is asked to rate it."""
    from server.protocol.messages import HelpAnswer
    from server.support.help import SUPPORT_SESSION

    found = await state.store.open_assignment(site.key, session)
    if (
        found is None
        or found.state != "accepted"
        or found.agent != agent.email
        or outcome not in OUTCOMES
    ):
        return False
    if not await state.store.update_assignment(
        replace(found, state="closed", closed_ms=now_ms), revision=found.revision
    ):
        return False
    await state.store.finished_session(site.key, agent.email, now_ms=now_ms)
    await state.store.append_support_item(
        site.key, found.user_id, SUPPORT_SESSION, at_ms=now_ms,
        payload={"session": session, "agent_outcome": {"outcome": outcome, "agent": agent.email, "at_ms": now_ms}},
        failure=outcome == "not_resolved", failure_reason="not_resolved_by_agent" if outcome == "not_resolved" else None,
    )  # fmt: skip
    answer = HelpAnswer(
        req=0, session=session, offer="person", rate=True,
        text=f"{agent.name} has closed this conversation. How did we do?",
        persona={"id": "agent", "name": agent.name, "avatar": agent.name[:1].upper()},
    )  # fmt: skip
    from server.web import cobrowse, delivery

    await delivery.to_visitor(state, site.key, found.user_id, answer)
    await cobrowse.end(state, site, session)  # the page stops being shown, the banner goes
    return True


@dataclass(frozen=True)
class Pushed:
    """A walkthrough an agent started for the visitor: its run, and whether its page got it
    (when not, the run was stored and is marked abandoned: the visitor may resume it)."""

    run: str
    delivered: bool


async def push_walkthrough(
    state: AppState,
    site: Site,
    session: str,
    agent: AccountRecord,
    walkthrough: str,
    *,
    now_ms: int,
) -> Pushed | None:
    """The agent who holds the session starts a walkthrough in the visitor's tab (their focused one,
    else the most recent); None when there is no such walkthrough or tab, or the session is not
    theirs. A run started for a tab that its page then never got is marked abandoned."""
    from server.protocol.messages import RunMessage, Start
    from server.support.run import abandon
    from server.web import delivery, runs
    from server.web.help import where_is

    found = await state.store.open_assignment(site.key, session)
    if found is None or found.state != "accepted" or found.agent != agent.email:
        return None
    place = await where_is(state, site.key, found.user_id, None)
    if place is None:  # no tab open, on any node
        return None
    tab = runs.VisitorTab(state, site, found.user_id, place.tab)
    answer = await runs.start(
        tab, Start(req=1, walkthrough=walkthrough, session=session), now_ms=now_ms
    )
    if not isinstance(answer, RunMessage):
        return None
    pushed = msgspec.structs.replace(answer, req=0)  # not the page's request: the agent's
    if await delivery.to_tab(state, site.key, place.tab, pushed, user=found.user_id):
        return Pushed(answer.run, delivered=True)
    # The tab went away meanwhile (its node died, it closed): the run it never got is abandoned.
    stored = await state.store.get_run(site.key, answer.run)
    if stored is not None:
        abandoned = abandon(stored.run, now_ms=now_ms)
        await state.store.update_run(site.key, place.tab, abandoned, revision=stored.revision)
    return Pushed(answer.run, delivered=False)


async def tell_visitor(
    state: AppState, site: Site, session: str, agent: AccountRecord, *, now_ms: int
) -> None:
    """The visitor of an accepted session hears who is with them now (in every tab of theirs)."""
    from server.protocol.messages import HelpAnswer
    from server.web import delivery

    found = await state.store.support_session(site.key, session)
    if found is None:
        return
    user, _ = found
    answer = HelpAnswer(
        req=0, session=session, offer="person",
        text=f"{agent.name} from the team is with you now.", channel="live_agent", chat=True,
        persona={"id": "agent", "name": agent.name, "avatar": agent.name[:1].upper()},
    )  # fmt: skip
    await delivery.to_visitor(state, site.key, user, answer)
