"""Walkthroughs (co-browsing segments, claim 12): the YAML format authors and the recorder write.

A walkthrough belongs to one process and has steps. Each step points at its
target with a **target descriptor** — ranked candidate selectors of named
kinds plus a fingerprint of the element — the one structure the player, the
recorder and Chrome Recorder import share. The JSON Schema of this format is
published (``tandem schema walkthrough``); ``docs/walkthroughs.md`` explains it.
"""

from __future__ import annotations

import enum
import hashlib
import json
from typing import Annotated, Any, Literal, Self

from pydantic import Field, field_validator, model_validator

from server.knowledge.common import Slug, Strict
from server.knowledge.markup import check_template, check_text
from server.knowledge.urls import UrlPatternSpec, compile_pattern


class CandidateKind(enum.StrEnum):
    """Ways to find an element, roughly from most to least stable."""

    TESTID = "testid"  # data-testid (or the site's test id attribute)
    ROLE = "role"  # ARIA role + accessible name
    LABEL = "label"  # the text of its <label> / aria-label
    PLACEHOLDER = "placeholder"
    ALT = "alt"
    TEXT = "text"  # visible text
    TITLE = "title"
    CSS = "css"
    XPATH = "xpath"
    SHADOW = "shadow"  # a chain of CSS selectors, one per shadow root crossed


StepText = Annotated[str, Field(min_length=1, max_length=2000)]


class Candidate(Strict):
    """One way to find the target. ``value`` is the selector, id, text or role."""

    kind: CandidateKind
    value: str = Field(default="", max_length=1000)
    name: str | None = Field(
        default=None, max_length=300, description="accessible name (role candidates)"
    )
    exact: bool = Field(default=True, description="text-like kinds: whole text, not a part of it")
    chain: list[str] = Field(
        default_factory=list, max_length=8, description="shadow: outer host → … → the element"
    )

    @model_validator(mode="after")
    def _shape(self) -> Self:
        if self.kind is CandidateKind.SHADOW:
            if len(self.chain) < 2:
                raise ValueError(
                    "a shadow candidate needs a chain of at least 2 selectors (host, then element)"
                )
        elif not self.value:
            raise ValueError(f"a {self.kind.value} candidate needs a value")
        if self.name is not None and self.kind is not CandidateKind.ROLE:
            raise ValueError("only role candidates have a name")
        return self


class Position(Strict):
    """Where the element's centre was, as a fraction of the document's width and height."""

    x: float = Field(ge=0, le=1)
    y: float = Field(ge=0, le=1)


class Fingerprint(Strict):
    """What the element looked like when it was recorded: used to score fallbacks."""

    tag: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    role: str | None = None
    name: str | None = Field(default=None, max_length=300)
    text: str | None = Field(default=None, max_length=300)
    attributes: dict[str, str] = Field(default_factory=dict, max_length=20)
    heading: str | None = Field(
        default=None, max_length=300, description="the nearest heading before it"
    )
    landmark: str | None = Field(
        default=None, description="the landmark it is in (main, nav, dialog, …)"
    )
    frame: list[str] = Field(
        default_factory=list, description="selectors of the iframes it is inside, outermost first"
    )
    shadow_hosts: list[str] = Field(
        default_factory=list, description="selectors of the shadow hosts it is inside"
    )
    position: Position | None = None


class Target(Strict):
    """A target descriptor: candidates in rank order, and the fingerprint."""

    candidates: list[Candidate] = Field(min_length=1, max_length=20)
    fingerprint: Fingerprint | None = None


KEYS = frozenset(
    {
        "Enter",
        "Tab",
        "Escape",
        "Space",
        "Backspace",
        "Delete",
        "ArrowUp",
        "ArrowDown",
        "ArrowLeft",
        "ArrowRight",
        "Home",
        "End",
        "PageUp",
        "PageDown",
    }
)


class Action(Strict):
    """What "Do it for me" performs: one allowlisted action. Never arbitrary JavaScript."""

    kind: Literal[
        "click", "fill", "select", "check", "press", "hover", "scroll", "navigate", "wait"
    ]
    value: str | None = Field(
        default=None, max_length=1000, description="fill/select: may use {{ user.trait }}"
    )
    checked: bool | None = Field(default=None, description="check: the state to set")
    key: str | None = Field(default=None, description="press: one of the allowed keys")
    url: str | None = Field(
        default=None, max_length=2000, description="navigate: a path on the site"
    )
    ms: int | None = Field(default=None, ge=0, le=60_000, description="wait: milliseconds")

    @model_validator(mode="after")
    def _needs(self) -> Self:
        needs = {
            "fill": "value",
            "select": "value",
            "check": "checked",
            "press": "key",
            "navigate": "url",
            "wait": "ms",
        }
        needed = needs.get(self.kind)
        if needed and getattr(self, needed) is None:
            raise ValueError(f"a {self.kind} action needs {needed}")
        extra = [
            f
            for f in ("value", "checked", "key", "url", "ms")
            if f != needed and getattr(self, f) is not None
        ]
        if extra:
            raise ValueError(f"a {self.kind} action takes no {', '.join(extra)}")
        if self.value is not None:
            check_template(self.value)
        if self.key is not None and self.key not in KEYS:
            raise ValueError(
                f"key {self.key!r} is not allowed; use one of {', '.join(sorted(KEYS))}"
            )
        if self.url is not None and not (
            self.url.startswith("/") and not self.url.startswith("//")
        ):
            raise ValueError("navigate goes to a path on the site, starting with /")
        return self


class Advance(Strict):
    """How the step moves on."""

    after: Literal["next", "click", "input", "url", "appears", "disappears"] = Field(
        default="next",
        description="next: the Next button; click/input: on the target; url; an element appears/disappears",
    )
    url: UrlPatternSpec | None = None
    selector: str | None = None

    @model_validator(mode="after")
    def _needs(self) -> Self:
        if self.after == "url":
            if self.url is None:
                raise ValueError("advancing on url needs a url pattern")
            compile_pattern(self.url)
        if self.after in ("appears", "disappears") and not self.selector:
            raise ValueError(f"advancing when an element {self.after} needs its selector")
        return self


class Expect(Strict):
    """The expected outcome of the step's action: checked after acting; a mismatch stops drive mode."""

    url: UrlPatternSpec | None = None
    appears: str | None = None
    disappears: str | None = None
    value: str | None = Field(default=None, description="the target's value afterwards")

    @model_validator(mode="after")
    def _something(self) -> Self:
        if all(v is None for v in (self.url, self.appears, self.disappears, self.value)):
            raise ValueError(
                "an expectation names a url, an element that appears or disappears, or a value"
            )
        if self.url is not None:
            compile_pattern(self.url)
        return self


class Condition(Strict):
    """A branch condition: exactly one of these."""

    appears: str | None = None
    url: UrlPatternSpec | None = None
    trait: dict[str, str] | None = None

    @model_validator(mode="after")
    def _one(self) -> Self:
        given = [n for n in ("appears", "url", "trait") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError("a condition has exactly one of appears, url or trait")
        if self.url is not None:
            compile_pattern(self.url)
        return self


class Branch(Strict):
    when: Condition
    goto: Slug


class Step(Strict):
    id: Slug
    target: Target | None = Field(
        default=None, description="none: a centred step about the whole page"
    )
    text: StepText
    persona_text: dict[str, StepText] = Field(
        default_factory=dict, description="persona id → text in its voice"
    )
    placement: Literal["auto", "top", "bottom", "left", "right", "center"] = "auto"
    action: Action | None = None
    advance: Advance = Field(default_factory=Advance)
    expect: Expect | None = None
    timeout_ms: int = Field(
        default=10_000, ge=500, le=120_000, description="how long to wait for the target"
    )
    when_missing: Literal["wait", "skip", "center", "abort", "escalate"] = "wait"
    destructive: bool = Field(default=False, description="drive mode asks before acting")
    branches: list[Branch] = Field(default_factory=list, max_length=10)

    @field_validator("text")
    @classmethod
    def _text(cls, value: str) -> str:
        return check_text(value)

    @field_validator("persona_text")
    @classmethod
    def _persona_text(cls, value: dict[str, str]) -> dict[str, str]:
        for text in value.values():
            check_text(text)
        return value

    @model_validator(mode="after")
    def _coherent(self) -> Self:
        needs_target = {"click", "fill", "select", "check", "hover"}
        if self.action is not None and self.action.kind in needs_target and self.target is None:
            raise ValueError(f"a {self.action.kind} action needs a target")
        if self.advance.after in ("click", "input") and self.target is None:
            raise ValueError(f"advancing after {self.advance.after} needs a target")
        return self


class Applies(Strict):
    """Where the walkthrough can start: URL patterns (default: its process's) and elements that must be present."""

    urls: list[UrlPatternSpec] = Field(default_factory=list)
    elements: list[str] = Field(default_factory=list, max_length=10)

    @field_validator("urls")
    @classmethod
    def _urls(cls, values: list[UrlPatternSpec]) -> list[UrlPatternSpec]:
        for value in values:
            compile_pattern(value)
        return values


class WalkthroughFile(Strict):
    """One walkthrough file: ``walkthroughs/<site>/<id>.yaml``."""

    id: Slug
    title: str = Field(min_length=1, max_length=200)
    version: int = Field(
        ge=1, description="raise it when the steps change; runs stay on the version they started"
    )
    variant_of: Slug | None = Field(
        default=None, description="the walkthrough this is another version of"
    )
    process: Slug
    description: str = ""
    applies: Applies = Field(default_factory=Applies)
    steps: list[Step] = Field(min_length=1, max_length=100)

    @field_validator("steps")
    @classmethod
    def _steps(cls, steps: list[Step]) -> list[Step]:
        ids = [s.id for s in steps]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"step ids are used twice: {', '.join(duplicates)}")
        for step in steps:
            for branch in step.branches:
                if branch.goto not in ids:
                    raise ValueError(
                        f"step {step.id!r} branches to {branch.goto!r}, which is not a step"
                    )
        return steps

    @model_validator(mode="after")
    def _not_its_own_variant(self) -> Self:
        if self.variant_of == self.id:
            raise ValueError("a walkthrough cannot be a variant of itself")
        return self

    def step(self, step_id: str) -> Step | None:
        return next((s for s in self.steps if s.id == step_id), None)

    def canonical(self) -> tuple[str, dict[str, Any]]:
        """The content as stored (JSON) and its digest: equal content, equal digest, whatever the YAML layout."""
        body = self.model_dump(mode="json")
        encoded = json.dumps(
            body, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()
        return hashlib.sha256(encoded).hexdigest(), body
