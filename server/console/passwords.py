"""Passwords: argon2id through argon2-cffi, with its recommended parameters.

Verifying against an account that does not exist still spends the time of one
verification, so response times do not tell which emails have accounts.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_HASHER = PasswordHasher()
#: Verified against when there is no account, so a miss costs what a hit costs.
_DUMMY = _HASHER.hash("no account has this password")
MIN_LENGTH = 12


class WeakPassword(ValueError):
    """A password too short to be accepted."""


def hash_password(password: str) -> str:
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"a password has at least {MIN_LENGTH} characters")
    return _HASHER.hash(password)


def verify_password(stored: str | None, password: str) -> tuple[bool, bool]:
    """Whether ``password`` matches ``stored`` (None: no account), and whether to rehash it."""
    try:
        _HASHER.verify(stored or _DUMMY, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False, False
    if stored is None:
        return False, False
    return True, _HASHER.check_needs_rehash(stored)
