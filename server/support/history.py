"""What to offer on a help request, given what was tried before at the same place (claims 1, 2).

Defaults (configurable per site): "same place" is the same process, or the
same URL pattern where there is no process; a run is abandoned after 30
minutes without progress or when its tab closed before it completed;
"repeated failure" is 2 failures at the same place within 30 days.

Rules, in order:

1. repeated failure at this place → offer a person straight away;
2. an abandoned run at this place → resume it at its step;
3. one failure at this place → change approach: a ``variant_of`` walkthrough
   not yet tried, else the same one with another persona;
4. walkthroughs completed here are not replayed: the next one of the process,
   else the FAQ answer;
5. otherwise the process's first walkthrough, else the FAQ answer, else a person.

Every offer carries machine-readable reasons. Pure: ``now_ms`` is passed in.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

MINUTE_MS = 60_000
DAY_MS = 24 * 60 * MINUTE_MS


@dataclass(frozen=True)
class Place:
    """Where help was asked for: a process, or the URL pattern the page matched when it has none."""

    process: str | None = None
    url_pattern: str | None = None

    @property
    def key(self) -> str:
        return f"process:{self.process}" if self.process else f"url:{self.url_pattern or ''}"


class RunStatus(enum.StrEnum):
    ACTIVE = "active"
    COMPLETED = "completed"
    ABANDONED = "abandoned"


@dataclass(frozen=True)
class PastSession:
    """One earlier support session, as read from the visitor's support data items."""

    id: str
    place: Place
    at_ms: int
    persona: str | None = None
    walkthrough: str | None = None
    step: str | None = None  # the step reached
    run_completed: bool = False
    last_progress_ms: int | None = None
    tab_closed: bool = False
    failed: bool = False
    run_started: bool = True  # False: a walkthrough was offered but never started
    run_ended: bool = False  # the visitor closed the walkthrough (or it stopped) before the end


@dataclass(frozen=True)
class HistoryRules:
    abandoned_after_ms: int = 30 * MINUTE_MS
    repeated_failures: int = 2
    failure_window_ms: int = 30 * DAY_MS


@dataclass(frozen=True)
class Walkthrough:
    """A walkthrough available at the place, in the order the site lists them."""

    id: str
    variant_of: str | None = None


class OfferKind(enum.StrEnum):
    RESUME = "resume"
    WALKTHROUGH = "walkthrough"
    FAQ = "faq"
    PERSON = "person"


@dataclass(frozen=True)
class Reason:
    """A machine-readable reason for a decision: a code and its evidence."""

    code: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Offer:
    kind: OfferKind
    reasons: tuple[Reason, ...]
    walkthrough: str | None = None
    step: str | None = None
    avoid_persona: str | None = None  # after a failure with this persona, choose another


def run_status(session: PastSession, now_ms: int, rules: HistoryRules) -> RunStatus | None:
    """The state of a session's walkthrough run (None when it had none)."""
    if session.walkthrough is None or not session.run_started:
        return None
    if session.run_completed:
        return RunStatus.COMPLETED
    last = session.last_progress_ms if session.last_progress_ms is not None else session.at_ms
    if session.run_ended or session.tab_closed or now_ms - last >= rules.abandoned_after_ms:
        return RunStatus.ABANDONED
    return RunStatus.ACTIVE


def _variants_of(failed: str, walkthroughs: Sequence[Walkthrough]) -> list[Walkthrough]:
    """Walkthroughs that are variants of the failed one, or siblings sharing its original."""
    original = next((w.variant_of for w in walkthroughs if w.id == failed), None) or failed
    return [
        w for w in walkthroughs if w.id != failed and (w.variant_of == original or w.id == original)
    ]


def choose_offer(
    place: Place,
    history: Sequence[PastSession],
    walkthroughs: Sequence[Walkthrough],
    *,
    now_ms: int,
    faq_available: bool = False,
    rules: HistoryRules | None = None,
) -> Offer:
    """What to offer for a help request at ``place``, accounting for the visitor's history."""
    rules = rules or HistoryRules()
    here = sorted((s for s in history if s.place == place), key=lambda s: s.at_ms)
    failures = [s for s in here if s.failed and now_ms - s.at_ms <= rules.failure_window_ms]

    if len(failures) >= rules.repeated_failures:
        return Offer(
            OfferKind.PERSON,
            (
                Reason(
                    "repeated_failure",
                    {
                        "failures": [s.id for s in failures],
                        "window_days": rules.failure_window_ms // DAY_MS,
                    },
                ),
            ),
        )

    runs = [(s, run_status(s, now_ms, rules)) for s in here]
    abandoned = [s for s, status in runs if status is RunStatus.ABANDONED]
    if abandoned:
        last = abandoned[-1]
        later_completed = any(
            s.walkthrough == last.walkthrough
            and status is RunStatus.COMPLETED
            and s.at_ms > last.at_ms
            for s, status in runs
        )
        if not later_completed:
            return Offer(
                OfferKind.RESUME,
                (
                    Reason(
                        "resume_abandoned",
                        {"session": last.id, "walkthrough": last.walkthrough, "step": last.step},
                    ),
                ),
                walkthrough=last.walkthrough,
                step=last.step,
            )

    if failures:
        failed = failures[-1]
        tried = {s.walkthrough for s in here if s.walkthrough}
        variants = [
            w for w in _variants_of(failed.walkthrough or "", walkthroughs) if w.id not in tried
        ]
        if failed.walkthrough and variants:
            return Offer(
                OfferKind.WALKTHROUGH,
                (
                    Reason(
                        "switch_variant",
                        {
                            "failed_session": failed.id,
                            "failed": failed.walkthrough,
                            "variant": variants[0].id,
                        },
                    ),
                ),
                walkthrough=variants[0].id,
                avoid_persona=failed.persona,
            )
        if failed.walkthrough:
            return Offer(
                OfferKind.WALKTHROUGH,
                (
                    Reason(
                        "switch_persona",
                        {
                            "failed_session": failed.id,
                            "walkthrough": failed.walkthrough,
                            "avoid_persona": failed.persona,
                        },
                    ),
                ),
                walkthrough=failed.walkthrough,
                avoid_persona=failed.persona,
            )

    completed = {s.walkthrough for s, status in runs if status is RunStatus.COMPLETED}
    # Variants stand for their original: completing one completes the walkthrough.
    originals = {w.id: (w.variant_of or w.id) for w in walkthroughs}
    done = {originals.get(w, w) for w in completed if w}
    remaining = [w for w in walkthroughs if w.variant_of is None and w.id not in done]
    if done:
        if remaining:
            return Offer(
                OfferKind.WALKTHROUGH,
                (Reason("next_in_process", {"completed": sorted(done), "next": remaining[0].id}),),
                walkthrough=remaining[0].id,
            )
        if faq_available:
            return Offer(OfferKind.FAQ, (Reason("all_completed", {"completed": sorted(done)}),))
        return Offer(
            OfferKind.PERSON, (Reason("nothing_new_to_offer", {"completed": sorted(done)}),)
        )

    first = next((w for w in walkthroughs if w.variant_of is None), None)
    if first is not None:
        return Offer(
            OfferKind.WALKTHROUGH,
            (Reason("first_request", {"place": place.key}),),
            walkthrough=first.id,
        )
    if faq_available:
        return Offer(OfferKind.FAQ, (Reason("no_walkthrough_here", {"place": place.key}),))
    return Offer(OfferKind.PERSON, (Reason("nothing_to_offer", {"place": place.key}),))
