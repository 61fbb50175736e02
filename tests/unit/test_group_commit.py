"""The group-commit writer: whole writes, in order; one write's refused data fails that write only."""

from __future__ import annotations

import asyncio

import pytest

from server.store.base import RecordsRefused, StoreUnavailable
from server.store.writer import GroupCommitWriter

pytestmark = pytest.mark.anyio


class FakeDatabase:
    """Commits a batch of records in one transaction unless one of them is "bad"."""

    def __init__(self) -> None:
        self.committed: list[str] = []
        self.transactions: list[list[str]] = []
        self.down = False

    async def flush(self, records: list[str]) -> None:
        await asyncio.sleep(0)
        self.transactions.append(list(records))
        if self.down:
            raise StoreUnavailable("the database went away")
        if any(r.startswith("bad") for r in records):
            raise RecordsRefused(f"refused: {records}")
        self.committed.extend(records)


async def _write_together(writer: GroupCommitWriter[str], *writes: list[str]) -> list[object]:
    """Queue the writes before the writer task runs, so they share one batch."""
    return await asyncio.gather(*(writer.write(w) for w in writes), return_exceptions=True)


async def test_a_refused_write_fails_alone_and_the_others_commit_in_order() -> None:
    db = FakeDatabase()
    writer: GroupCommitWriter[str] = GroupCommitWriter(db.flush)
    writer.start()
    outcomes = await _write_together(
        writer, ["a1", "a2"], ["b1", "bad-b2", "b3"], ["c1"], ["d1", "d2"]
    )
    await writer.close()
    assert db.transactions[0] == ["a1", "a2", "b1", "bad-b2", "b3", "c1", "d1", "d2"]
    assert [o is None for o in outcomes] == [True, False, True, True]
    assert isinstance(outcomes[1], RecordsRefused)
    # Every other write committed, each in one piece and in the order written; of the
    # refused write nothing was committed, so it leaves no gap behind what follows it.
    assert db.committed == ["a1", "a2", "c1", "d1", "d2"]
    assert db.transactions[1:] == [["a1", "a2"], ["b1", "bad-b2", "b3"], ["c1"], ["d1", "d2"]]


async def test_a_lost_database_fails_every_write_of_the_batch() -> None:
    db = FakeDatabase()
    db.down = True
    writer: GroupCommitWriter[str] = GroupCommitWriter(db.flush)
    writer.start()
    outcomes = await _write_together(writer, ["a1"], ["b1"])
    await writer.close()
    assert all(isinstance(o, StoreUnavailable) for o in outcomes)
    assert db.transactions == [["a1", "b1"]]  # no retry one by one: it would fail alike


async def test_the_database_lost_while_retrying_fails_the_rest() -> None:
    db = FakeDatabase()
    writer: GroupCommitWriter[str] = GroupCommitWriter(db.flush)
    writer.start()
    original = db.flush

    async def flaky(records: list[str]) -> None:
        if len(db.transactions) == 2:  # the batch failed, then the first write alone committed
            db.down = True
        await original(records)

    writer._flush = flaky
    outcomes = await _write_together(writer, ["a1"], ["bad-b1"], ["c1"])
    await writer.close()
    assert outcomes[0] is None
    assert all(isinstance(o, StoreUnavailable) for o in outcomes[1:])
    assert db.committed == ["a1"]


async def test_a_write_is_never_split_between_batches() -> None:
    db = FakeDatabase()
    writer: GroupCommitWriter[str] = GroupCommitWriter(db.flush, max_batch=3)
    writer.start()
    await _write_together(writer, ["a1", "a2"], ["b1", "b2", "b3", "b4"], ["c1"])
    await writer.close()
    assert db.transactions == [["a1", "a2", "b1", "b2", "b3", "b4"], ["c1"]]
