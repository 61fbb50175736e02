"""Every tab of the node reported live on time, by one timer for them all (not a task per tab).

An idle tab costs a task only while its beat runs: the node keeps when each
tab is next due (``Schedule``, pure), one event-loop timer set for the
earliest, and when it fires starts the beats that are due. Each tab says,
after its beat, how long until its next one (``Beating``), so a beat is
never started before the one before it ended.
"""

from __future__ import annotations

import asyncio
import contextvars
import heapq
import itertools
import logging
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

log = logging.getLogger("tandem.heartbeats")


class Beating(Protocol):
    async def beat(self) -> float | None:
        """Do what is due; seconds until the next beat (None: no more)."""


K = TypeVar("K")


@dataclass(order=True, slots=True)
class _Turn(Generic[K]):
    """A member's place in the heap; ``member`` None once it is stale (removed, or added again
    for another time): the heap keeps no reference to a member that left, until the turn's time
    comes and it is dropped."""

    at: float
    order: int
    member: K | None = field(compare=False)


class Schedule(Generic[K]):
    """When each member is next due (pure): the earliest first; a member whose turn came is
    out of the heap until it is added again (its beat running meanwhile)."""

    def __init__(self) -> None:
        self._heap: list[_Turn[K]] = []
        self._turns: dict[K, _Turn[K] | None] = {}  # None: its turn came, not added again yet
        self._order = itertools.count()

    def __len__(self) -> int:
        return len(self._turns)

    def __contains__(self, member: object) -> bool:
        return member in self._turns

    def add(self, member: K, at: float) -> None:
        """``member`` is due at ``at`` (instead of whenever it was due before)."""
        before = self._turns.get(member)
        if before is not None:
            before.member = None
        turn = self._turns[member] = _Turn(at, next(self._order), member)
        heapq.heappush(self._heap, turn)

    def remove(self, member: K) -> None:
        """Never due again (unless added again); nothing here refers to it any more."""
        turn = self._turns.pop(member, None)
        if turn is not None:
            turn.member = None

    def next_at(self) -> float | None:
        """When the earliest member is due; None when none is waiting for its turn."""
        heap = self._heap
        while heap and heap[0].member is None:
            heapq.heappop(heap)  # removed, or added again for another time: stale
        return heap[0].at if heap else None

    def pop_due(self, now: float) -> list[K]:
        """The members due at ``now``, earliest first; each stays a member, waiting to be added
        again."""
        due: list[K] = []
        while (at := self.next_at()) is not None and at <= now:
            member = heapq.heappop(self._heap).member
            assert member is not None
            self._turns[member] = None
            due.append(member)
        return due


class Heartbeats:
    """The node's timer for its tabs' beats."""

    def __init__(self) -> None:
        self._schedule: Schedule[Beating] = Schedule()
        # The armed timer and when it fires, kept here: uvloop's ``call_at`` for a time already
        # past returns a plain Handle, which has no ``when()``.
        self._timer: asyncio.Handle | None = None
        self._timer_at = 0.0
        self._beating: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return len(self._schedule)

    def add(self, member: Beating, after_s: float) -> None:
        """Beat ``member`` in ``after_s`` seconds, then as often as it says."""
        loop = asyncio.get_running_loop()
        self._schedule.add(member, loop.time() + after_s)
        self._arm(loop)

    def remove(self, member: Beating) -> None:
        """No more beats for ``member`` (one running now ends on its own)."""
        self._schedule.remove(member)
        if not self._schedule and self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _arm(self, loop: asyncio.AbstractEventLoop) -> None:
        at = self._schedule.next_at()
        if self._timer is not None:
            if at is not None and self._timer_at <= at:
                return  # it fires in time (it sets itself again for whatever is still waiting)
            self._timer.cancel()
            self._timer = None
        if at is not None:
            # Its own context: the beats it starts belong to no request (each tab binds its own).
            self._timer = loop.call_at(at, self._fire, loop, context=contextvars.Context())
            self._timer_at = at

    def _fire(self, loop: asyncio.AbstractEventLoop) -> None:
        self._timer = None
        for member in self._schedule.pop_due(loop.time()):
            task = loop.create_task(self._beat(member), context=contextvars.Context())
            self._beating.add(task)
            task.add_done_callback(self._beating.discard)
        self._arm(loop)

    async def _beat(self, member: Beating) -> None:
        try:
            after = await member.beat()
        except Exception:  # a beat reports its own failures: this one is a bug, the others go on
            log.exception("a heartbeat failed")
            after = None
        if after is not None and member in self._schedule:  # not removed while it beat
            self.add(member, after)
        else:
            self.remove(member)
