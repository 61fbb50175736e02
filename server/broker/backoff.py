"""How long to wait before trying the broker again (pure): exponential, capped, jittered.

Each wait is at least half of its ceiling and a random part of the other half
("equal jitter"): never a busy loop, and the retries of many callers that lost
the broker at the same moment — every tab of a node whose pub/sub connection
dropped — are spread out instead of all coming back at once.
"""

from __future__ import annotations

#: The first retry waits up to this long; each next one up to twice as long as the one before.
FIRST_S = 0.1
#: No retry waits longer than this.
CAP_S = 5.0


def delay(attempt: int, jitter: float, *, first_s: float = FIRST_S, cap_s: float = CAP_S) -> float:
    """The wait before retry number ``attempt`` (0 for the first), given ``jitter`` in [0, 1)."""
    if attempt < 0 or not 0.0 <= jitter < 1.0:
        raise ValueError("attempt counts from 0 and jitter is in [0, 1)")
    ceiling = min(cap_s, first_s * 2.0 ** min(attempt, 32))
    return ceiling / 2 + jitter * ceiling / 2
