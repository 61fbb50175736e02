"""Two (or three) help requests in a row at the same place, over the tab socket, on both stores:
each later one accounts for what the visitor did with the earlier ones (claim 2)."""

from __future__ import annotations

from typing import Any

import pytest

from server.protocol.messages import Feedback, Help, HelpAnswer, RunMessage, Start, Step
from tests.integration.live_server import LiveServer, api, tab_client
from tests.integration.test_session_scoring import Visitor, scored

pytestmark = pytest.mark.anyio


async def ask(visitor: Visitor, req: int) -> HelpAnswer:
    await visitor.tab.send(Help(req=req, question="how do I add a colleague?"))
    while True:
        answer = await visitor.answer()
        if answer.req == req:
            return answer


async def start(visitor: Visitor, answer: HelpAnswer, req: int) -> RunMessage:
    await visitor.tab.send(Start(req=req, walkthrough=answer.walkthrough, session=answer.session))
    run: RunMessage = await visitor.tab.recv_until(RunMessage)
    return run


async def complete(visitor: Visitor, run: RunMessage) -> None:
    for step in [s["id"] for s in run.steps]:
        await visitor.data(Step, run=run.run, step=step, event="completed")


async def fail(server: LiveServer, visitor: Visitor, req: int) -> HelpAnswer:
    """Ask, do the walkthrough offered to its end, and say it did not help: a failed session."""
    answer = await ask(visitor, req)
    run = await start(visitor, answer, req + 1)
    await complete(visitor, run)
    await visitor.data(Feedback, session=answer.session, helped=False)
    await scored(server, answer.session, lambda s: s["components"] is not None)
    return answer


def reasons(answer: HelpAnswer, trail: dict[str, Any]) -> list[str]:
    return [r["code"] for r in trail["reasons"]]


async def trail_of(server: LiveServer, answer: HelpAnswer) -> dict[str, Any]:
    found: dict[str, Any] = (
        await api(server, f"/api/sites/demo/support-sessions/{answer.session}")
    ).json()
    return found


async def test_an_abandoned_walkthrough_is_resumed_at_its_step(server: LiveServer) -> None:
    async with tab_client(server) as tab:
        visitor = Visitor(tab, "u-ada")
        await visitor.connect()
        first = await ask(visitor, 1)
        run = await start(visitor, first, 2)
        await visitor.data(Step, run=run.run, step="open-form", event="completed")
        await visitor.data(Step, run=run.run, step="name", event="completed")
        await visitor.data(Step, run=run.run, step="email", event="abandoned", reason="closed")
        second = await ask(visitor, 3)
    assert (second.offer, second.walkthrough, second.step, second.run) == (
        "resume",
        "invite-teammate",
        "email",
        run.run,
    )
    assert "resume_abandoned" in reasons(second, await trail_of(server, second))


async def test_a_completed_walkthrough_is_not_replayed(server: LiveServer) -> None:
    async with tab_client(server) as tab:
        visitor = Visitor(tab, "u-grace")
        await visitor.connect()
        first = await ask(visitor, 1)
        await complete(visitor, await start(visitor, first, 2))
        second = await ask(visitor, 3)
    assert (second.offer, second.walkthrough) == ("faq", "")
    assert reasons(second, await trail_of(server, second))[-1] == "all_completed"


async def test_after_a_failure_the_same_walkthrough_comes_from_another_persona(
    server: LiveServer,
) -> None:
    server.state.scoring.grace_s = 0.1
    async with tab_client(server) as tab:
        visitor = Visitor(tab, "u-alan")
        await visitor.connect()
        first = await fail(server, visitor, 1)
        second = await ask(visitor, 10)
    assert (second.offer, second.walkthrough) == ("walkthrough", "invite-teammate")
    assert second.persona["id"] != first.persona["id"]
    assert "switch_persona" in reasons(second, await trail_of(server, second))


async def test_after_repeated_failure_a_person_is_offered_straight_away(server: LiveServer) -> None:
    server.state.scoring.grace_s = 0.1
    async with tab_client(server) as tab:
        visitor = Visitor(tab, "u-ada")
        await visitor.connect()
        await fail(server, visitor, 1)
        await fail(server, visitor, 10)
        third = await ask(visitor, 20)
    assert third.offer == "person"
    trail = await trail_of(server, third)
    assert "repeated_failure" in reasons(third, trail)
    assert trail["referral"]["triggers"] == ["offered_person"]
