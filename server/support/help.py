"""A help request, decided (claims 1, 2, 6, 18, 19, 22, 24).

Given the visitor's profile (traits and support history), where they are (the
focused tab's location), what the site has for that place (walkthroughs, FAQ
hits) and its personae, ``decide_help`` chooses a persona and an offer and
returns the support data item to append to the profile — every choice with its
machine-readable reason. Pure: ids and the time are passed in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from server.support.history import (
    HistoryRules,
    Offer,
    OfferKind,
    PastSession,
    Place,
    Reason,
    Walkthrough,
    choose_offer,
)
from server.support.persona import PersonaCandidate, PersonaChoice, choose_persona
from server.support.profile import Profile, SupportItem
from server.support.run import Run

SUPPORT_SESSION = "support_session"


@dataclass(frozen=True)
class HelpRequest:
    session_id: str
    question: str = ""
    url: str = ""
    process: str | None = None
    url_pattern: str | None = None  # the site pattern the URL matched, when there is no process
    channel: str = "widget"  # widget | api | player
    asked_for_human: bool = False  # "talk to a person": referred, whatever the history


@dataclass(frozen=True)
class HelpDecision:
    session_id: str
    place: Place
    persona: PersonaChoice | None
    offer: Offer
    faq: tuple[str, ...]  # FAQ entries shown with the offer, best first
    item: dict[str, Any]  # the support data item's payload

    @property
    def reasons(self) -> list[Reason]:
        return [*([self.persona.reason] if self.persona else []), *self.offer.reasons]


def past_sessions(items: Sequence[SupportItem], runs: Sequence[Run] = ()) -> list[PastSession]:
    """The visitor's earlier support sessions, from the profile's support data items.

    Later items about the same session (its score) update it; a walkthrough run
    started from a session gives its progress: the step reached, whether it
    completed, when it last moved.
    """
    sessions: dict[str, dict[str, Any]] = {}
    for item in items:
        if item.kind != SUPPORT_SESSION:
            continue
        payload = item.payload
        session_id = str(payload.get("session", item.id))
        current = sessions.setdefault(session_id, {"at_ms": item.at_ms})
        current.update({k: v for k, v in payload.items() if v is not None})
        if "effectiveness" in payload:
            current["failed"] = item.failure  # the latest score decides, until a referral
        elif "referral" in payload:
            current["failed"] = current["referred"] = True
        elif item.failure:
            current["failed"] = True
        if current.get("referred"):
            current["failed"] = True
    for run in sorted(runs, key=lambda r: r.updated_ms):
        if run.session in sessions:
            sessions[run.session].update(
                walkthrough=run.walkthrough,
                step=run.step,
                run_status=run.status.value,
                last_progress_ms=run.updated_ms,
            )
    result = []
    for session_id, data in sessions.items():
        place = data.get("place") or {}
        result.append(
            PastSession(
                id=session_id,
                place=Place(place.get("process"), place.get("url_pattern")),
                at_ms=int(data["at_ms"]),
                persona=data.get("persona"),
                walkthrough=data.get("walkthrough"),
                step=data.get("step"),
                run_completed=data.get("run_status") == "completed",
                last_progress_ms=data.get("last_progress_ms"),
                tab_closed=bool(data.get("tab_closed")),
                failed=bool(data.get("failed")),
                run_started="run_status" in data,
                run_ended=data.get("run_status") == "abandoned",
            )
        )
    return sorted(result, key=lambda s: s.at_ms)


def decide_help(
    request: HelpRequest,
    profile: Profile | None,
    *,
    walkthroughs: Sequence[Walkthrough],
    faq_hits: Sequence[str],
    personae: Sequence[PersonaCandidate],
    now_ms: int,
    runs: Sequence[Run] = (),
    rules: HistoryRules | None = None,
) -> HelpDecision:
    """Choose the persona and what to offer; build the support data item that records it."""
    history = past_sessions(profile.items, runs) if profile else []
    traits: Mapping[str, Any] = profile.traits if profile else {}
    place = Place(request.process, None if request.process else request.url_pattern)
    offer = (
        Offer(OfferKind.PERSON, (Reason("asked_for_human"),))
        if request.asked_for_human
        else choose_offer(
            place, history, walkthroughs, now_ms=now_ms, faq_available=bool(faq_hits), rules=rules
        )
    )
    if request.question and faq_hits and offer.kind is OfferKind.WALKTHROUGH and not walkthroughs:
        offer = Offer(
            OfferKind.FAQ, (Reason("question_matches_faq", {"entries": list(faq_hits[:3])}),)
        )
    failures = sum(1 for s in history if s.failed)
    persona = choose_persona(
        personae, traits, sessions=len(history), failures=failures, avoid=offer.avoid_persona
    )
    faq = tuple(faq_hits[:3]) if offer.kind in (OfferKind.FAQ, OfferKind.WALKTHROUGH) else ()
    item = {
        "session": request.session_id,
        "channel": request.channel,
        "question": request.question,
        "url": request.url,
        "place": {"process": place.process, "url_pattern": place.url_pattern},
        "persona": persona.persona if persona else None,
        "offer": offer.kind.value,
        "walkthrough": offer.walkthrough,
        "step": offer.step,
        "faq": list(faq),
        "reasons": [asdict(r) for r in ([persona.reason] if persona else []) + list(offer.reasons)],
        "started_ms": now_ms,
    }
    return HelpDecision(request.session_id, place, persona, offer, faq, item)
