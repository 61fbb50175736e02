"""Walkthrough requests over the tab socket: what can start here, starting, resuming, step events.

Thin: the catalog (``knowledge.catalog``) says what applies, ``knowledge.render``
personalises it, ``support.run`` moves the run; this module only reads and
writes the store.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from server.knowledge.render import render_steps
from server.knowledge.walkthrough import WalkthroughFile
from server.protocol.messages import Error, Launcher, Offer, Offers, Resume, RunMessage, Start, Step
from server.support.run import Run, RunStatus, StepEvent, advance, reopen, start_run

if TYPE_CHECKING:
    from server.knowledge.site import Site
    from server.web.state import AppState
    from server.web.tab_socket import TabConnection


class Visit(Protocol):
    """A visitor's tab a run starts in: its connection, or (``VisitorTab``) a tab whose
    connection may be on another node."""

    @property
    def state(self) -> AppState: ...

    @property
    def site(self) -> Site: ...

    @property
    def user(self) -> str | None: ...

    @property
    def tab(self) -> str: ...


@dataclass(frozen=True)
class VisitorTab:
    """A visitor's tab known by its ids (an agent starts a walkthrough in it from the console)."""

    state: AppState
    site: Site
    user: str | None
    tab: str


#: The launcher offers to continue a run the visitor left (closed the tab, came back days
#: later) for this long; a run they closed themselves has ended and is not offered.
RESUME_WITHIN_MS = 30 * 24 * 60 * 60 * 1000
#: How often a step event is decided again when another tab changed its run meanwhile.
STEP_ATTEMPTS = 5


async def _traits(conn: Visit) -> dict[str, Any]:
    profile = await conn.state.store.get_profile(conn.site.key, conn.user or "")
    return dict(profile.traits) if profile else {}


def _run_message(
    conn: Visit,
    req: int,
    run_id: str,
    walkthrough: WalkthroughFile,
    step: str,
    status: str,
    steps: list[dict[str, Any]],
    persona: str | None,
    session: str,
) -> RunMessage:
    found = next((p for p in conn.site.personae if persona and p.id == persona), None)
    process = conn.site.process(walkthrough.process)
    goal = process.goal if process else None
    return RunMessage(
        req=req, run=run_id, walkthrough=walkthrough.id, version=walkthrough.version, title=walkthrough.title,
        step=step, status=status, steps=steps,
        persona={"id": found.id, "name": found.name, "avatar": found.avatar} if found else {},
        session=session,
        goal={"process": walkthrough.process, "element": goal.element} if goal and goal.element
        else {"process": walkthrough.process, "event": goal.event} if goal and goal.event else {},
    )  # fmt: skip


async def _session_persona(conn: Visit, session: str) -> str | None:
    """The persona of one of the visitor's support sessions ("" when it had none); None when it is not theirs.

    A run joins a support session only when that session is the visitor's own, and
    its steps then speak in that session's persona.
    """
    profile = await conn.state.store.get_profile(conn.site.key, conn.user or "")
    for item in profile.items if profile else ():
        if item.payload.get("session") == session:
            return str(item.payload.get("persona") or "")
    return None


async def offers(conn: TabConnection, message: Launcher, *, now_ms: int) -> Offers:
    catalog = conn.state.catalogs.get(conn.site.key)
    url = conn.live.url if conn.live else ""
    here = catalog.for_location(url, conn.markers) if catalog and url else []
    resume = ""
    if conn.user is not None and here:
        ids = {p.walkthrough.id for p in here}
        for stored in await conn.state.store.latest_runs(conn.site.key, conn.user):
            run = stored.run
            if (
                run.status is RunStatus.ACTIVE
                and run.walkthrough in ids
                and now_ms - run.updated_ms < RESUME_WITHIN_MS
            ):
                resume = run.id
                break
    return Offers(
        req=message.req,
        walkthroughs=[
            Offer(walkthrough=p.walkthrough.id, title=p.walkthrough.title, version=p.version)
            for p in here
        ],
        resume=resume,
    )


async def start(conn: Visit, message: Start, *, now_ms: int) -> RunMessage | Error:
    catalog = conn.state.catalogs.get(conn.site.key)
    found = next(
        (
            p
            for p in (catalog.published if catalog else ())
            if p.walkthrough.id == message.walkthrough
        ),
        None,
    )
    if found is None or conn.user is None:
        return Error(
            code="unknown_walkthrough",
            req=message.req,
            message=f"req {message.req}: no published walkthrough {message.walkthrough!r}",
        )
    walkthrough = found.walkthrough
    persona = await _session_persona(conn, message.session) if message.session else None
    session = message.session if persona is not None else ""
    run = start_run(
        f"run-{secrets.token_urlsafe(12)}",
        walkthrough.id,
        found.version,
        [s.id for s in walkthrough.steps],
        now_ms=now_ms,
        session=session,
    )
    await conn.state.store.save_run(conn.site.key, conn.user, conn.tab, run)
    steps = render_steps(walkthrough, traits=await _traits(conn), persona=persona or None)
    return _run_message(
        conn, message.req, run.id, walkthrough, run.step, run.status.value, steps, persona,
        run.session,
    )  # fmt: skip


async def resume(conn: TabConnection, message: Resume, *, now_ms: int) -> RunMessage | Error:
    """The run at its step. Asking to continue a run the visitor abandoned reopens it there;
    a completed run is answered as it is (the player does not play it)."""
    stored = await conn.state.store.get_run(conn.site.key, message.run)
    if stored is None or stored.user_id != conn.user:
        return Error(
            code="unknown_run",
            req=message.req,
            message=f"req {message.req}: no run {message.run!r} for this visitor",
        )
    run = stored.run
    if run.status is RunStatus.ABANDONED:
        reopened = reopen(run, now_ms=now_ms)
        if await conn.state.store.update_run(
            conn.site.key, conn.tab, reopened, revision=stored.revision
        ):
            run = reopened
    version = await conn.state.store.walkthrough_version(
        conn.site.key, stored.run.walkthrough, stored.run.version
    )
    if version is None:  # pragma: no cover - a run always points at a stored version (foreign key)
        return Error(
            code="unknown_run",
            req=message.req,
            message=f"req {message.req}: its walkthrough version is gone",
        )
    walkthrough = WalkthroughFile.model_validate(version.body)
    persona = await _session_persona(conn, stored.run.session) if stored.run.session else None
    steps = render_steps(walkthrough, traits=await _traits(conn), persona=persona or None)
    return _run_message(
        conn, message.req, run.id, walkthrough, run.step, run.status.value, steps, persona,
        run.session,
    )  # fmt: skip


#: The support data item that records how a walkthrough run ended.
WALKTHROUGH_RUN = "walkthrough_run"


async def _record_outcome(conn: TabConnection, run: Run, reason: str, *, now_ms: int) -> None:
    """A run that just ended goes to the visitor's profile: completed, or abandoned and why."""
    abandoned = run.status is RunStatus.ABANDONED
    await conn.state.store.append_support_item(
        conn.site.key,
        conn.user or "",
        WALKTHROUGH_RUN,
        at_ms=now_ms,
        payload={
            "run": run.id, "walkthrough": run.walkthrough, "version": run.version,
            "status": run.status.value, "step": run.step, "completed_steps": list(run.completed_steps),
            "steps": len(run.steps), "session": run.session, "tab": conn.tab,
            "started_ms": run.started_ms, "ended_ms": now_ms, "reason": reason if abandoned else "",
        },
        failure=abandoned,
        failure_reason=(reason or "step_not_completed") if abandoned else None,
    )  # fmt: skip
    if run.session:  # score the support session that offered it, once the goal had time to show
        scoring = conn.state.scoring
        scoring.schedule(
            conn.state, conn.site, conn.user or "", run.session, delay_s=scoring.grace_s,
            tab=conn.live,
        )  # fmt: skip


async def apply_step(conn: TabConnection, message: Step, *, now_ms: int) -> dict[str, Any]:
    """Move the run (when the event fits it) and return the event's stored payload.

    Two tabs of a visitor may move one run at once: the run is written only if
    no other change came between reading and writing it; otherwise it is read
    again and the event decided anew against what the other tab wrote.
    ``applied`` says what became of the event: ``yes``, why it did not fit
    the run, or ``conflict`` when the run kept changing under it.
    """
    payload: dict[str, Any] = {
        "run": message.run, "step": message.step, "event": message.event, "reason": message.reason,
        "strategy": message.strategy, "similarity": message.similarity, "goto": message.goto,
    }  # fmt: skip
    store = conn.state.store
    for _ in range(STEP_ATTEMPTS):
        stored = await store.get_run(conn.site.key, message.run)
        if stored is None or stored.user_id != conn.user:
            payload["applied"] = "unknown_run"
            return payload
        payload["walkthrough"] = stored.run.walkthrough
        payload["version"] = stored.run.version
        applied = advance(
            stored.run, message.step, StepEvent(message.event), now_ms=now_ms, goto=message.goto
        )
        if not applied.accepted:
            payload["applied"] = applied.reason
            return payload
        if await store.update_run(conn.site.key, conn.tab, applied.run, revision=stored.revision):
            payload["applied"] = "yes"
            if applied.run.status is not RunStatus.ACTIVE:
                await _record_outcome(conn, applied.run, message.reason, now_ms=now_ms)
            return payload
    payload["applied"] = "conflict"
    return payload
