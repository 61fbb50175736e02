"""What is known of the mirrored page's nodes, carried in the stream so any node can check actions.

The visitor's node re-checks the mirror (``scrub.MirrorScrubber``) and so
knows every node it relayed: its tag, and whether it is private. Each batch
it streams carries what changed of that (``NodeChanges``: a full snapshot
starts afresh), so whichever node reads the stream in order — the snapshot,
then the tail — knows the same (``NodeFacts``) and checks an agent's action
there, whether or not it holds the visitor's tab. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


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
