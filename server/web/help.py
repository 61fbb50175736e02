"""Answering a help request (claim 1): profile → location → decision → support data item → answer.

The decision is ``support.help.decide_help`` (pure); this module gathers its
inputs from the store, the broker and the catalog, records the support data
item, and words the answer in the chosen persona's voice.
"""

from __future__ import annotations

import secrets
from dataclasses import asdict
from typing import Any
from urllib.parse import urlsplit

from server.knowledge.markup import render_template
from server.knowledge.site import Site
from server.live import TabState, focused_tab
from server.protocol.messages import HelpAnswer
from server.support.frustration import SignalKind, WalkthroughEvent
from server.support.help import (
    SUPPORT_SESSION,
    HelpDecision,
    HelpRequest,
    decide_help,
    past_sessions,
)
from server.support.history import HistoryRules, OfferKind, Walkthrough
from server.support.persona import candidates_from
from server.support.referral import should_refer
from server.support.routing import Decision
from server.support.run import Run
from server.web import agents, frustration, referrals
from server.web.state import AppState

#: A second help request at the same place within this time counts as the ``repeated_help`` signal.
REPEATED_HELP_MS = 10 * 60 * 1000

VOICE_FOR_OFFER = {
    OfferKind.WALKTHROUGH: "offer_walkthrough",
    OfferKind.RESUME: "resume",
    OfferKind.FAQ: "offer_faq",
    OfferKind.PERSON: "offer_person",
}
DEFAULT_LINES = {
    "offer_walkthrough": "I can show you how to {{ offer.title }}, step by step.",
    "resume": "Let's continue where you left off.",
    "offer_faq": "This might answer it:",
    "offer_person": "Let me find a person to help you.",
}


def history_rules(site: Site) -> HistoryRules:
    """The history rules of ``support.history`` with the site's settings."""
    settings = site.config.history
    return HistoryRules(
        abandoned_after_ms=settings.abandoned_after_ms,
        repeated_failures=settings.repeated_failures,
        failure_window_ms=settings.failure_window_ms,
    )


async def where_is(state: AppState, site: str, user: str, tab: str | None) -> TabState | None:
    """The given tab's live state, else the focused tab's, else the most recently active one."""
    tabs = await state.live.tabs(site, user)
    if tab is not None:
        return next((t for t in tabs if t.tab == tab), None)
    focused = focused_tab(tabs)
    if focused is not None:
        return next(t for t in tabs if t.tab == focused)
    return max(tabs, key=lambda t: t.updated_ms, default=None)


def _voice(
    site: Site, decision: HelpDecision, traits: dict[str, Any], title: str
) -> tuple[dict[str, str], str]:
    persona = next(
        (p for p in site.personae if decision.persona and p.id == decision.persona.persona), None
    )
    line = VOICE_FOR_OFFER[decision.offer.kind]
    source = (persona.voice.get(line) if persona else None) or DEFAULT_LINES[line]
    try:
        text = render_template(
            source,
            user=traits,
            persona={"name": persona.name if persona else ""},
            offer={"title": title},
        )
    except ValueError:
        text = render_template(DEFAULT_LINES[line], user={}, persona={}, offer={"title": title})
    info = {"id": persona.id, "name": persona.name, "avatar": persona.avatar} if persona else {}
    return info, text


def _resumable(runs: list[Run], decision: HelpDecision) -> str:
    """The run to continue for a resume offer: the latest one of that walkthrough."""
    return next((r.id for r in runs if r.walkthrough == decision.offer.walkthrough), "")


async def answer_help(
    state: AppState, site: Site, user: str, *, req: int = 0, question: str = "", person: bool = False,
    tab: str | None = None, channel: str = "widget", now_ms: int,
) -> HelpAnswer:  # fmt: skip
    """Decide, record and word the answer to one help request."""
    profile = await state.store.get_profile(site.key, user)
    if profile is None:
        await state.store.upsert_profile(site.key, user, {}, now_ms=now_ms)
    location = await where_is(state, site.key, user, tab)
    url = location.url if location else ""
    process = location.process if location else None
    catalog = state.catalogs.get(site.key)
    published = catalog.for_process(process) if catalog and process else []
    walkthroughs = [Walkthrough(p.walkthrough.id, p.walkthrough.variant_of) for p in published]
    process_config = site.process(process) if process else None
    query = question or (process_config.title if process_config else "")
    hits = (
        [h.entry for h in await state.store.search_faq(site.key, query, process=process)]
        if query
        else []
    )
    request = HelpRequest(
        f"sess-{secrets.token_urlsafe(12)}", question, url, process,
        None if process else (urlsplit(url).path or None), channel, asked_for_human=person,
    )  # fmt: skip
    runs = [stored.run for stored in await state.store.latest_runs(site.key, user, limit=50)]
    decision = decide_help(
        request,
        profile,
        walkthroughs=walkthroughs,
        faq_hits=hits,
        personae=candidates_from(site.personae),
        now_ms=now_ms,
        runs=runs,
        rules=history_rules(site),
    )
    await state.store.append_support_item(
        site.key, user, SUPPORT_SESSION, at_ms=now_ms, payload=decision.item
    )
    # Coming back for help at the same place settles the last session there: score it, final now.
    earlier = [
        s for s in past_sessions(profile.items, runs) if s.place == decision.place
    ] if profile else []  # fmt: skip
    if earlier:
        state.scoring.schedule(state, site, user, earlier[-1].id, delay_s=0, tab=location)
        if (
            now_ms - earlier[-1].at_ms <= REPEATED_HELP_MS
        ):  # asking again so soon is a frustration signal
            await frustration.observe(
                state, site, user, location,
                WalkthroughEvent(now_ms, SignalKind.REPEATED_HELP, earlier[-1].id),
            )  # fmt: skip
    routed = (
        await _refer(state, site, user, location, decision, asked=person, now_ms=now_ms)
        if decision.offer.kind is OfferKind.PERSON
        else None
    )
    offered = next((p for p in published if p.walkthrough.id == decision.offer.walkthrough), None)
    title = offered.walkthrough.title if offered else ""
    persona, text = _voice(site, decision, dict(profile.traits) if profile else {}, title)
    entries = {e.id: e for e in site.faq}
    return HelpAnswer(
        req=req,
        session=request.session_id,
        offer=decision.offer.kind.value,
        persona=persona,
        text=text,
        walkthrough=decision.offer.walkthrough or "",
        title=title,
        step=decision.offer.step or "",
        run=_resumable(runs, decision) if decision.offer.kind is OfferKind.RESUME else "",
        faq=[
            {"id": e, "question": entries[e].questions[0], "answer": entries[e].answer}
            for e in decision.faq
            if e in entries
        ],
        channel=agents.channel_of(routed) if routed else "",
        queue=agents.waiting(routed) if routed else {},
    )


async def _refer(
    state: AppState, site: Site, user: str, location: TabState | None, decision: HelpDecision,
    *, asked: bool, now_ms: int,
) -> Decision:  # fmt: skip
    """A person is the offer (asked for, or automation failed here before): refer the session now."""
    referral = should_refer(asked_for_human=asked, offered_person=not asked)
    assert referral is not None
    routed = await agents.refer(
        state, site, user, decision.session_id,
        decision.persona.persona if decision.persona else None, now_ms=now_ms,
    )  # fmt: skip
    channel = agents.channel_of(routed)
    item = {
        "session": decision.session_id,
        "referral": {"triggers": [t.value for t in referral.triggers], "channel": channel},
        "reasons": [asdict(r) for r in referral.reasons],
    }
    await state.store.append_support_item(
        site.key, user, SUPPORT_SESSION, at_ms=now_ms, payload=item, failure=True,
        failure_reason="user_asked_for_human" if asked else "repeated_failure",
    )  # fmt: skip
    referrals.hand_off(
        state, site, user, location, decision.session_id,
        {**decision.item, "referral": item["referral"], "reasons": [*decision.item["reasons"], *item["reasons"]]},
        None, now_ms=now_ms,
    )  # fmt: skip
    return routed


async def push_to_tab(state: AppState, site: str, user: str, answer: HelpAnswer) -> str | None:
    """Send the answer to the visitor's focused (else most recent) tab, on whichever node it is
    connected; its id, or None."""
    from server.web import delivery

    location = await where_is(state, site, user, None)
    if location is None:
        return None
    if await delivery.to_tab(state, site, location.tab, answer, user=user):
        return str(location.tab)
    return None
