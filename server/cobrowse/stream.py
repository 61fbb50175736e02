"""A mirror stream's messages as the agents' views on a node read them: each decoded once, and
the frames showing them encoded once, however many agents of the session watch. Pure.

What the visitor's node publishes (the recorder run, the re-checked events, what changed of
the page's nodes) is the same bytes for every agent of the session, and so is the frame that
shows an agent a run of them: nothing in it depends on the agent (what an agent may do is
checked when it acts, not by what it is shown). The views of one session on a node share a
``Shown``: the stream's latest messages decoded, by their place in the stream and checked
against their bytes, with the frames that end with each.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec

from server.cobrowse.nodes import NodeChanges

#: How many of a stream's latest messages stay decoded, and how many bytes of them (with their
#: frames): the views of a session deliver each within moments of one another; one further
#: behind decodes what it shows itself. The message decoded last stays, however large.
KEEP = 64
KEEP_BYTES = 256 * 1024


@dataclass(frozen=True, eq=False)
class Decoded:
    """One stream message: its recorder run, its events, what it says of the page's nodes
    (None when it says nothing readable). Shared by every view: never changed."""

    page: int
    events: tuple[dict[str, Any], ...]
    changes: NodeChanges | None


def decode(payload: bytes) -> Decoded:
    """What a stream message carries (a payload that is not a map carries nothing)."""
    body = msgspec.msgpack.decode(payload)
    if not isinstance(body, dict):
        return Decoded(0, (), None)
    page, events = body.get("page"), body.get("events")
    return Decoded(
        page if isinstance(page, int) else 0,
        tuple(events) if isinstance(events, list) else (),
        NodeChanges.from_wire(body.get("nodes")),
    )


@dataclass(eq=False)
class _Entry:
    payload: bytes
    decoded: Decoded
    frames: dict[str, bytes] = field(default_factory=dict)
    size: int = 0  # of the payload and the frames


class Shown:
    """The latest messages of one stream (``keep`` of them, ``keep_bytes`` at most, or the one
    decoded last alone), decoded, and the frames built of each."""

    def __init__(self, keep: int = KEEP, keep_bytes: int = KEEP_BYTES) -> None:
        self._keep, self._keep_bytes = keep, keep_bytes
        self._entries: OrderedDict[tuple[int, int], _Entry] = OrderedDict()
        self._bytes = 0

    def decoded(self, epoch: int, offset: int, payload: bytes) -> Decoded:
        """The message at (epoch, offset) with these bytes, decoded."""
        return self._entry(epoch, offset, payload).decoded

    def frame(
        self, epoch: int, offset: int, payload: bytes, kind: str,
        build: Callable[[], bytes],
    ) -> bytes:  # fmt: skip
        """The frame of this ``kind`` that ends with this message (``kind`` says what else it
        shows): built once, then kept while the message is."""
        entry = self._entry(epoch, offset, payload)
        found = entry.frames.get(kind)
        if found is None:
            found = entry.frames[kind] = build()
            entry.size += len(found)
            if self._entries.get((epoch, offset)) is entry:
                self._bytes += len(found)
                self._trim()
        return found

    def _entry(self, epoch: int, offset: int, payload: bytes) -> _Entry:
        key = (epoch, offset)
        entry = self._entries.get(key)
        if entry is not None and (entry.payload is payload or entry.payload == payload):
            return entry
        if entry is not None:  # other bytes at that place: the stream started over
            self._bytes -= self._entries.pop(key).size
        entry = self._entries[key] = _Entry(payload, decode(payload), size=len(payload))
        self._bytes += entry.size
        self._trim()
        return entry

    def _trim(self) -> None:
        """Forget the oldest messages beyond what is kept; never the one decoded last."""
        while len(self._entries) > 1 and (
            len(self._entries) > self._keep or self._bytes > self._keep_bytes
        ):
            _, gone = self._entries.popitem(last=False)
            self._bytes -= gone.size
