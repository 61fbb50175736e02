"""How mirror events travel from the page to the agents: on the server's clock, pointer and
scroll updates coalesced when an agent falls behind.

rrweb numbers times with the page's clock, which may be minutes off; the
server restamps each batch so it ends at its own time and keeps the page's
spacing, never going back in time within a stream. An agent whose socket is
slower than the page gets, of a run of pointer moves, only the last, and of a
run of scrolls, only the last per scrolled element: where things are now
matters, not how they got there.
"""

from __future__ import annotations

from typing import Any

FULL_SNAPSHOT = 2
INCREMENTAL = 3
META = 4
MOUSE_MOVE = 1
SCROLL = 3
TOUCH_MOVE = 6
DRAG = 12


def restamp(
    events: list[dict[str, Any]], *, now_ms: int, floor_ms: float
) -> tuple[list[dict[str, Any]], float]:
    """The events on the server's clock (the last one at ``now_ms``), none before ``floor_ms``;
    and the new floor."""
    if not events:
        return events, floor_ms
    latest = max(_time(e) for e in events)
    shift = now_ms - latest
    out = []
    last = floor_ms
    for event in events:
        at = max(_time(event) + shift, last)
        last = at
        out.append({**event, "timestamp": at})
    return out, last


def _time(event: dict[str, Any]) -> float:
    at = event.get("timestamp", 0)
    return float(at) if isinstance(at, int | float) and not isinstance(at, bool) else 0.0


def _pointer(event: dict[str, Any]) -> bool:
    data = event.get("data")
    return (
        event.get("type") == INCREMENTAL
        and isinstance(data, dict)
        and data.get("source") in (MOUSE_MOVE, TOUCH_MOVE, DRAG)
    )


def _scroll_target(event: dict[str, Any]) -> object | None:
    data = event.get("data")
    if event.get("type") == INCREMENTAL and isinstance(data, dict) and data.get("source") == SCROLL:
        return data.get("id")
    return None


def coalesce(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Of each run of pointer moves keep the last; of each run of scrolls the last per element.

    Anything else (a mutation, a click, an input) ends a run, so the order of
    what matters is kept.
    """
    out: list[dict[str, Any]] = []
    scrolls: dict[object, int] = {}  # element → its index in ``out``, within the current run
    for event in events:
        target = _scroll_target(event)
        if target is not None:
            if target in scrolls:
                out[scrolls[target]] = event
            else:
                scrolls[target] = len(out)
                out.append(event)
            continue
        if _pointer(event):
            if out and _pointer(out[-1]):
                out[-1] = event
            else:
                out.append(event)
            continue
        scrolls.clear()
        out.append(event)
    return out


def begins_with_snapshot(events: list[dict[str, Any]]) -> bool:
    """Whether a batch is a whole new start: a Meta event, then a full snapshot."""
    types = [e.get("type") for e in events[:2]]
    return types == [META, FULL_SNAPSHOT]
