"""A mirror stream's messages as the agents' views on a node read them (server/cobrowse/stream.py):
decoded once, and the frame each is sent alone in built once, however many agents watch."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec
import pytest

from server.cobrowse import stream
from server.cobrowse.nodes import Fact, NodeChanges
from server.cobrowse.stream import Decoded, Shown, decode


def payload(page: int, *events: dict[str, Any], nodes: NodeChanges | None = None) -> bytes:
    """A stream message as the visitor's node publishes it."""
    wire = (nodes or NodeChanges()).to_wire()
    return msgspec.msgpack.encode({"page": page, "events": list(events), "nodes": wire})


TEXT = {"type": 3, "data": {"source": 0, "texts": [{"id": 6, "value": "hi"}]}, "timestamp": 5}


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Every payload the module decodes."""
    seen: list[bytes] = []

    def counted(raw: bytes) -> Decoded:
        seen.append(raw)
        return decode(raw)

    monkeypatch.setattr(stream, "decode", counted)
    return seen


def test_a_message_says_its_recorder_run_its_events_and_what_changed_of_the_nodes() -> None:
    changes = NodeChanges(known={9: Fact("input", private=True), 12: Fact("button", False)})
    decoded = decode(payload(3, TEXT, nodes=changes))
    assert (decoded.page, decoded.events) == (3, (TEXT,))
    assert decoded.changes == changes
    nothing = decode(msgspec.msgpack.encode([1, 2]))
    assert (nothing.page, nothing.events, nothing.changes) == (0, (), None)
    odd = decode(msgspec.msgpack.encode({"page": "x", "events": {}, "nodes": []}))
    assert (odd.page, odd.events, odd.changes) == (0, (), None)


def test_each_message_is_decoded_once_for_every_view(decodes: list[bytes]) -> None:
    shown = Shown()
    first, second = payload(1, TEXT), payload(1, TEXT, TEXT)
    views = [shown.decoded(7, 2, first) for _ in range(3)]
    assert views[0] is views[1] is views[2]
    assert shown.decoded(7, 3, second).events == (TEXT, TEXT)
    assert shown.decoded(7, 2, bytes(first)) is views[0]  # the same bytes, read again
    assert decodes == [first, second]


def test_a_frame_is_built_once_for_every_view(decodes: list[bytes]) -> None:
    shown = Shown()
    built: list[str] = []

    def frame(kind: str) -> Callable[[], bytes]:
        def build() -> bytes:
            built.append(kind)
            return msgspec.msgpack.encode([kind, len(built)])

        return build

    raw = payload(1, TEXT)
    frames = [shown.frame(7, 2, raw, "events after 1", frame("events after 1")) for _ in range(3)]
    assert frames[0] is frames[1] is frames[2]
    assert msgspec.msgpack.decode(frames[0]) == ["events after 1", 1]
    shown.frame(7, 2, raw, "events after 0", frame("events after 0"))  # another run: its own
    assert built == ["events after 1", "events after 0"]
    assert len(decodes) == 1


def test_other_bytes_at_the_same_place_are_decoded_afresh(decodes: list[bytes]) -> None:
    """A stream that started over (dropped, then written again): never the old message's
    events, nor its frame."""
    shown = Shown()
    old, new = payload(1, TEXT), payload(2)
    shown.frame(1, 1, old, "events", lambda: b"old")
    assert shown.decoded(1, 1, new).page == 2
    assert shown.frame(1, 1, new, "events", lambda: b"new") == b"new"
    assert decodes == [old, new]


def test_only_the_latest_messages_stay_decoded(decodes: list[bytes]) -> None:
    shown = Shown(keep=2)
    raws = [payload(1, {**TEXT, "timestamp": i}) for i in range(3)]
    for offset, raw in enumerate(raws, start=1):
        shown.decoded(7, offset, raw)
    shown.decoded(7, 3, raws[2])  # kept
    shown.decoded(7, 1, raws[0])  # gone: decoded again (a view far behind the others)
    assert decodes == [*raws, raws[0]]


def test_large_messages_are_kept_only_within_the_budget(decodes: list[bytes]) -> None:
    """Bytes kept (the messages and their frames) are bounded, but the message decoded last
    stays, however large: every view of the session is about to show it."""
    shown = Shown(keep_bytes=1000)
    small = payload(1, TEXT)
    large = payload(1, {**TEXT, "data": {"source": 0, "texts": [{"id": 6, "value": "x" * 2000}]}})
    shown.decoded(7, 1, small)
    shown.decoded(7, 2, large)  # over the budget: the small one goes, the large one stays
    shown.frame(7, 2, large, "events after 1", lambda: b"f" * 500)
    assert shown.decoded(7, 2, large).events[0]["data"]["texts"][0]["value"] == "x" * 2000
    shown.decoded(7, 1, small)  # decoded again; now the large one goes
    shown.decoded(7, 2, large)
    assert decodes == [small, large, small, large]
    shown = Shown(keep_bytes=2 * len(small) + 100)  # two messages fit, not with a frame
    shown.decoded(7, 1, small)
    shown.decoded(7, 2, small)
    shown.decoded(7, 1, small)
    assert decodes[4:] == [small, small]
    shown.frame(7, 2, small, "events after 1", lambda: b"f" * 200)  # its frame counts too
    shown.decoded(7, 1, small)
    assert decodes[4:] == [small, small, small]
