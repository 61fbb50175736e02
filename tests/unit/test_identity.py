"""Visitor tokens and anonymous ids: each way a token can be wrong is refused with a reason."""

from __future__ import annotations

from typing import Any

import jwt
import pytest

from server.identity.anonymous import anonymous_id_valid, issue_anonymous_id
from server.identity.tokens import TokenRefused, sign_visitor_token, verify_visitor_token

SECRET = "a-site-signing-secret-of-32-bytes!!"
KEYS = {"k1": SECRET, "k0": "an-older-key-still-accepted-32-bytes"}
NOW = 1_800_000_000


def token(**claims: Any) -> str:
    headers = {"kid": claims.pop("_kid", "k1")}
    secret = claims.pop("_secret", SECRET)
    algorithm = claims.pop("_alg", "HS256")
    body = {"sub": "u-ada", "aud": "demo", "exp": NOW + 600, **claims}
    return jwt.encode(
        {k: v for k, v in body.items() if v is not None},
        secret,
        algorithm=algorithm,
        headers=headers,
    )


def verify(raw: str, **kw: Any) -> Any:
    return verify_visitor_token(raw, site="demo", keys=KEYS, now=NOW, **kw)


def test_a_signed_token_verifies_with_its_traits() -> None:
    raw = sign_visitor_token(
        "u-ada", site="demo", kid="k1", secret=SECRET, now=NOW, traits={"plan": "pro"}
    )
    visitor = verify(raw, expected_user="u-ada")
    assert (visitor.user_id, visitor.traits, visitor.kid, visitor.expires_at) == (
        "u-ada",
        {"plan": "pro"},
        "k1",
        NOW + 3600,
    )


def test_an_older_key_id_still_verifies_during_rotation() -> None:
    assert verify(token(_kid="k0", _secret=KEYS["k0"])).kid == "k0"


REFUSALS = [
    ("expired", token(exp=NOW - 60), "expired"),
    ("expired within leeway is fine", None, ""),
    ("not valid yet", token(nbf=NOW + 600), "not valid yet"),
    ("not valid yet, nbf with a fraction", token(nbf=NOW + 600.5), "not valid yet"),
    ("nbf not a number", token(nbf="soon"), "nbf must be a number"),
    ("lives too long", token(exp=NOW + 3 * 24 * 3600), "lives too long"),
    ("unknown kid", token(_kid="k9"), "unknown key id"),
    (
        "no kid",
        jwt.encode({"sub": "u", "aud": "demo", "exp": NOW + 60}, SECRET, algorithm="HS256"),
        "no key id",
    ),
    (
        "wrong secret",
        token(_secret="another-secret-that-is-32-bytes-long"),
        "signature does not match",
    ),
    (
        "other algorithm",
        jwt.api_jws.encode(
            b'{"sub":"u","aud":"demo","exp":1800000600}',
            SECRET * 2,
            algorithm="HS512",
            headers={"kid": "k1"},
        ),
        "must be signed with HS256",
    ),
    ("other site", token(aud="shop"), "another site"),
    ("no subject", token(sub=None), "'sub'"),
    ("no expiry", token(exp=None), "'exp'"),
    ("traits not a mapping", token(traits=["a"]), "traits must be a mapping"),
    ("NaN trait", token(traits={"score": float("nan")}), "'score' must be a finite number"),
    ("infinite trait", token(traits={"a": {"b": [float("inf")]}}), "'a' must be a finite number"),
    ("NUL in a trait", token(traits={"name": "A\x00"}), "'name' contains a NUL character"),
    ("NUL in a trait's name", token(traits={"n\x00": "A"}), "NUL character in its name"),
    ("NUL in the subject", token(sub="u-ada\x00"), "sub contains a NUL character"),
    ("not a jwt", "not-a-token", "not a JWT"),
]


@pytest.mark.parametrize(("case", "raw", "reason"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_refusals(case: str, raw: str | None, reason: str) -> None:
    if raw is None:  # leeway: 20 s past expiry is still accepted
        assert verify(token(exp=NOW - 20)).user_id == "u-ada"
        return
    with pytest.raises(TokenRefused) as caught:
        verify(raw)
    assert reason in str(caught.value)
    assert SECRET not in str(caught.value)


def test_a_token_already_valid_is_accepted_whatever_the_type_of_its_nbf() -> None:
    assert verify(token(nbf=NOW - 60)).user_id == "u-ada"
    assert verify(token(nbf=NOW - 0.5)).user_id == "u-ada"
    assert verify(token(nbf=NOW + 20.5)).user_id == "u-ada"  # within the leeway


def test_a_token_for_another_user_is_refused() -> None:
    with pytest.raises(TokenRefused, match="another user"):
        verify(token(), expected_user="u-grace")


def test_a_tampered_payload_is_refused() -> None:
    header, _, signature = token().split(".")
    forged_payload = token(sub="u-grace").split(".")[1]
    with pytest.raises(TokenRefused, match="signature"):
        verify(f"{header}.{forged_payload}.{signature}")


def test_anonymous_ids_are_signed_per_site() -> None:
    secret = b"server-secret"
    anon, sig = issue_anonymous_id(secret, "demo", "Q2x8mN4pR7sT1vW3")
    assert anon == "anon-Q2x8mN4pR7sT1vW3"
    assert anonymous_id_valid(secret, "demo", anon, sig)
    assert not anonymous_id_valid(secret, "shop", anon, sig)
    assert not anonymous_id_valid(b"other", "demo", anon, sig)
    assert not anonymous_id_valid(secret, "demo", anon + "x", sig)
    assert not anonymous_id_valid(secret, "demo", "u-ada", sig)
