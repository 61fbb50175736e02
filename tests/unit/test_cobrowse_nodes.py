"""What the stream tells of the page's nodes (server/cobrowse/nodes.py): a node reading the stream
in order knows, of every node, what the visitor's node's re-check knows — so an agent's action is
checked the same wherever the agent is connected."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from server.cobrowse.nodes import (
    Fact,
    NodeChanges,
    NodeFacts,
    PrivateNodes,
    merge_private,
    private_ids,
    private_in,
)
from server.cobrowse.scrub import MirrorScrubber
from tests.unit.test_mirror_scrub import add, el, full, mutation, text


def registry(scrubber: MirrorScrubber, ids: range) -> dict[int, Fact]:
    known = {}
    for node_id in ids:
        info = scrubber.node(node_id)
        if info is not None:
            known[node_id] = Fact(info.tag, info.private)
    return known


def facts_of(facts: NodeFacts, ids: range) -> dict[int, Fact]:
    return {i: f for i in ids if (f := facts.node(i)) is not None}


def over_the_wire(changes: NodeChanges) -> NodeChanges:
    """As a node reading the stream gets them (msgpack, like the stream's payload)."""
    decoded = NodeChanges.from_wire(
        msgspec.msgpack.decode(msgspec.msgpack.encode(changes.to_wire()))
    )
    assert decoded is not None
    return decoded


BATCHES: list[list[dict[str, Any]]] = [
    [
        full(
            el(10, "div", {"data-tandem-mask": ""}, text(11, "masked")),
            el(12, "div", {"data-tandem-private": ""}, el(40, "input", {})),
            el(13, "input", {"name": "q"}),
            el(14, "p", {}, text(15, "plain"), el(16, "span", {}, text(17, "inner"))),
            el(18, "input", {"autocomplete": "cc-number"}),
        )
    ],
    [mutation(adds=[add(14, el(20, "textarea", {})), add(20, text(21, "x"))])],
    [mutation(attributes=[{"id": 13, "attributes": {"type": "password"}}])],
    [mutation(attributes=[{"id": 14, "attributes": {"data-tandem-private": ""}}])],
    [mutation(removes=[{"parentId": 3, "id": 10}])],
    [mutation(adds=[add(3, el(10, "button", {}, text(22, "again")))])],
    [full(el(30, "a", {"href": "/x"}, text(31, "link")))],
    [mutation(attributes=[{"id": 30, "attributes": {"data-tandem-private": None}}])],  # no change
]


def test_facts_read_from_the_stream_agree_with_the_recheck_after_every_batch() -> None:
    scrubber = MirrorScrubber()
    facts = NodeFacts()
    ids = range(0, 50)
    for batch in BATCHES:
        scrubber.scrub(batch)
        facts.apply(over_the_wire(scrubber.take_changes()))
        assert facts_of(facts, ids) == registry(scrubber, ids)
    # The last snapshot started afresh: nothing of the page before it is known.
    assert facts.node(13) is None and facts.node(30) == Fact("a", private=False)


def test_what_the_facts_say_of_fields_private_fields_and_unknown_nodes() -> None:
    scrubber = MirrorScrubber()
    scrubber.scrub(BATCHES[0])
    facts = NodeFacts()
    facts.apply(over_the_wire(scrubber.take_changes()))
    assert facts.node(13) == Fact("input", private=False)
    assert facts.node(18) == Fact("input", private=True)  # a card number
    assert facts.node(12) == Fact("div", private=True)
    assert facts.node(40) is None  # inside a private element: never relayed, never known
    assert facts.node(99) is None


def test_a_batch_that_changes_nothing_carries_nothing() -> None:
    scrubber = MirrorScrubber()
    scrubber.scrub(BATCHES[0])
    scrubber.take_changes()
    scrubber.scrub([mutation(texts=[{"id": 15, "value": "new text"}])])
    assert scrubber.take_changes().to_wire() == {"tags": {}}


def test_a_new_registry_starts_afresh_even_before_its_first_snapshot() -> None:
    assert MirrorScrubber().take_changes().reset


@pytest.mark.parametrize(
    "raw",
    [None, "x", {"tags": []}, {"tags": {"div": "1"}}, {"tags": {}, "private": 3}, [1, 2]],
)
def test_unreadable_changes_are_none(raw: Any) -> None:
    assert NodeChanges.from_wire(raw) is None


def test_ids_that_are_not_ids_are_ignored() -> None:
    read = NodeChanges.from_wire(
        {"tags": {"div": [1, True, "2", 3.0]}, "private": [1, False], "gone": [4, "5"]}
    )
    assert read == NodeChanges(known={1: Fact("div", private=True)}, gone=frozenset({4}))


# --- the nodes seen private in an epoch, kept in the broker ------------------------------------


def test_the_nodes_a_batch_says_are_private() -> None:
    changes = NodeChanges(
        known={1: Fact("input", True), 2: Fact("div", False)}, gone=frozenset({3})
    )
    assert private_ids(changes) == {1}
    assert private_ids(NodeChanges()) == frozenset()


def test_private_nodes_only_ever_grow_within_an_epoch_and_start_over_with_the_next() -> None:
    first = merge_private(None, 7, frozenset({9}))
    assert first == PrivateNodes(7, frozenset({9}))
    assert merge_private(None, 7, frozenset()) is None  # nothing to keep
    grown = merge_private(first, 7, frozenset({10}))
    assert grown == PrivateNodes(7, frozenset({9, 10}))
    assert merge_private(grown, 7, frozenset({9})) is None  # kept already: nothing to write
    assert merge_private(grown, 8, frozenset({4})) == PrivateNodes(8, frozenset({4}))
    assert (
        merge_private(PrivateNodes(8, frozenset({4})), 7, frozenset({5})) is None
    )  # a late writer
    assert private_in(grown, 7) == {9, 10}
    assert private_in(grown, 8) == frozenset() and private_in(None, 7) == frozenset()


def test_private_nodes_go_through_the_broker_and_back() -> None:
    kept = PrivateNodes(1_700_000_000_000, frozenset({3, 1, 2}))
    assert PrivateNodes.from_bytes(kept.to_bytes()) == kept
    for raw in (b"", b"\x01", msgspec.msgpack.encode([1]), msgspec.msgpack.encode({"epoch": "x"})):
        assert PrivateNodes.from_bytes(raw) is None
    odd = msgspec.msgpack.encode({"epoch": 2, "ids": [1, "2", True, 3]})
    assert PrivateNodes.from_bytes(odd) == PrivateNodes(2, frozenset({1, 3}))


def test_a_field_marked_private_after_the_snapshot_is_among_the_private_nodes() -> None:
    scrubber = MirrorScrubber()
    scrubber.scrub([full(el(10, "textarea", {}, text(11, "hello")), el(12, "button", {}))])
    assert private_ids(scrubber.take_changes()) == frozenset()
    scrubber.scrub([mutation(attributes=[{"id": 10, "attributes": {"data-tandem-private": ""}}])])
    assert private_ids(scrubber.take_changes()) == {10}
