"""Frustration, live (claim 10), and the referral it triggers (claims 4, 5, 8, 15, 20, 21).

Each visitor's recent observations — clicks with what they caused and uncaught
errors (``signal`` messages), navigations (``location``), walkthrough steps
reversed — are kept in memory on the node their tab is connected to. After
each one the pure calculator (``support.frustration``) recomputes the signals
and the indicator with the site's rules. When the indicator crosses its
threshold, Tandem does not wait to be asked: the indicator is stored on the
profile with its evidence, a support session is opened and referred
(``support.referral``), the visitor's tab is offered a person, and the handoff
packet goes to the site's channels (the signed webhook).

What is in memory is an optimisation, not the record: every observation is
also a stored event, and every decision a support data item.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from server.knowledge.site import FrustrationSettings, Site
from server.live import TabState
from server.support.frustration import (
    Click,
    FrustrationIndicator,
    FrustrationRules,
    Navigation,
    Observation,
    PageError,
    SignalKind,
    TargetKind,
    WalkthroughEvent,
    detect,
    indicator,
)
from server.support.help import SUPPORT_SESSION, past_sessions
from server.support.persona import candidates_from, choose_persona
from server.support.referral import should_refer
from server.web import agents, referrals

if TYPE_CHECKING:
    from server.web.state import AppState

log = logging.getLogger("tandem.frustration")

#: The support data item that stores the indicator, with its evidence, when it crosses the threshold.
FRUSTRATION = "frustration"
#: How many half-lives of observations are kept: older ones weigh under 1/1000 of their weight.
KEEP_HALF_LIVES = 10
#: At most this many observations per visitor: a page throwing errors in a loop costs bounded work.
KEEP_OBSERVATIONS = 300
#: Visitors watched on one node; the least recently active are forgotten first.
KEEP_VISITORS = 10_000


def rules_for(settings: FrustrationSettings) -> FrustrationRules:
    """The pure calculator's rules from a site's ``frustration`` settings."""
    defaults = FrustrationRules()
    weights = {**defaults.weights, **{SignalKind(k): v for k, v in settings.weights.items()}}
    return FrustrationRules(
        rage_clicks=settings.rage_clicks, rage_window_ms=settings.rage_window_ms,
        rage_radius_px=settings.rage_radius_px, dead_click_window_ms=settings.dead_click_window_ms,
        error_click_window_ms=settings.error_click_window_ms, quick_back_ms=settings.quick_back_ms,
        slow_step_factor=settings.slow_step_factor, half_life_ms=settings.half_life_ms,
        threshold=settings.threshold, weights=weights,
    )  # fmt: skip


@dataclass
class Watch:
    """One visitor's recent observations on this node, and when they were last referred.

    A plain list, oldest first, capped at ``KEEP_OBSERVATIONS``: most visitors have a handful
    of observations, which a list keeps in far less memory than a deque's first block.
    """

    observations: list[Observation] = field(default_factory=list)
    referred_at_ms: int | None = None

    def add(self, observation: Observation, keep_ms: int) -> None:
        kept = self.observations
        kept.append(observation)
        newest = max(o.at_ms for o in kept)
        old = next((i for i, o in enumerate(kept) if newest - o.at_ms <= keep_ms), len(kept))
        del kept[: max(old, len(kept) - KEEP_OBSERVATIONS)]


@dataclass
class Watches:
    """Every visitor's watch on this node, by (site, user)."""

    by_visitor: dict[tuple[str, str], Watch] = field(default_factory=dict)
    background: set[asyncio.Task[Any]] = field(
        default_factory=set
    )  # referrals and handoffs under way

    def of(self, site: str, user: str) -> Watch:
        key = (site, user)
        watch = self.by_visitor.pop(key, None) or Watch()
        self.by_visitor[key] = watch  # the most recently active last
        while len(self.by_visitor) > KEEP_VISITORS:
            del self.by_visitor[next(iter(self.by_visitor))]
        return watch


def observation_of(kind: str, at_ms: int, payload: dict[str, Any]) -> Observation | None:
    """What a stored event says about frustration, if anything."""
    if kind == "signal" and payload.get("signal") == "click":
        return Click(
            at_ms, float(payload.get("x", 0)), float(payload.get("y", 0)),
            TargetKind(payload.get("target", "other")), str(payload.get("selector", "")),
            payload.get("effect_ms"),
        )  # fmt: skip
    if kind == "signal" and payload.get("signal") == "error":
        return PageError(at_ms, str(payload.get("message", "")))
    if kind == "location":
        return Navigation(at_ms, str(payload.get("url", "")))
    if kind == "step" and payload.get("event") == "reversed" and payload.get("applied") == "yes":
        return WalkthroughEvent(at_ms, SignalKind.STEP_REVERSED, str(payload.get("step", "")))
    return None


async def observe(
    state: AppState, site: Site, user: str, tab: TabState | None, observation: Observation
) -> FrustrationIndicator:
    """Add one observation; refer the visitor when it takes their frustration over the threshold."""
    settings = site.config.frustration
    rules = rules_for(settings)
    watch = state.frustration.of(site.key, user)
    watch.add(observation, KEEP_HALF_LIVES * rules.half_life_ms)
    now = observation.at_ms  # the client's clock, like every observation's
    level = indicator(detect(watch.observations, rules), now, rules)
    cooled = watch.referred_at_ms is None or now - watch.referred_at_ms >= settings.cooldown_ms
    if level.frustrated and cooled:
        watch.referred_at_ms = now
        # Carried through on its own, apart from the connection: a visitor who closes the tab
        # right now is still referred, and a referral that fails never takes the connection down.
        referrals.in_background(
            state, refer_for_frustration(state, site, user, tab, level), f"frustration of {user}"
        )
    return level


def evidence_of(level: FrustrationIndicator) -> dict[str, Any]:
    """The indicator as stored: level, threshold and the signals that weigh most, with their evidence."""
    return {
        "level": level.level,
        "threshold": level.threshold,
        "at_ms": level.at_ms,
        "signals": [
            {"kind": s.kind.value, "at_ms": s.at_ms, "weight": s.weight, "evidence": s.evidence}
            for s in level.top(10)
        ],
    }


async def refer_for_frustration(
    state: AppState, site: Site, user: str, tab: TabState | None, level: FrustrationIndicator
) -> str:
    """Store the indicator, open a referred support session, offer a person, hand off; the session id."""
    now_ms = time.time_ns() // 1_000_000
    store = state.store
    profile = await store.get_profile(site.key, user)
    traits = dict(profile.traits) if profile else {}
    history = past_sessions(profile.items) if profile else []
    evidence = evidence_of(level)
    await store.append_support_item(
        site.key, user, FRUSTRATION, at_ms=now_ms, payload=evidence,
        failure=True, failure_reason="frustration_threshold",
    )  # fmt: skip
    referral = should_refer(frustration=level)
    assert referral is not None  # the indicator is over its threshold
    # This session counts: the visitor is no longer new, and automation has failed them once more.
    persona = choose_persona(
        candidates_from(site.personae), traits, sessions=len(history) + 1,
        failures=sum(1 for s in history if s.failed) + 1,
    )  # fmt: skip
    session = f"sess-{secrets.token_urlsafe(12)}"
    routed = await agents.refer(
        state, site, user, session, persona.persona if persona else None, now_ms=now_ms
    )
    channel = agents.channel_of(routed)
    process = tab.process if tab else None
    path = urlsplit(tab.url).path if tab and tab.url else None
    place = {
        "process": process,
        "url_pattern": None if process else path,
    }  # as a help request there
    item = {
        "session": session, "channel": "frustration", "question": "", "url": tab.url if tab else "",
        "place": place, "persona": persona.persona if persona else None, "offer": "person",
        "walkthrough": None, "step": None, "faq": [],
        "reasons": [*([asdict(persona.reason)] if persona else []), *(asdict(r) for r in referral.reasons)],
        "referral": {"triggers": [t.value for t in referral.triggers], "channel": channel},
        "frustration": evidence, "started_ms": now_ms,
    }  # fmt: skip
    await store.append_support_item(
        site.key, user, SUPPORT_SESSION, at_ms=now_ms, payload=item,
        failure=True, failure_reason="frustration_threshold",
    )  # fmt: skip
    found = next((p for p in site.personae if persona and p.id == persona.persona), None)
    await referrals.offer_person(
        state, site, user, tab, session, found, traits, channel=channel,
        queue=agents.waiting(routed),
    )  # fmt: skip
    referrals.hand_off(state, site, user, tab, session, item, level, now_ms=now_ms)
    return session
