"""Support content beside the walkthroughs: personae, their roles and skills, and FAQ answers.

Claims 11, 13 and 14: the knowledge base holds responses to potential
questions (``faq.yaml``) and persona definitions (``personae.yaml``), each
persona with one role (``roles.yaml``) and a set of skills (``skills.yaml``).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator

from server.knowledge.common import Slug, Strict, unique_ids
from server.knowledge.markup import check_template, check_text

#: What a persona can say; each is a sandboxed template over ``user`` (traits), ``persona`` and ``offer``.
VOICE_LINES = (
    "greeting",
    "offer_walkthrough",
    "offer_faq",
    "offer_person",
    "resume",
    "ask_helped",
    "goodbye",
)
VOICE_VARIABLES = frozenset({"user", "persona", "offer"})


class Role(Strict):
    id: Slug
    title: str = Field(min_length=1, max_length=100)
    description: str = ""


class Skill(Strict):
    id: Slug
    title: str = Field(min_length=1, max_length=100)
    processes: list[Slug] = Field(
        default_factory=list, description="processes this skill covers (empty: any)"
    )


class SelectWhen(Strict):
    """A persona selection rule: every condition given must hold."""

    traits: dict[str, list[str | int | bool]] = Field(
        default_factory=dict, description="trait → accepted values"
    )
    visitor: Literal["new", "returning"] | None = None
    min_failures: int | None = Field(default=None, ge=1)


class Persona(Strict):
    id: Slug
    name: str = Field(min_length=1, max_length=60)
    avatar: str = Field(default="", max_length=8, description="an emoji or up to two letters")
    role: Slug
    skills: list[Slug] = Field(default_factory=list)
    voice: dict[str, str] = Field(
        default_factory=dict, description=f"lines: {', '.join(VOICE_LINES)}"
    )
    select_when: list[SelectWhen] = Field(
        default_factory=list, description="none: matches anyone (the default persona)"
    )

    @field_validator("voice")
    @classmethod
    def _voice(cls, voice: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(voice) - set(VOICE_LINES))
        if unknown:
            raise ValueError(
                f"unknown voice line(s) {', '.join(unknown)}; use {', '.join(VOICE_LINES)}"
            )
        for line in voice.values():
            check_text(line)
            check_template(line, VOICE_VARIABLES)
        return voice


class FaqEntry(Strict):
    id: Slug
    questions: list[str] = Field(min_length=1, max_length=20, description="ways visitors ask it")
    answer: str = Field(min_length=1, max_length=2000, description="safe markdown, like step text")
    processes: list[Slug] = Field(
        default_factory=list, description="processes it is about (ranked higher there)"
    )

    @field_validator("answer")
    @classmethod
    def _answer(cls, value: str) -> str:
        return check_text(value)


class RolesFile(Strict):
    roles: Annotated[list[Role], unique_ids("role")] = Field(default_factory=list)


class SkillsFile(Strict):
    skills: Annotated[list[Skill], unique_ids("skill")] = Field(default_factory=list)


class PersonaeFile(Strict):
    personae: Annotated[list[Persona], unique_ids("persona")] = Field(default_factory=list)


class FaqFile(Strict):
    entries: Annotated[list[FaqEntry], unique_ids("FAQ entry")] = Field(default_factory=list)
