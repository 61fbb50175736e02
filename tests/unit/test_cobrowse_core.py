"""The co-browse session's pure core: the control token's transitions and how the mirror is
relayed (restamped on the server's clock, pointer and scroll runs coalesced)."""

from __future__ import annotations

from typing import Any

import pytest

from server.cobrowse import control
from server.cobrowse.control import Phase, Refusal, Token
from server.cobrowse.relay import begins_with_snapshot, coalesce, restamp

ADA = Token(agent="ada@acme.test", name="Ada", phase=Phase.REQUESTED, since_ms=1)
ADA_GRANTED = Token(agent="ada@acme.test", name="Ada", phase=Phase.GRANTED, since_ms=2)
BOB = Token(agent="bob@acme.test", name="Bob", phase=Phase.GRANTED, since_ms=3)


@pytest.mark.parametrize(
    ("current", "agent", "expected"),
    [
        (None, "ada@acme.test", Token(agent="ada@acme.test", name="Ada", phase=Phase.REQUESTED, since_ms=10)),
        (ADA, "ada@acme.test", Token(agent="ada@acme.test", name="Ada", phase=Phase.REQUESTED, since_ms=10)),
        (ADA_GRANTED, "ada@acme.test", ADA_GRANTED),  # already hers
        (BOB, "ada@acme.test", Refusal("control_taken", "Bob has control of this page")),
        (ADA, "bob@acme.test", Refusal("control_taken", "Ada is asking for control of this page")),
    ],
)  # fmt: skip
def test_asking_for_control(current: Token | None, agent: str, expected: object) -> None:
    name = "Ada" if agent.startswith("ada") else "Bob"
    assert control.request(current, agent, name, 10) == expected


@pytest.mark.parametrize(
    ("current", "granted", "expected"),
    [
        (ADA, True, Token(agent="ada@acme.test", name="Ada", phase=Phase.GRANTED, since_ms=20)),
        (ADA, False, None),
        (ADA_GRANTED, False, None),  # Esc
        (ADA_GRANTED, True, ADA_GRANTED),
        (None, True, Refusal("not_asked", "no agent is asking for control")),
    ],
)  # fmt: skip
def test_the_visitor_answers(current: Token | None, granted: bool, expected: object) -> None:
    assert control.answer(current, granted, 20) == expected


@pytest.mark.parametrize(
    ("current", "agent", "action", "refused"),
    [
        (None, "ada@acme.test", "highlight", None),
        (None, "ada@acme.test", "click", "no_control"),
        (ADA, "ada@acme.test", "fill", "no_control"),  # asked, not yet given
        (ADA_GRANTED, "ada@acme.test", "click", None),
        (ADA_GRANTED, "ada@acme.test", "fill", None),
        (ADA_GRANTED, "bob@acme.test", "click", "not_controller"),
        (BOB, "bob@acme.test", "highlight", None),
    ],
)  # fmt: skip
def test_who_may_act(current: Token | None, agent: str, action: str, refused: str | None) -> None:
    found = control.may_act(current, agent, action)
    assert (found.code if found else None) == refused


def test_releasing_and_lifetimes() -> None:
    assert control.release(ADA_GRANTED, "ada@acme.test") is None
    assert control.release(ADA_GRANTED, "bob@acme.test") == Refusal(
        "not_controller", "you do not have control of this page"
    )
    assert control.release(None, "ada@acme.test") is not None
    assert control.ttl_ms(ADA, answer_within_ms=30_000, control_for_ms=900_000) == 30_000
    assert control.ttl_ms(ADA_GRANTED, answer_within_ms=30_000, control_for_ms=900_000) == 900_000
    assert control.from_bytes(control.to_bytes(ADA_GRANTED)) == ADA_GRANTED


def ev(kind: int, source: int | None = None, at: float = 0, **data: Any) -> dict[str, Any]:
    body = {"source": source, **data} if source is not None else data
    return {"type": kind, "data": body, "timestamp": at}


def test_events_are_restamped_on_the_server_clock_keeping_their_spacing_and_order() -> None:
    events = [ev(3, 1, at=5_000), ev(3, 2, at=5_040), ev(3, 0, at=5_100)]
    stamped, floor = restamp(events, now_ms=1_000_000, floor_ms=0)
    assert [e["timestamp"] for e in stamped] == [999_900, 999_940, 1_000_000]
    assert floor == 1_000_000
    # A page whose clock went back (or a batch that arrived early) never goes back in time.
    later, floor = restamp([ev(3, 1, at=1), ev(3, 1, at=2)], now_ms=999_000, floor_ms=floor)
    assert [e["timestamp"] for e in later] == [1_000_000, 1_000_000]
    assert events[0]["timestamp"] == 5_000  # the input is left as it was
    assert restamp([], now_ms=5, floor_ms=3) == ([], 3)


def test_pointer_and_scroll_runs_keep_only_where_things_are_now() -> None:
    move = [ev(3, 1, positions=[{"x": i}]) for i in range(3)]
    scroll_a = [ev(3, 3, id=7, y=i) for i in range(3)]
    scroll_b = ev(3, 3, id=9, y=1)
    mutation = ev(3, 0, adds=[])
    click = ev(3, 2, type=2, id=4)
    events = [*move, mutation, *scroll_a, scroll_b, click, move[0], move[1]]
    assert coalesce(events) == [move[2], mutation, scroll_a[2], scroll_b, click, move[1]]
    # Nothing to coalesce: the same events, in order.
    assert coalesce([mutation, click, move[0]]) == [mutation, click, move[0]]


def test_a_batch_begins_a_new_start_with_meta_then_a_full_snapshot() -> None:
    assert begins_with_snapshot([ev(4), ev(2), ev(3, 0)])
    assert not begins_with_snapshot([ev(2), ev(4)])
    assert not begins_with_snapshot([ev(4)])
