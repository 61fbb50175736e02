"""What is known of the mirrored page's nodes, carried in the stream so any node can check actions.

The visitor's node re-checks the mirror (``scrub.MirrorScrubber``) and so
knows every node it relayed: its tag, and whether it is private. Each batch
it streams carries what changed of that (``NodeChanges``: a full snapshot
starts afresh), so whichever node reads the stream in order — the snapshot,
then the tail — knows the same (``NodeFacts``) and checks an agent's action
there, whether or not it holds the visitor's tab. Pure.

An agent's view learns those facts only as fast as the stream reaches it: one
lagging behind the page may not know yet that a node became private. So the
visitor's node also keeps, in broker state, the ids of the nodes it has seen
private in the stream's current epoch (``PrivateNodes``: once private, always
private, for that epoch), written before the batch that says so is streamed;
an action is refused when its node is among them, however far behind the
agent's view is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import msgspec


@dataclass(frozen=True)
class Fact:
    tag: str  # lower-case tag name; "#text" for text nodes
    private: bool  # never controlled


@dataclass(frozen=True)
class NodeChanges:
    """What became of the registry in one batch: ``reset`` (it started afresh), then each node's
    latest state — ``known`` (id → fact) or ``gone``."""

    reset: bool = False
    known: dict[int, Fact] = field(default_factory=dict)
    gone: frozenset[int] = frozenset()

    def to_wire(self) -> dict[str, Any]:
        """Compact for the stream: ids grouped by tag, the private ones listed once more."""
        tags: dict[str, list[int]] = {}
        for node_id, fact in sorted(self.known.items()):
            tags.setdefault(fact.tag, []).append(node_id)
        out: dict[str, Any] = {"tags": tags}
        private = sorted(i for i, fact in self.known.items() if fact.private)
        if private:
            out["private"] = private
        if self.gone:
            out["gone"] = sorted(self.gone)
        if self.reset:
            out["reset"] = True
        return out

    @classmethod
    def from_wire(cls, raw: Any) -> NodeChanges | None:
        """The changes a stream message carries; None when it carries none (or nothing readable)."""
        if not isinstance(raw, dict):
            return None
        tags, private, gone = raw.get("tags", {}), raw.get("private", []), raw.get("gone", [])
        if not (isinstance(tags, dict) and isinstance(private, list) and isinstance(gone, list)):
            return None
        secret = {i for i in private if _is_id(i)}
        known: dict[int, Fact] = {}
        for tag, ids in tags.items():
            if not isinstance(tag, str) or not isinstance(ids, list):
                return None
            for node_id in ids:
                if _is_id(node_id):
                    known[node_id] = Fact(tag, private=node_id in secret)
        return cls(
            reset=raw.get("reset") is True,
            known=known,
            gone=frozenset(i for i in gone if _is_id(i) and i not in known),
        )


class NodeFacts:
    """The registry as the stream has built it so far."""

    def __init__(self) -> None:
        self._facts: dict[int, Fact] = {}

    def apply(self, changes: NodeChanges) -> None:
        if changes.reset:
            self._facts.clear()
        for node_id in changes.gone:
            self._facts.pop(node_id, None)
        self._facts.update(changes.known)

    def node(self, node_id: int) -> Fact | None:
        return self._facts.get(node_id)

    def __len__(self) -> int:
        return len(self._facts)


def _is_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def private_ids(changes: NodeChanges) -> frozenset[int]:
    """The nodes a batch says are private."""
    return frozenset(i for i, fact in changes.known.items() if fact.private)


@dataclass(frozen=True)
class PrivateNodes:
    """The nodes seen private in one epoch of a session's stream (as kept in the broker)."""

    epoch: int
    ids: frozenset[int]

    def to_bytes(self) -> bytes:
        return msgspec.msgpack.encode({"epoch": self.epoch, "ids": sorted(self.ids)})

    @classmethod
    def from_bytes(cls, raw: bytes) -> PrivateNodes | None:
        try:
            body = msgspec.msgpack.decode(raw)
        except msgspec.DecodeError:
            return None
        if not isinstance(body, dict):
            return None
        epoch, ids = body.get("epoch"), body.get("ids")
        if not isinstance(epoch, int) or isinstance(epoch, bool) or not isinstance(ids, list):
            return None
        return cls(epoch, frozenset(i for i in ids if _is_id(i)))


def merge_private(
    stored: PrivateNodes | None, epoch: int, ids: frozenset[int]
) -> PrivateNodes | None:
    """What to keep once ``ids`` were seen private in ``epoch``; None when nothing changes (they
    are kept already, or there are none, or what is kept is of a later epoch: the writer is late).
    An earlier epoch's ids are dropped: actions are only ever checked against the current one."""
    if not ids or (stored is not None and stored.epoch > epoch):
        return None
    if stored is None or stored.epoch < epoch:
        return PrivateNodes(epoch, ids)
    if ids <= stored.ids:
        return None
    return PrivateNodes(epoch, stored.ids | ids)


def private_in(stored: PrivateNodes | None, epoch: int) -> frozenset[int]:
    """The nodes kept as private for ``epoch`` (none when what is kept is of another epoch)."""
    return stored.ids if stored is not None and stored.epoch == epoch else frozenset()
