"""Step texts (a safe markdown subset) and action values (sandboxed templates).

Step text allows ``**bold**``, ``*emphasis*``, ```code```, ``[links](https://…)``
(http, https or a path on the site) and line breaks — nothing else: no HTML,
no images. The client renders the same subset with DOM calls, never innerHTML.

Action values may use the visitor's profile traits, ``{{ user.first_name }}``,
through Jinja2's sandbox; they are rendered on the server, so the page never
evaluates a template.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import StrictUndefined, TemplateError, meta
from jinja2.sandbox import SandboxedEnvironment

MAX_TEXT = 2000
_HTML = re.compile(r"<\s*[A-Za-z/!?]")
_IMAGE = re.compile(r"!\[")
_LINK = re.compile(r"\[([^\]\n]+)\]\(([^)\s]+)\)")
_INLINE = re.compile(r"\*\*(.+?)\*\*|\*(.+?)\*|`([^`\n]+)`|\[([^\]\n]+)\]\(([^)\s]+)\)")


@dataclass(frozen=True)
class Span:
    """One piece of rendered text: ``kind`` is text, strong, em, code, link or br."""

    kind: str
    text: str = ""
    href: str = ""


def _check_href(href: str) -> None:
    if not (href.startswith(("https://", "http://", "/")) and not href.startswith("//")):
        raise ValueError(f"link {href!r}: only http(s) URLs and paths on the site are allowed")


def check_text(text: str) -> str:
    """Refuse what the subset does not allow; return the text unchanged."""
    if len(text) > MAX_TEXT:
        raise ValueError(f"text is longer than {MAX_TEXT} characters")
    if _HTML.search(text):
        raise ValueError(
            "HTML is not allowed in step text (use **bold**, *emphasis*, `code`, [links](https://…))"
        )
    if _IMAGE.search(text):
        raise ValueError("images are not allowed in step text")
    for match in _LINK.finditer(text):
        _check_href(match[2])
    return text


def parse_text(text: str) -> list[Span]:
    """The spans of a checked step text, in order (what the client renders)."""
    spans: list[Span] = []
    for line_no, line in enumerate(check_text(text).split("\n")):
        if line_no:
            spans.append(Span("br"))
        pos = 0
        for match in _INLINE.finditer(line):
            if match.start() > pos:
                spans.append(Span("text", line[pos : match.start()]))
            bold, em, code, label, href = match.groups()
            if bold is not None:
                spans.append(Span("strong", bold))
            elif em is not None:
                spans.append(Span("em", em))
            elif code is not None:
                spans.append(Span("code", code))
            else:
                spans.append(Span("link", label, href))
            pos = match.end()
        if pos < len(line):
            spans.append(Span("text", line[pos:]))
    return spans


_env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
ALLOWED_VARIABLES = frozenset({"user"})


def check_template(source: str, allowed: frozenset[str] = ALLOWED_VARIABLES) -> str:
    """Refuse a template that does not parse or uses variables other than ``allowed`` (default: ``user``)."""
    try:
        names = meta.find_undeclared_variables(_env.parse(source))
    except TemplateError as exc:
        raise ValueError(f"template does not parse: {exc}") from None
    unknown = sorted(names - allowed)
    if unknown:
        uses = ", ".join(f"{name}.*" for name in sorted(allowed))
        raise ValueError(f"templates may only use {uses}, not {', '.join(unknown)}")
    return source


def render_template(source: str, **context: Any) -> str:
    """Render a checked template in the sandbox; a missing variable is an error, not blank."""
    try:
        return _env.from_string(source).render(**context)
    except TemplateError as exc:
        raise ValueError(f"cannot render {source!r}: {exc}") from None


def render_value(source: str, traits: Mapping[str, Any]) -> str:
    """Render an action value with the visitor's traits; a missing trait is an error, not blank."""
    try:
        return _env.from_string(source).render(user=dict(traits))
    except TemplateError as exc:
        raise ValueError(f"cannot fill {source!r}: {exc}") from None
