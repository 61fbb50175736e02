"""Visitor tokens: a JWT (HS256) the site's backend signs with one of its keys.

Claims: ``sub`` (the user id), ``aud`` (the site key), ``exp`` (short-lived),
optional ``traits`` (a flat mapping). The header carries ``kid`` so keys can be
rotated. Verification is PyJWT's (HMAC compared in constant time); expiry is
checked against the ``now`` the caller passes, so this module reads no clock.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import jwt

ALGORITHM = "HS256"
LEEWAY_S = 30
MAX_LIFETIME_S = 24 * 3600


class TokenRefused(ValueError):
    """The token cannot be trusted; the message says why (never the secret)."""


@dataclass(frozen=True)
class VerifiedVisitor:
    user_id: str
    traits: dict[str, Any] = field(default_factory=dict)
    kid: str = ""
    expires_at: int = 0


def sign_visitor_token(
    user_id: str,
    *,
    site: str,
    kid: str,
    secret: str,
    now: int,
    lifetime_s: int = 3600,
    traits: Mapping[str, Any] | None = None,
) -> str:
    """Sign a token as a site's backend does (``tandem sign-user``, tests, the demo site)."""
    claims: dict[str, Any] = {"sub": user_id, "aud": site, "iat": now, "exp": now + lifetime_s}
    if traits:
        claims["traits"] = dict(traits)
    return jwt.encode(claims, secret, algorithm=ALGORITHM, headers={"kid": kid})


def verify_visitor_token(
    token: str, *, site: str, keys: Mapping[str, str], now: int, expected_user: str | None = None
) -> VerifiedVisitor:
    """Check signature, key id, audience, expiry and subject; raise ``TokenRefused``."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise TokenRefused("the token is not a JWT") from None
    if header.get("alg") != ALGORITHM:
        raise TokenRefused(f"the token must be signed with {ALGORITHM}")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise TokenRefused("the token has no key id (kid) in its header")
    secret = keys.get(kid)
    if secret is None:
        raise TokenRefused(f"unknown key id {kid!r} for site {site!r}")
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            audience=site,
            options={
                "require": ["sub", "exp", "aud"],
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
            },
        )
    except jwt.InvalidAudienceError:
        raise TokenRefused(f"the token is for another site, not {site!r}") from None
    except jwt.InvalidSignatureError:
        raise TokenRefused("the token's signature does not match") from None
    except jwt.MissingRequiredClaimError as exc:
        raise TokenRefused(f"the token lacks the {exc.claim!r} claim") from None
    except jwt.PyJWTError as exc:
        raise TokenRefused(f"the token is invalid: {exc}") from None
    exp = claims["exp"]
    if not isinstance(exp, int):
        raise TokenRefused("exp must be a whole number of seconds")
    if exp < now - LEEWAY_S:
        raise TokenRefused("the token has expired")
    if exp > now + MAX_LIFETIME_S + LEEWAY_S:
        raise TokenRefused("the token lives too long: visitor tokens expire within 24 hours")
    nbf = claims.get("nbf")
    if nbf is not None:
        # JSON numbers: a whole number of seconds or a fraction, checked alike (RFC 7519 NumericDate).
        if isinstance(nbf, bool) or not isinstance(nbf, int | float) or not math.isfinite(nbf):
            raise TokenRefused("nbf must be a number of seconds")
        if nbf > now + LEEWAY_S:
            raise TokenRefused("the token is not valid yet")
    user_id = claims["sub"]
    if not isinstance(user_id, str) or not user_id:
        raise TokenRefused("sub must be the user id, a non-empty string")
    if expected_user is not None and user_id != expected_user:
        raise TokenRefused("the token was signed for another user")
    if "\x00" in user_id:
        raise TokenRefused("sub contains a NUL character")
    traits = claims.get("traits") or {}
    if not isinstance(traits, dict):
        raise TokenRefused("traits must be a mapping")
    for name, value in traits.items():
        why = _unstorable(value)
        if why or "\x00" in name:
            raise TokenRefused(f"trait {name!r} {why or 'has a NUL character in its name'}")
    return VerifiedVisitor(user_id, traits, kid, exp)


def _unstorable(value: object) -> str:
    """Why a trait value cannot be kept in a profile (JSON, any store), or ""."""
    if isinstance(value, float) and not math.isfinite(value):
        return f"must be a finite number, not {value}"  # JSON parsers accept NaN; JSON has none
    if isinstance(value, str) and "\x00" in value:
        return "contains a NUL character"
    if isinstance(value, dict):
        return next(
            (w for w in (_unstorable(k) or _unstorable(v) for k, v in value.items()) if w), ""
        )
    if isinstance(value, list):
        return next((w for w in map(_unstorable, value) if w), "")
    return ""
