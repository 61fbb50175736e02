"""A walkthrough run: one play of one walkthrough version, its current step and its outcome.

Pure: the player reports step events; ``advance`` applies one to the run's
state and says what changed, refusing events that do not fit (a step that is
not the current one, a run that already ended) with a reason instead of
corrupting the state. ``funnel`` turns stored step events into per-step
counts for authors.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace


class RunStatus(enum.StrEnum):
    ACTIVE = "active"
    COMPLETED = "completed"
    ABANDONED = "abandoned"


class StepEvent(enum.StrEnum):
    SHOWN = "shown"
    COMPLETED = "completed"
    SKIPPED = "skipped"
    FAILED = "failed"  # with a reason: target_missing, unexpected_outcome, …
    REVERSED = "reversed"  # the visitor went back a step
    ABANDONED = "abandoned"  # the walkthrough ended on this step without finishing; reason says why


@dataclass(frozen=True)
class Run:
    id: str
    walkthrough: str
    version: int
    steps: tuple[str, ...]  # the step ids of the pinned version, in order
    step: str  # the current step
    status: RunStatus = RunStatus.ACTIVE
    started_ms: int = 0
    updated_ms: int = 0
    completed_steps: tuple[str, ...] = ()
    session: str = ""  # the support session that offered it, if any

    @property
    def index(self) -> int:
        return self.steps.index(self.step)


@dataclass(frozen=True)
class Applied:
    """The run after an event, or the reason the event was refused."""

    run: Run
    accepted: bool
    reason: str = ""


def start_run(
    run_id: str,
    walkthrough: str,
    version: int,
    steps: Sequence[str],
    *,
    now_ms: int,
    session: str = "",
) -> Run:
    """A new run at its first step; ``session``: the support session that offered it."""
    if not steps:
        raise ValueError("a walkthrough has at least one step")
    return Run(
        run_id,
        walkthrough,
        version,
        tuple(steps),
        steps[0],
        started_ms=now_ms,
        updated_ms=now_ms,
        session=session,
    )


def advance(
    run: Run, step: str, event: StepEvent, *, now_ms: int, goto: str | None = None
) -> Applied:
    """Apply one step event. ``goto`` (a branch) names the next step instead of the following one."""
    if run.status is not RunStatus.ACTIVE:
        return Applied(run, False, f"run_{run.status.value}")
    if step not in run.steps:
        return Applied(run, False, "unknown_step")
    if event is StepEvent.ABANDONED:
        return Applied(replace(run, status=RunStatus.ABANDONED, updated_ms=now_ms), True)
    if event is StepEvent.SHOWN:
        # Showing a step (after a branch, a reload or a resume) makes it the current one.
        return Applied(replace(run, step=step, updated_ms=now_ms), True)
    if step != run.step:
        return Applied(run, False, "not_current_step")
    if event is StepEvent.REVERSED:
        previous = run.steps[max(run.index - 1, 0)]
        return Applied(replace(run, step=previous, updated_ms=now_ms), True)
    if event is StepEvent.FAILED:
        return Applied(replace(run, updated_ms=now_ms), True)
    done = (
        (*run.completed_steps, step)
        if event is StepEvent.COMPLETED and step not in run.completed_steps
        else run.completed_steps
    )
    if goto is not None and goto not in run.steps:
        return Applied(run, False, "unknown_branch_target")
    following = goto or (run.steps[run.index + 1] if run.index + 1 < len(run.steps) else None)
    if following is None:
        return Applied(
            replace(run, completed_steps=done, status=RunStatus.COMPLETED, updated_ms=now_ms), True
        )
    return Applied(replace(run, step=following, completed_steps=done, updated_ms=now_ms), True)


def reopen(run: Run, *, now_ms: int) -> Run:
    """The visitor chose to continue a run they had abandoned: active again, at the step it stopped on."""
    if run.status is not RunStatus.ABANDONED:
        return run
    return replace(run, status=RunStatus.ACTIVE, updated_ms=now_ms)


def abandon(run: Run, *, now_ms: int) -> Run:
    """The visitor left without finishing (closed the tab, gave up, or went quiet too long)."""
    if run.status is not RunStatus.ACTIVE:
        return run
    return replace(run, status=RunStatus.ABANDONED, updated_ms=now_ms)


# --- funnels ------------------------------------------------------------------------------


@dataclass(frozen=True)
class StepRecord:
    """A stored step event, as the funnel reads it."""

    run: str
    step: str
    event: StepEvent
    reason: str = ""
    strategy: str = ""
    similarity: float | None = None


@dataclass
class StepFunnel:
    step: str
    shown: int = 0  # runs that showed it
    completed: int = 0
    skipped: int = 0
    failed: int = 0
    missing_target: int = 0
    strategies: dict[str, int] = field(default_factory=dict)
    similarity_min: float | None = None

    @property
    def drop_off(self) -> int:
        """Runs that saw the step but neither completed nor skipped it."""
        return max(self.shown - self.completed - self.skipped, 0)

    def as_dict(self) -> dict[str, object]:
        return {
            "step": self.step, "shown": self.shown, "completed": self.completed, "skipped": self.skipped,
            "failed": self.failed, "missing_target": self.missing_target, "drop_off": self.drop_off,
            "strategies": dict(sorted(self.strategies.items())), "similarity_min": self.similarity_min,
        }  # fmt: skip


#: The resolver's similarity threshold (client_js/src/resolver/resolve.js): below it, no match.
RESOLVER_THRESHOLD = 0.6
#: A step whose weakest match came within this of the threshold is drifting toward breaking.
DRIFT_MARGIN = 0.1


def drifting(row: StepFunnel, *, threshold: float = RESOLVER_THRESHOLD) -> bool:
    """The step's target is still found, but only just: the page changed under it; fix it now."""
    return row.similarity_min is not None and row.similarity_min < threshold + DRIFT_MARGIN


def funnel(steps: Sequence[str], records: Iterable[StepRecord]) -> list[StepFunnel]:
    """Per step: how many runs showed, completed, skipped and failed it, and how targets were found."""
    rows = {s: StepFunnel(s) for s in steps}
    seen: dict[tuple[str, str, StepEvent], bool] = {}
    for record in records:
        row = rows.get(record.step)
        if row is None:
            continue
        key = (record.run, record.step, record.event)
        if record.event is StepEvent.SHOWN and record.strategy:
            row.strategies[record.strategy] = row.strategies.get(record.strategy, 0) + 1
            if record.similarity is not None:
                row.similarity_min = min(
                    record.similarity, row.similarity_min if row.similarity_min is not None else 1.0
                )
        if (
            record.event is StepEvent.FAILED
            and record.reason == "target_missing"
            and key not in seen
        ):
            row.missing_target += 1
        if key in seen:
            continue  # one run counts once per step and event (reloads show a step again)
        seen[key] = True
        if record.event is StepEvent.SHOWN:
            row.shown += 1
        elif record.event is StepEvent.COMPLETED:
            row.completed += 1
        elif record.event is StepEvent.SKIPPED:
            row.skipped += 1
        elif record.event is StepEvent.FAILED:
            row.failed += 1
    return [rows[s] for s in steps]
