"""Which connection of a tab serves it (server/live.py): decided by the broker's numbers for the
connections' hellos and the tab's live entry, never by a node's clock."""

from __future__ import annotations

from server.live import TabState, entry_of, serves, supersedes


def entry(conn: str, seq: int) -> TabState:
    return TabState(tab="t-1", conn=conn, seq=seq)


def test_the_holder_of_the_entry_or_a_newer_connection_serves_the_tab() -> None:
    assert serves(entry("a", 5), "a", 5)  # it holds the entry
    assert serves(entry("a", 5), "b", 6)  # newer than the holder (its own report is on its way)
    assert not serves(entry("b", 6), "a", 5)  # replaced by a newer one: never given anything
    assert serves(None, "a", 5)  # nobody holds it


def test_only_a_newer_connection_takes_an_entry_over() -> None:
    assert supersedes(entry("a", 5), 6)
    assert not supersedes(entry("b", 6), 5)
    assert supersedes(None, 1)
    assert supersedes(entry("old", 0), 1)  # an entry written without a number is older than any


def test_the_entry_of_a_tab() -> None:
    tabs = [TabState(tab="t-1", conn="a"), TabState(tab="t-2", conn="b")]
    assert entry_of(tabs, "t-2") == tabs[1]
    assert entry_of(tabs, "t-3") is None
