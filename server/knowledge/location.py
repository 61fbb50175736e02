"""Where a visitor is: which process a URL (and the page's markers) belongs to.

The client reports the URL with sensitive query values already removed; the
server removes them again before storing (a modified client is not trusted).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import unquote_plus, urlsplit, urlunsplit

from urlpattern import URLPattern

from server.knowledge.site import Site
from server.knowledge.urls import compile_pattern

#: A query or fragment key is sensitive when one of its words (split at punctuation
#: and camelCase) is one of these, or when it contains one of SENSITIVE_PARTS.
#: The client applies the same rule (client_js/src/sanitize.js); the shared
#: cases in tests/golden/redaction_cases.json keep the two in step.
SENSITIVE_WORDS = frozenset(
    [
        "pass",
        "password",
        "passwd",
        "pwd",
        "secret",
        "token",
        "auth",
        "authorization",
        "session",
        "sid",
        "key",
        "code",
        "otp",
        "pin",
        "signature",
        "sig",
        "card",
        "cc",
        "cvv",
        "cvc",
        "csc",
        "ssn",
        "iban",
        "email",
        "jwt",
        "bearer",
        "credential",
        "credentials",
    ]
)
SENSITIVE_PARTS = (
    "password",
    "passwd",
    "secret",
    "token",
    "apikey",
    "sessionid",
    "signature",
    "bearer",
    "credential",
)
REDACTED = "redacted"
_WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")


def sensitive_key(key: str) -> bool:
    """True when a parameter's value must not be kept."""
    if any(word.lower() in SENSITIVE_WORDS for word in _WORD.findall(key)):
        return True
    compact = re.sub(r"[^a-z0-9]", "", key.lower())
    return any(part in compact for part in SENSITIVE_PARTS)


def _redact_pairs(text: str) -> str:
    """Replace sensitive values in ``a=1&b=2``; every other pair stays byte for byte."""
    out = []
    for pair in text.split("&"):
        key, eq, _ = pair.partition("=")
        out.append(f"{key}={REDACTED}" if eq and sensitive_key(unquote_plus(key)) else pair)
    return "&".join(out)


def redact_url(url: str) -> str:
    """Remove credentials, and the values of sensitive-looking query and fragment keys."""
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    query = _redact_pairs(parts.query) if parts.query else ""
    fragment = _redact_pairs(parts.fragment) if "=" in parts.fragment else parts.fragment
    return urlunsplit((parts.scheme, netloc, parts.path, query, fragment))


@dataclass(frozen=True)
class ProcessIndex:
    """The site's processes with their URL patterns compiled once."""

    site: Site
    _patterns: tuple[tuple[str, tuple[URLPattern, ...]], ...] = field(init=False)

    def __post_init__(self) -> None:
        compiled = tuple(
            (p.id, tuple(compile_pattern(spec) for spec in p.url_patterns))
            for p in self.site.processes
        )
        object.__setattr__(self, "_patterns", compiled)

    def resolve(self, url: str, markers: Sequence[str] = ()) -> str | None:
        """The process the visitor is in: a known page marker first, else the first matching URL pattern."""
        for marker in markers:
            if self.site.process(marker) is not None:
                return marker
        for process_id, patterns in self._patterns:
            if any(p.test(url) for p in patterns):
                return process_id
        return None
