"""Grouped commits: one writer task turns many concurrent writes into one transaction.

Callers ``await writer.write(records)``; it returns once those records are
committed (or raises what the commit raised). While one batch commits, new
writes queue up and go together in the next one, so throughput grows with load
while each caller still waits for its own durability.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")

Flush = Callable[[list[T]], Awaitable[None]]


class WriterClosed(RuntimeError):
    """The writer was stopped; nothing more is accepted."""


class GroupCommitWriter(Generic[T]):
    def __init__(self, flush: Flush[T], *, max_batch: int = 2000) -> None:
        self._flush = flush
        self._max_batch = max_batch
        self._queue: asyncio.Queue[tuple[Sequence[T], asyncio.Future[None]] | None] = (
            asyncio.Queue()
        )
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self.batches = 0  # commits made, for metrics and tests

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="tandem-group-commit")

    async def write(self, records: Sequence[T]) -> None:
        """Queue records and wait until they are committed."""
        if self._closed:
            raise WriterClosed("the store is closing")
        if not records:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((records, future))
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
            records = [record for chunk, _ in batch for record in chunk]
            try:
                await self._flush(records)
            except Exception as exc:  # every waiter hears about the failure
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
            else:
                self.batches += 1
                for _, future in batch:
                    if not future.done():
                        future.set_result(None)
        # Anything left after close: refuse rather than hang.
        with contextlib.suppress(asyncio.QueueEmpty):
            while True:
                left = self._queue.get_nowait()
                if left is not None and not left[1].done():
                    left[1].set_exception(WriterClosed("the store closed before this write"))
