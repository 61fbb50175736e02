"""Scoring support sessions (claim 3) and recording failures (claims 3, 9).

A support session that started a walkthrough, or that the visitor answered
"Did this help?" about, is scored by the pure ``support.effectiveness`` from
what was observed: the run (completed? how far?), the process's goal seen on
the page (a ``goal`` message, or a location matching the goal URL), the
visitor's answer, a return for help at the same place, frustration crossing
its threshold. It is scored again whenever one of those changes — the run
ends, the visitor answers, the visitor comes back for help at the same place
(which makes the score final) — and each score is appended to the profile as
a ``support_session`` item about the session, with its components, a failure
flag and reason. The first score below the threshold refers the session.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from server.knowledge.site import Site
from server.knowledge.urls import compile_pattern, matches
from server.live import TabState
from server.support.effectiveness import (
    Component,
    Effectiveness,
    EffectivenessRules,
    SessionOutcome,
    effectiveness,
)
from server.support.help import SUPPORT_SESSION
from server.support.profile import SupportItem
from server.support.referral import should_refer
from server.support.run import Run, RunStatus
from server.web import agents, referrals
from server.web.frustration import FRUSTRATION
from server.web.runs import WALKTHROUGH_RUN

if TYPE_CHECKING:
    from server.web.state import AppState

log = logging.getLogger("tandem.scoring")

#: Scores and referrals are items about a session, not new sessions: they carry this key.
SCORE_KEY = "effectiveness"
#: The visitor's answer to "Did this help?", recorded on the session.
FEEDBACK_KEY = "feedback"


def _about(items: list[SupportItem], session: str) -> list[SupportItem]:
    return [i for i in items if i.kind == SUPPORT_SESSION and i.payload.get("session") == session]


def _opening(items: list[SupportItem]) -> SupportItem | None:
    return next((i for i in items if "offer" in i.payload), None)


async def score_session(
    state: AppState, site: Site, user: str, session: str, *, now_ms: int,
    tab: TabState | None = None,
) -> Effectiveness | None:  # fmt: skip
    """Score one session as of ``now_ms``, record it when it changed, refer it when it first fails."""
    site = state.sites.get(site.key, site)  # as configured now: an admin may have changed it
    store = state.store
    profile = await store.get_profile(site.key, user)
    if profile is None:
        return None
    about = _about(list(profile.items), session)
    opened = _opening(about)
    if opened is None or opened.payload.get("channel") == "frustration":
        return None  # unknown, or a referral itself rather than automated help
    started = int(opened.payload.get("started_ms", opened.at_ms))
    place = opened.payload.get("place") or {}
    process = site.process(place["process"]) if place.get("process") else None
    runs = [
        s.run
        for s in await store.latest_runs(site.key, user, limit=100)
        if s.run.session == session
    ]
    run: Run | None = max(runs, key=lambda r: r.updated_ms) if runs else None
    if run is not None and run.status is RunStatus.ACTIVE:
        return None  # still playing: scored when it ends
    events = await _events_since(state, site.key, user, started)
    answers = [i.payload[FEEDBACK_KEY] for i in about if FEEDBACK_KEY in i.payload]
    confirmation = bool(answers[-1].get("helped")) if answers else None
    if run is None and confirmation is None:
        return None  # nothing was tried: a greeting or an answer nobody rated is not scored
    goal_seen = run is not None and any(
        e.kind == "goal" and e.payload.get("run") == run.id for e in events
    )
    if run is not None and not goal_seen and process is not None and process.goal.url is not None:
        pattern = compile_pattern(process.goal.url)
        goal_seen = any(
            e.kind == "location" and e.received_ms >= started and matches(pattern, str(e.payload.get("url", "")))
            for e in events
        )  # fmt: skip
    later = [
        i for i in profile.items
        if i.kind == SUPPORT_SESSION and "offer" in i.payload and i.at_ms > opened.at_ms
        and i.payload.get("session") != session and i.payload.get("channel") != "frustration"
        and (i.payload.get("place") or {}) == place
    ]  # fmt: skip
    ended = [
        i for i in profile.items
        if i.kind == WALKTHROUGH_RUN and run is not None and i.payload.get("run") == run.id
    ]  # fmt: skip
    outcome = SessionOutcome(
        started_ms=started,
        walkthrough=run is not None,
        run_completed=run is not None and run.status is RunStatus.COMPLETED,
        goal_seen=goal_seen,
        confirmation=confirmation,
        returned_ms=later[0].at_ms if later else None,
        frustrated=any(i.kind == FRUSTRATION and i.at_ms >= started for i in profile.items),
        target_missing=any(i.payload.get("reason") == "target_missing" for i in ended),
        steps_completed=len(run.completed_steps) if run else 0,
        steps_total=len(run.steps) if run else 0,
    )
    result = effectiveness(
        outcome, now_ms, threshold=process.effectiveness_threshold if process else None,
        rules=effectiveness_rules(site),
    )  # fmt: skip
    scored = result.as_dict()
    last = next((i.payload[SCORE_KEY] for i in reversed(about) if SCORE_KEY in i.payload), None)
    if last != scored:
        await store.append_support_item(
            site.key, user, SUPPORT_SESSION, at_ms=now_ms,
            payload={"session": session, SCORE_KEY: scored, "outcome": asdict(outcome), "scored_ms": now_ms},
            failure=result.below_threshold,
            failure_reason=result.reason.value if result.reason else None,
        )  # fmt: skip
    referred = any("referral" in i.payload for i in about)
    said_no = confirmation is False
    if (result.below_threshold or said_no) and not referred and not later:
        await _refer(
            state, site, user, session, opened.payload, result, tab, said_no=said_no, now_ms=now_ms
        )
    return result


def effectiveness_rules(site: Site) -> EffectivenessRules:
    """The scoring rules of ``support.effectiveness`` with the site's settings."""
    settings = site.config.effectiveness
    defaults = EffectivenessRules()
    return EffectivenessRules(
        weights={**defaults.weights, **{Component(k): v for k, v in settings.weights.items()}},
        return_window_ms=settings.return_window_ms,
        default_threshold=settings.default_threshold,
    )


async def _events_since(state: AppState, site: str, user: str, since_ms: int) -> list[Any]:
    """The visitor's goal and location events received since the session started, all of them."""
    found: list[Any] = []
    after = 0
    while True:
        page = await state.store.read_events(
            site, user_id=user, kinds=["goal", "location"], after_id=after, limit=1000,
            received_since_ms=since_ms,
        )  # fmt: skip
        found.extend(page)
        if len(page) < 1000:
            return found
        after = page[-1].id


async def _refer(
    state: AppState, site: Site, user: str, session: str, opened: dict[str, Any],
    result: Effectiveness, tab: TabState | None, *, said_no: bool, now_ms: int,
) -> None:  # fmt: skip
    referral = should_refer(effectiveness=result, said_no=said_no)
    if referral is None:
        return
    routed = await agents.refer(state, site, user, session, opened.get("persona"), now_ms=now_ms)
    channel = agents.channel_of(routed)
    item = {
        "session": session,
        "referral": {"triggers": [t.value for t in referral.triggers], "channel": channel},
        "reasons": [asdict(r) for r in referral.reasons],
    }
    await state.store.append_support_item(
        site.key, user, SUPPORT_SESSION, at_ms=now_ms, payload=item,
        failure=True, failure_reason=result.reason.value if result.reason else None,
    )  # fmt: skip
    profile = await state.store.get_profile(site.key, user)
    traits = dict(profile.traits) if profile else {}
    persona = next((p for p in site.personae if p.id == opened.get("persona")), None)
    await referrals.offer_person(
        state, site, user, tab, session, persona, traits, channel=channel,
        queue=agents.waiting(routed),
    )  # fmt: skip
    referrals.hand_off(
        state, site, user, tab, session,
        {**opened, "referral": item["referral"], "reasons": [*opened.get("reasons", []), *item["reasons"]]},
        None, now_ms=now_ms,
    )  # fmt: skip


#: After a run ends, scoring waits this long for the goal (it often shows just after the last step).
GOAL_GRACE_S = 10.0


@dataclass
@dataclass
class _Due:
    """One session's next score: when it is due, whether it is running, whether to run again after."""

    at: float
    task: asyncio.Task[Any] | None = None
    running: bool = False
    again: bool = False


class Scoring:
    """Scores waiting to run on this node, at most one per session at a time.

    A request never brings a score forward (an answer to "Did this help?" does not
    cut short the grace a run's end waits for its goal), and never cancels a score
    that is running: it asks for one more run after it instead, so a referral in
    progress is always carried through.
    """

    def __init__(self, grace_s: float = GOAL_GRACE_S) -> None:
        self.grace_s = grace_s
        self.due: dict[tuple[str, str, str], _Due] = {}

    def schedule(
        self, state: AppState, site: Site, user: str, session: str, *, delay_s: float,
        tab: TabState | None = None,
    ) -> None:  # fmt: skip
        key = (site.key, user, session)
        loop = asyncio.get_running_loop()
        wanted = loop.time() + delay_s
        due = self.due.get(key)
        if due is not None:
            due.at = max(due.at, wanted)
            if due.running:
                due.again = True
            return
        due = self.due[key] = _Due(wanted)

        async def run() -> None:
            try:
                while True:
                    # The deadline may move later while waiting: sleep until it stops moving.
                    while (wait := due.at - loop.time()) > 0:  # noqa: ASYNC110
                        await asyncio.sleep(wait)
                    due.running, due.again = True, False
                    try:
                        await score_session(
                            state, site, user, session, now_ms=time.time_ns() // 1_000_000, tab=tab
                        )
                    except Exception:
                        log.exception("scoring session %s failed", session)
                    due.running = False
                    if not due.again:
                        return
            finally:
                if self.due.get(key) is due:
                    del self.due[key]

        due.task = asyncio.ensure_future(run())

    @property
    def pending(self) -> int:
        return len(self.due)

    async def close(self) -> None:
        """Shutting down: scores still waiting are dropped (the next event of the session scores it)."""
        for due in list(self.due.values()):
            if due.task is not None:
                due.task.cancel()
        self.due.clear()
