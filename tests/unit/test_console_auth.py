"""Console sign-in, the pure parts: argon2 passwords and the login limiter."""

from __future__ import annotations

import pytest

from server.console.limits import LoginLimiter
from server.console.passwords import WeakPassword, hash_password, verify_password


def test_passwords_are_argon2id_and_verify_only_themselves() -> None:
    stored = hash_password("correct horse battery")
    assert stored.startswith("$argon2id$")
    assert verify_password(stored, "correct horse battery") == (True, False)
    assert verify_password(stored, "wrong horse battery") == (False, False)
    assert verify_password(None, "correct horse battery") == (False, False)  # no account
    assert verify_password("not a hash", "x") == (False, False)
    with pytest.raises(WeakPassword, match="at least 12"):
        hash_password("short")


@pytest.mark.parametrize(
    ("failures", "at", "retry"),
    [
        pytest.param(4, 1_000, 0, id="under-the-limit"),
        pytest.param(5, 1_000, 900_000 - 1_000, id="at-the-limit-wait-for-the-oldest"),
        pytest.param(5, 900_000, 0, id="the-oldest-left-the-window"),
    ],
)
def test_five_failures_in_fifteen_minutes_lock_the_key(failures: int, at: int, retry: int) -> None:
    limiter = LoginLimiter()
    for _ in range(failures):
        limiter.failed(["demo:ada@acme.test", "ip:10.0.0.1"], now_ms=0)
    assert limiter.retry_after_ms(["demo:ada@acme.test"], now_ms=at) == retry


def test_a_success_clears_the_account_but_not_the_address() -> None:
    limiter = LoginLimiter(max_failures=2)
    limiter.failed(["acct", "ip"], now_ms=0)
    limiter.failed(["acct", "ip"], now_ms=1)
    limiter.succeeded("acct")
    assert limiter.retry_after_ms(["acct"], now_ms=2) == 0
    assert limiter.retry_after_ms(["acct", "ip"], now_ms=2) > 0
