"""Addresses and text as a recorded walkthrough keeps them (pure: no I/O, no clock).

URLs lose their credentials, sensitive query values and the values of fields known to be
private; ids and tokens in a path become ``*`` (they are the author's own: their invoice,
their reset link); labels lose markup of their own; typed values keep template syntax literal.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

from server.knowledge.location import redact_url

#: Characters with a meaning in URL patterns (URLPattern's pathname syntax).
_PATTERN_SPECIAL = re.compile(r"([:*()+?{}\\])")
#: Characters with a meaning in step text (the markdown subset).
_MARKUP_SPECIAL = re.compile(r"([*`\[\]_<>!])")
_NOT_SLUG = re.compile(r"[^a-z0-9]+")


def markup(label: str) -> str:
    """A label made safe for step text: no markup of its own, no HTML."""
    return _MARKUP_SPECIAL.sub("", label).strip() or "this"


def slug(text: str, limit: int = 40) -> str:
    out = _NOT_SLUG.sub("-", text.lower()).strip("-")
    return out[:limit].strip("-") or "step"


def variable_segment(segment: str) -> bool:
    """Whether a path segment is an id or a token rather than a name: digits (an invoice
    number, a date), a hex hash or UUID, a long mixed-case token, a JWT. Such segments are
    the author's own (their invoice, their reset link) and become ``*``."""
    text = unquote(segment)
    if re.search(r"\d{4,}", text) or re.fullmatch(r"[0-9a-fA-F-]{16,}", text):
        return True
    mixed = all(re.search(p, text) for p in (r"[A-Z]", r"[a-z]", r"\d"))
    return (len(text) >= 20 and mixed) or (text.count(".") == 2 and len(text) > 30)


def path_pattern(url: str) -> str:
    """A URL as the pathname pattern a step advances to or expects: no query, no fragment,
    ids and tokens in the path as ``*``."""
    path = urlsplit(url).path or "/"
    segments = [
        "*" if variable_segment(s) else _PATTERN_SPECIAL.sub(r"\\\1", s) for s in path.split("/")
    ]
    return "/".join(segments)


def clean_url(url: str, private_names: frozenset[str] = frozenset()) -> str:
    """A URL without credentials, without sensitive query values and without the values of
    fields known to be private (a GET form's password would otherwise ride in its query)."""
    redacted = redact_url(url)
    parts = urlsplit(redacted)
    if not parts.query or not private_names:
        return redacted
    pairs = [
        (k, "redacted" if k in private_names else v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
    ]
    return parts._replace(query=urlencode(pairs)).geturl()


def site_path(url: str, private_names: frozenset[str] = frozenset()) -> str:
    """Path and (cleaned) query of a URL: what a ``navigate`` action and ``applies`` keep."""
    parts = urlsplit(clean_url(url, private_names))
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def fixed_path(url: str) -> bool:
    """Whether a URL's path names the same page for every visitor (no id or token in it)."""
    return not any(variable_segment(s) for s in (urlsplit(url).path or "/").split("/"))


def fill_value(value: str) -> str | None:
    """A typed value as a ``fill`` action's value: action values are templates, so template
    syntax the author typed is kept literal; None when it cannot be (or is too long)."""
    if len(value) > 900 or "endraw" in value:
        return None
    if any(mark in value for mark in ("{{", "{%", "{#")):
        return "{% raw %}" + value + "{% endraw %}"
    return value
