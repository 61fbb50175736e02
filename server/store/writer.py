"""Grouped commits: one writer task turns many concurrent writes into one transaction.

Callers ``await writer.write(records)``; it returns once those records are
committed (or raises what the commit raised). While one batch commits, new
writes queue up and go together in the next one, so throughput grows with load
while each caller still waits for its own durability.

Each write is all or nothing, and writes commit in the order they were queued:
a batch holds whole writes (never part of one), and batches commit one after
the other. When the database refuses a batch's data (``RecordsRefused``, not a
lost connection), each of its writes is committed again on its own, in order,
so one write's bad record fails that write only, never the others'.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from server.store.base import RecordsRefused

T = TypeVar("T")

Flush = Callable[[list[T]], Awaitable[None]]
Pending = tuple[Sequence[T], asyncio.Future[None]]


class WriterClosed(RuntimeError):
    """The writer was stopped; nothing more is accepted."""


class GroupCommitWriter(Generic[T]):
    def __init__(self, flush: Flush[T], *, max_batch: int = 2000) -> None:
        self._flush = flush
        self._max_batch = max_batch
        self._queue: asyncio.Queue[Pending[T] | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self.batches = 0  # commits made, for metrics and tests

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="tandem-group-commit")

    async def write(self, records: Sequence[T]) -> None:
        """Queue records and wait until they are committed, all of them or none."""
        if self._closed:
            raise WriterClosed("the store is closing")
        if not records:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((list(records), future))
        await future

    async def close(self) -> None:
        """Commit everything already queued, then stop."""
        if self._closed:
            return
        self._closed = True
        self._queue.put_nowait(None)
        if self._task is not None:
            await self._task

    async def _run(self) -> None:
        stopping = False
        while not stopping:
            item = await self._queue.get()
            if item is None:
                break
            batch = [item]
            size = len(item[0])
            while size < self._max_batch:
                try:
                    more = self._queue.get_nowait()
                except asyncio.QueueEmpty:
                    break
                if more is None:
                    stopping = True
                    break
                batch.append(more)
                size += len(more[0])
            await self._commit(batch)
        # Anything left after close: refuse rather than hang.
        with contextlib.suppress(asyncio.QueueEmpty):
            while True:
                left = self._queue.get_nowait()
                if left is not None and not left[1].done():
                    left[1].set_exception(WriterClosed("the store closed before this write"))

    async def _commit(self, batch: list[Pending[T]]) -> None:
        try:
            await self._flush([record for chunk, _ in batch for record in chunk])
        except RecordsRefused as exc:
            if len(batch) == 1:
                _settle(batch, exc)
                return
        except Exception as exc:  # the database failed (gone, full…): every waiter hears it
            _settle(batch, exc)
            return
        else:
            self.batches += 1
            _settle(batch, None)
            return
        # Some write's data was refused: commit each write on its own, in order.
        for index, (chunk, future) in enumerate(batch):
            try:
                await self._flush(list(chunk))
            except RecordsRefused as exc:
                _settle([(chunk, future)], exc)
            except Exception as exc:  # the database itself failed: the rest fail with it
                _settle(batch[index:], exc)
                return
            else:
                self.batches += 1
                _settle([(chunk, future)], None)


def _settle(batch: list[Pending[T]], error: BaseException | None) -> None:
    for _, future in batch:
        if future.done():
            continue
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)
