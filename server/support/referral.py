"""When to refer the visitor on, and to which secondary channel (claims 4, 5, 8, 15, 20, 21).

A session is referred when its effectiveness is below the threshold, when the
visitor asks for a person, when frustration crosses its threshold during the
session, or when the offer itself was a person. The channel: a live co-browse
agent first; chat when agents are online but all busy; email or a call-back
when none is online. Pure.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from server.support.effectiveness import Effectiveness
from server.support.frustration import FrustrationIndicator
from server.support.history import Reason


class Trigger(enum.StrEnum):
    BELOW_THRESHOLD = "below_threshold"
    ASKED_FOR_HUMAN = "asked_for_human"
    FRUSTRATION = "frustration"
    OFFERED_PERSON = "offered_person"
    USER_SAID_NO = "user_said_no"  # "Did this help?" — no


class Channel(enum.StrEnum):
    LIVE_AGENT = "live_agent"  # co-browse on the same page
    CHAT = "chat"
    EMAIL = "email"
    CALLBACK = "callback"


@dataclass(frozen=True)
class Referral:
    triggers: tuple[Trigger, ...]
    reasons: tuple[Reason, ...]


def should_refer(
    *,
    effectiveness: Effectiveness | None = None,
    asked_for_human: bool = False,
    frustration: FrustrationIndicator | None = None,
    offered_person: bool = False,
    said_no: bool = False,
) -> Referral | None:
    """Every trigger that holds, with its evidence; None when the visitor stays with automation."""
    reasons: list[Reason] = []
    triggers: list[Trigger] = []
    if asked_for_human:
        triggers.append(Trigger.ASKED_FOR_HUMAN)
        reasons.append(Reason(Trigger.ASKED_FOR_HUMAN.value))
    if frustration is not None and frustration.frustrated:
        triggers.append(Trigger.FRUSTRATION)
        evidence = [
            {"kind": s.kind.value, "at_ms": s.at_ms, "weight": s.weight, **s.evidence}
            for s in frustration.top()
        ]
        reasons.append(
            Reason(
                Trigger.FRUSTRATION.value,
                {
                    "level": frustration.level,
                    "threshold": frustration.threshold,
                    "signals": evidence,
                },
            )
        )
    if (
        effectiveness is not None
        and effectiveness.score is not None
        and effectiveness.below_threshold
    ):
        triggers.append(Trigger.BELOW_THRESHOLD)
        reasons.append(
            Reason(
                Trigger.BELOW_THRESHOLD.value,
                {
                    "score": effectiveness.score,
                    "threshold": effectiveness.threshold,
                    "reason": effectiveness.reason.value if effectiveness.reason else None,
                },
            )
        )
    if offered_person:
        triggers.append(Trigger.OFFERED_PERSON)
        reasons.append(Reason(Trigger.OFFERED_PERSON.value))
    if said_no:
        triggers.append(Trigger.USER_SAID_NO)
        reasons.append(Reason(Trigger.USER_SAID_NO.value))
    return Referral(tuple(triggers), tuple(reasons)) if triggers else None


def choose_channel(
    *, agents_online: int, agents_free: int, email: bool = True, callback: bool = False
) -> Channel | None:
    """Live agent first; chat when agents are busy; email or call-back when none is online."""
    if agents_free > 0:
        return Channel.LIVE_AGENT
    if agents_online > 0:
        return Channel.CHAT
    if callback:
        return Channel.CALLBACK
    if email:
        return Channel.EMAIL
    return None
