"""Where a visitor is: which process a URL (and the page's markers) belongs to.

The client reports the URL with sensitive query values already removed; the
server removes them again before storing (a modified client is not trusted).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from urlpattern import URLPattern

from server.knowledge.site import Site
from server.knowledge.urls import compile_pattern

#: Query or fragment keys whose values are never kept. The client uses the same list.
SENSITIVE_KEY = re.compile(
    r"pass|pwd|secret|token|auth|session|sid|key|code|otp|signature|sig|card|cc|cvv|cvc|ssn|iban|email|jwt|bearer",
    re.IGNORECASE,
)
REDACTED = "redacted"


def _redact_pairs(text: str) -> str:
    pairs = parse_qsl(text, keep_blank_values=True)
    if not pairs:
        return text
    return urlencode([(k, REDACTED if SENSITIVE_KEY.search(k) else v) for k, v in pairs])


def redact_url(url: str) -> str:
    """Remove credentials, and the values of sensitive-looking query and fragment keys."""
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    query = _redact_pairs(parts.query) if parts.query else ""
    fragment = parts.fragment
    if "=" in fragment:
        fragment = _redact_pairs(fragment)
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
