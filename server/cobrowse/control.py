"""The control token of a co-browse session: one controller at a time, only with the visitor's yes.

An agent asks (``request``); the visitor grants or declines (``answer``); the
visitor takes it back at any time (``revoke``: Esc, or the banner's button);
the agent gives it back (``release``). A question not answered in time, or a
grant not used for a while, lapses: the broker keeps the token with a time to
live (``ttl_ms``), so a node that dies never leaves a session controlled.
Highlighting needs no control; clicking and typing do, and only by its holder.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import msgspec


class Phase(enum.StrEnum):
    REQUESTED = "requested"
    GRANTED = "granted"


class Token(msgspec.Struct, frozen=True, kw_only=True):
    agent: str  # the agent's email
    name: str  # what the visitor is shown
    phase: Phase
    since_ms: int


@dataclass(frozen=True)
class Refusal:
    code: str
    message: str


NEEDS_CONTROL = frozenset({"click", "fill"})


def request(current: Token | None, agent: str, name: str, now_ms: int) -> Token | Refusal:
    """The agent asks for control: a question for the visitor, unless someone has or asks already."""
    if current is not None and current.agent != agent:
        held = "has" if current.phase is Phase.GRANTED else "is asking for"
        return Refusal("control_taken", f"{current.name} {held} control of this page")
    if current is not None and current.phase is Phase.GRANTED:
        return current  # already theirs
    return Token(agent=agent, name=name, phase=Phase.REQUESTED, since_ms=now_ms)


def answer(current: Token | None, granted: bool, now_ms: int) -> Token | Refusal | None:
    """The visitor's answer to the question asked; a no (or a late yes) leaves nobody in control."""
    if current is None:
        return Refusal("not_asked", "no agent is asking for control")
    if not granted:
        return None
    if current.phase is Phase.GRANTED:
        return current
    return Token(agent=current.agent, name=current.name, phase=Phase.GRANTED, since_ms=now_ms)


def release(current: Token | None, agent: str) -> Refusal | None:
    """The agent gives control back (or withdraws the question)."""
    if current is None or current.agent != agent:
        return Refusal("not_controller", "you do not have control of this page")
    return None


def may_act(current: Token | None, agent: str, action: str) -> Refusal | None:
    """Whether the agent may do ``action`` now; highlighting is always allowed to a watcher."""
    if action not in NEEDS_CONTROL:
        return None
    if current is None or current.phase is not Phase.GRANTED:
        return Refusal("no_control", "the visitor has not given control")
    if current.agent != agent:
        return Refusal("not_controller", f"{current.name} has control of this page")
    return None


def ttl_ms(token: Token, *, answer_within_ms: int, control_for_ms: int) -> int:
    """How long the broker keeps the token: a question waits for its answer, a grant lapses unused."""
    return answer_within_ms if token.phase is Phase.REQUESTED else control_for_ms


def to_bytes(token: Token) -> bytes:
    return msgspec.msgpack.encode(token)


def from_bytes(raw: bytes) -> Token:
    return msgspec.msgpack.decode(raw, type=Token)
