"""Choosing the persona that talks to the visitor (claims 6, 13, 14, 22).

Personae are listed in the site's order; each has selection rules over the
visitor's profile traits and history. The first persona with a matching rule
is chosen (a persona without rules matches anyone: the default), skipping one
the history says to avoid (the persona of a failed session at this place).
Pure; the reason says which rule matched.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from server.knowledge.support_content import Persona
from server.support.history import Reason


@dataclass(frozen=True)
class SelectionRule:
    """All given conditions must hold: traits with one of the listed values; new or returning visitor."""

    traits: Mapping[str, Sequence[Any]] = field(default_factory=dict)
    new_visitor: bool | None = None  # True: no support history at all; False: some
    min_failures: int | None = None  # at least this many failed sessions anywhere

    def matches(self, traits: Mapping[str, Any], sessions: int, failures: int) -> bool:
        for name, allowed in self.traits.items():
            if traits.get(name) not in allowed:
                return False
        if self.new_visitor is not None and self.new_visitor != (sessions == 0):
            return False
        return self.min_failures is None or failures >= self.min_failures


@dataclass(frozen=True)
class PersonaCandidate:
    id: str
    rules: tuple[SelectionRule, ...] = ()


@dataclass(frozen=True)
class PersonaChoice:
    persona: str
    reason: Reason


def choose_persona(
    personae: Sequence[PersonaCandidate],
    traits: Mapping[str, Any],
    *,
    sessions: int,
    failures: int,
    avoid: str | None = None,
) -> PersonaChoice | None:
    """The persona for this visitor; None only when the site defines none."""
    usable = [p for p in personae if p.id != avoid] or list(personae)
    for persona in usable:
        if not persona.rules:
            return PersonaChoice(
                persona.id, Reason("default_persona", {"avoided": avoid} if avoid else {})
            )
        for index, rule in enumerate(persona.rules):
            if rule.matches(traits, sessions, failures):
                detail: dict[str, Any] = {"rule": index}
                if avoid:
                    detail["avoided"] = avoid
                return PersonaChoice(persona.id, Reason("persona_rule_matched", detail))
    if not usable:
        return None
    fallback = usable[-1]
    return PersonaChoice(
        fallback.id, Reason("no_rule_matched_last_persona", {"avoided": avoid} if avoid else {})
    )


def candidates_from(personae: Sequence[Persona]) -> list[PersonaCandidate]:
    """The site's persona definitions as selection candidates, in the site's order."""
    return [
        PersonaCandidate(
            p.id,
            tuple(
                SelectionRule(
                    traits=dict(rule.traits),
                    new_visitor=None if rule.visitor is None else rule.visitor == "new",
                    min_failures=rule.min_failures,
                )
                for rule in p.select_when
            ),
        )
        for p in personae
    ]
