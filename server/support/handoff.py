"""The handoff packet: everything a person taking over needs, in one published shape.

When a support session is referred (``referral.py``), every channel — the live
agent console, a webhook, an email — receives this packet. Its JSON Schema is
published (``tandem schema handoff``, ``docs/schemas/handoff.json``) so that
receivers can validate it. Pure: built from what the shell gathered.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

HANDOFF_VERSION: Literal[1] = 1


class _Packet(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Visitor(_Packet):
    user: str = Field(description="the visitor's id on the site (or an anonymous id)")
    anonymous: bool = False
    traits: dict[str, str | int | float | bool | None] = Field(default_factory=dict)


class Location(_Packet):
    """Where the visitor is: the focused tab (else the most recently active one)."""

    tab: str
    url: str = Field(description="the page, with sensitive query values removed")
    title: str = ""
    process: str | None = Field(default=None, description="the process the page belongs to")
    page: str | None = Field(
        default=None, description="the page identifier: the URL pattern when there is no process"
    )


class PersonaRef(_Packet):
    id: str
    name: str
    avatar: str = ""


class WalkthroughReached(_Packet):
    """The walkthrough the visitor was in and the step they reached."""

    walkthrough: str
    version: int
    run: str
    step: str
    status: Literal["active", "completed", "abandoned"]
    completed_steps: list[str] = Field(default_factory=list)


class SignalEvidence(_Packet):
    kind: str = Field(description="rage_click, dead_click, error_click, quick_back, …")
    at_ms: int
    weight: float
    evidence: dict[str, Any] = Field(default_factory=dict)


class Frustration(_Packet):
    level: float
    threshold: float
    signals: list[SignalEvidence] = Field(default_factory=list)


class TranscriptEntry(_Packet):
    """One exchange of automated support: what the visitor asked and what they were told."""

    at_ms: int
    session: str
    question: str = ""
    offer: str
    persona: str | None = None
    walkthrough: str | None = None


class FaqShown(_Packet):
    id: str
    question: str


class HandoffPacket(_Packet):
    """What a referred support session hands to a person (claims 4, 5, 8, 15, 20, 21)."""

    version: Literal[1] = HANDOFF_VERSION
    site: str
    session: str = Field(description="the support session referred")
    created_ms: int
    triggers: list[str] = Field(
        description="why: below_threshold, asked_for_human, frustration, offered_person"
    )
    reasons: list[dict[str, Any]] = Field(
        default_factory=list, description="the machine-readable reasons, with evidence"
    )
    visitor: Visitor
    location: Location | None = None
    persona: PersonaRef | None = None
    walkthrough: WalkthroughReached | None = None
    frustration: Frustration | None = None
    transcript: list[TranscriptEntry] = Field(default_factory=list)
    faq_shown: list[FaqShown] = Field(default_factory=list)
