"""The node's one timer for its tabs' heartbeats: when each is due (pure), and the beats it runs."""

from __future__ import annotations

import asyncio
import gc
import weakref

import pytest

from server.web.heartbeats import Heartbeats, Schedule


def test_members_come_due_earliest_first_and_wait_to_be_added_again() -> None:
    schedule: Schedule[str] = Schedule()
    schedule.add("b", 2.0)
    schedule.add("a", 1.0)
    schedule.add("c", 3.0)
    assert schedule.next_at() == 1.0
    assert schedule.pop_due(2.5) == ["a", "b"]
    assert len(schedule) == 3 and "a" in schedule  # still members, their beats running
    assert schedule.next_at() == 3.0
    assert schedule.pop_due(2.9) == []
    schedule.add("a", 4.0)
    assert schedule.pop_due(10.0) == ["c", "a"]
    assert schedule.next_at() is None


def test_a_removed_or_moved_member_is_not_due_at_its_old_time() -> None:
    schedule: Schedule[str] = Schedule()
    schedule.add("gone", 1.0)
    schedule.add("moved", 1.5)
    schedule.remove("gone")
    schedule.add("moved", 5.0)
    assert "gone" not in schedule
    assert schedule.next_at() == 5.0
    assert schedule.pop_due(4.0) == []
    assert schedule.pop_due(5.0) == ["moved"]
    schedule.remove("never-added")  # nothing to do


def test_a_removed_member_is_not_kept_until_its_time_comes() -> None:
    """A closed connection is not held by the schedule for up to a beat interval after it left."""

    class Member:
        pass

    schedule: Schedule[Member] = Schedule()
    gone, moved, staying = Member(), Member(), Member()
    schedule.add(gone, 100.0)
    schedule.add(moved, 100.0)
    schedule.add(staying, 200.0)
    schedule.remove(gone)
    schedule.add(moved, 300.0)
    schedule.remove(moved)
    refs = [weakref.ref(gone), weakref.ref(moved)]
    del gone, moved
    gc.collect()
    assert [ref() for ref in refs] == [None, None]
    assert schedule.next_at() == 200.0 and schedule.pop_due(250.0) == [staying]


class Tab:
    def __init__(self, every: float, *, beats: int = 1_000, fails: bool = False) -> None:
        self.every, self.left, self.fails = every, beats, fails
        self.beats = 0

    async def beat(self) -> float | None:
        self.beats += 1
        if self.fails:
            raise RuntimeError("a bug")
        self.left -= 1
        return self.every if self.left > 0 else None


@pytest.mark.anyio
async def test_one_timer_beats_every_tab_as_often_as_it_says_until_it_leaves() -> None:
    beats = Heartbeats()
    fast, slow, done, broken = Tab(0.01), Tab(0.2), Tab(0.01, beats=2), Tab(0.01, fails=True)
    for tab in (fast, slow, done, broken):
        beats.add(tab, tab.every)
    assert not [t for t in asyncio.all_tasks() if "Heartbeats" in repr(t)]  # no task while idle
    await asyncio.sleep(0.3)
    assert fast.beats >= 5 and 1 <= slow.beats <= 2
    assert done.beats == 2 and broken.beats == 1  # no more beats when told, nor after a bug
    beats.remove(fast)
    before = fast.beats
    await asyncio.sleep(0.1)
    assert fast.beats <= before + 1  # one running when it left may still end
    beats.remove(slow)
    assert len(beats) == 0


def test_the_timer_works_on_uvloop_with_beats_already_due() -> None:
    """uvicorn runs on uvloop, whose ``call_at`` for a time already past returns a plain Handle
    (no ``when()``): adding a tab while such a timer is armed must not fail."""
    import uvloop  # uvicorn[standard] brings it: the loop `tandem serve` runs on

    async def main() -> tuple[int, int]:
        beats = Heartbeats()
        first, second = Tab(0.01, beats=3), Tab(0.01, beats=3)
        beats.add(first, -1.0)  # due already: armed with a plain Handle on uvloop
        beats.add(second, 0.0)
        await asyncio.sleep(0.2)
        return first.beats, second.beats

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        assert runner.run(main()) == (3, 3)
