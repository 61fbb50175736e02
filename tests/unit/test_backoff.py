"""Waiting before trying the broker again (server/broker/backoff.py): growing, capped, jittered."""

from __future__ import annotations

import pytest

from server.broker.backoff import CAP_S, FIRST_S, delay


def test_each_wait_is_between_half_and_all_of_a_ceiling_that_doubles_up_to_the_cap() -> None:
    for attempt in range(12):
        ceiling = min(CAP_S, FIRST_S * 2**attempt)
        assert delay(attempt, 0.0) == pytest.approx(ceiling / 2)
        assert ceiling / 2 <= delay(attempt, 0.999) < ceiling
    assert delay(1, 0.5) > delay(0, 0.5)
    assert delay(1000, 0.5) == pytest.approx(CAP_S * 0.75)  # never more than the cap


def test_the_jitter_spreads_callers_that_failed_together() -> None:
    waits = {round(delay(3, j / 10), 6) for j in range(10)}
    assert len(waits) == 10


@pytest.mark.parametrize(("attempt", "jitter"), [(-1, 0.5), (0, 1.0), (0, -0.1)])
def test_nonsense_is_refused(attempt: int, jitter: float) -> None:
    with pytest.raises(ValueError, match="attempt counts from 0"):
        delay(attempt, jitter)
