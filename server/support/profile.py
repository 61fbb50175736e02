"""A visitor's profile and the append-only support data items kept in it (claim 1).

The store persists these; the support decisions read them. Times are Unix
epoch milliseconds chosen by the caller, so this module stays clock-free.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class SupportItem:
    """One append-only profile entry: what happened in a support session, and whether it failed."""

    id: int
    kind: str
    at_ms: int
    payload: dict[str, Any]
    failure: bool = False
    failure_reason: str | None = None


@dataclass(frozen=True)
class Profile:
    """A visitor of one site: traits from the site's token, and their support history."""

    site: str
    user_id: str
    traits: dict[str, Any]
    created_ms: int
    items: tuple[SupportItem, ...] = field(default_factory=tuple)

    def failures(self) -> tuple[SupportItem, ...]:
        """Items recorded with the automated-support failure indicator."""
        return tuple(item for item in self.items if item.failure)
