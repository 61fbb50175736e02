"""A walkthrough version's step funnel from its stored step events (the API and the console)."""

from __future__ import annotations

from server.support.run import StepEvent, StepFunnel, StepRecord, funnel
from server.web.state import AppState


async def version_funnel(
    state: AppState, site: str, walkthrough: str, version: int, steps: list[str]
) -> list[StepFunnel]:
    """Per step of the version: only this version's events count (another version's steps differ,
    even under the same ids)."""
    records = [
        StepRecord(
            e.payload["run"],
            e.payload["step"],
            StepEvent(e.payload["event"]),
            e.payload.get("reason") or "",
            e.payload.get("strategy") or "",
            e.payload.get("similarity"),
        )
        for e in await state.store.step_events(site, walkthrough, version)
    ]
    return funnel(steps, records)
