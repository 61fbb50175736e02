"""URL patterns (the WHATWG URLPattern syntax) for processes and walkthroughs.

A pattern is written either as a path (``/invoices/:id``, ``/billing/*``),
which matches that pathname on any of the site's origins, or as a full URL
pattern (``https://app.example.com/billing/*``), or as a mapping of URLPattern
components (``{pathname: /reports, search: "tab=export*"}``). The browser's
native ``URLPattern`` and this module read the same syntax.
"""

from __future__ import annotations

from typing import Any

from urlpattern import URLPattern

COMPONENTS = ("protocol", "username", "password", "hostname", "port", "pathname", "search", "hash")

UrlPatternSpec = str | dict[str, str]


def compile_pattern(spec: UrlPatternSpec) -> URLPattern:
    """Compile a pattern spec; raise ``ValueError`` with a readable reason when it is invalid."""
    init: Any
    if isinstance(spec, str):
        if not spec:
            raise ValueError("a URL pattern cannot be empty")
        init = {"pathname": spec} if spec.startswith("/") else spec
    else:
        unknown = sorted(set(spec) - set(COMPONENTS))
        if unknown:
            raise ValueError(f"unknown URLPattern component(s): {', '.join(unknown)}")
        init = dict(spec)
    try:
        return URLPattern(init)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"invalid URL pattern {spec!r}: {exc}") from None


def matches(pattern: URLPattern, url: str) -> bool:
    """True when ``url`` (absolute) matches ``pattern``."""
    return bool(pattern.test(url))
