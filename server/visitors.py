"""Visitor identity for each site: signing keys from the environment, tokens, anonymous ids."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from server.identity.anonymous import anonymous_id_valid, issue_anonymous_id
from server.identity.tokens import TokenRefused, VerifiedVisitor, verify_visitor_token
from server.knowledge.site import Site

log = logging.getLogger("tandem.visitors")


class SigningKeyMissing(RuntimeError):
    """A strict site names a signing key whose secret is not in the environment."""


@dataclass(frozen=True)
class SiteKeys:
    site: str
    keys: dict[str, str]  # kid → secret


def load_site_keys(sites: Mapping[str, Site], env: Mapping[str, str]) -> dict[str, SiteKeys]:
    """Read each site's signing secrets from the environment variables its site.yaml names."""
    loaded: dict[str, SiteKeys] = {}
    for key, site in sites.items():
        keys: dict[str, str] = {}
        for signing_key in site.config.signing_keys:
            secret = env.get(signing_key.secret_env, "")
            if secret:
                keys[signing_key.kid] = secret
            elif site.config.strict_identity:
                raise SigningKeyMissing(
                    f"site {key!r}: signing key {signing_key.kid!r} needs its secret in "
                    f"the environment variable {signing_key.secret_env}"
                )
            else:
                log.warning(
                    "site %s: %s is not set; tokens signed with key %s will be refused",
                    key, signing_key.secret_env, signing_key.kid,
                )  # fmt: skip
        loaded[key] = SiteKeys(key, keys)
    return loaded


class Visitors:
    """Verifies who a visitor is, for every site the server knows."""

    def __init__(self, keys: Mapping[str, SiteKeys], anonymous_secret: bytes) -> None:
        self._keys = keys
        self._anonymous_secret = anonymous_secret

    def verify(
        self, site: str, token: str, *, now_s: int, user: str | None = None
    ) -> VerifiedVisitor:
        site_keys = self._keys.get(site)
        if site_keys is None:
            raise TokenRefused(f"unknown site {site!r}")
        return verify_visitor_token(
            token, site=site, keys=site_keys.keys, now=now_s, expected_user=user
        )

    def use_keys(self, keys: SiteKeys) -> None:
        """The site's signing keys changed (an admin added or removed one)."""
        self._keys = {**self._keys, keys.site: keys}

    def new_anonymous(self, site: str) -> tuple[str, str]:
        return issue_anonymous_id(self._anonymous_secret, site, secrets.token_urlsafe(18))

    def anonymous_valid(self, site: str, anon_id: str, signature: str) -> bool:
        return anonymous_id_valid(self._anonymous_secret, site, anon_id, signature)
