"""Anonymous visitors get an id the server signs, so they keep one profile across pages and visits."""

from __future__ import annotations

import base64
import hashlib
import hmac

PREFIX = "anon-"


def _mac(secret: bytes, site: str, anon_id: str) -> str:
    digest = hmac.new(secret, f"{site}\x00{anon_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def issue_anonymous_id(secret: bytes, site: str, random_part: str) -> tuple[str, str]:
    """A new anonymous id for ``site`` and its signature; ``random_part`` comes from the caller."""
    anon_id = PREFIX + random_part
    return anon_id, _mac(secret, site, anon_id)


def anonymous_id_valid(secret: bytes, site: str, anon_id: str, signature: str) -> bool:
    """True when ``signature`` is the server's for this id on this site (constant-time)."""
    return anon_id.startswith(PREFIX) and hmac.compare_digest(
        _mac(secret, site, anon_id), signature
    )
