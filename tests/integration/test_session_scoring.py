"""Support sessions scored as they play out (claim 3): the run, the goal seen on the page, the
visitor's answer, a return for help; below the threshold the session is a recorded failure and
is referred — on both stores."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from server.protocol.messages import (
    Ack,
    Feedback,
    Goal,
    Hello,
    Help,
    HelpAnswer,
    Location,
    RunMessage,
    Start,
    Step,
    TokenIdentity,
    Welcome,
)
from tests.integration.live_server import LiveServer, TabClient, api, demo_token, tab_client

pytestmark = pytest.mark.anyio

PAGE = "http://127.0.0.1:8001/team/invite"


def now() -> int:
    return int(time.time() * 1000)


class Visitor:
    """One visitor's tab, numbering its data messages."""

    def __init__(self, tab: TabClient, user: str) -> None:
        self.tab, self.user, self.cseq = tab, user, 0
        self.inbox: list[Any] = []  # what arrived while waiting for an ack

    async def answer(self) -> HelpAnswer:
        """The next help answer, whether it came before or after the last ack."""
        for i, message in enumerate(self.inbox):
            if isinstance(message, HelpAnswer):
                del self.inbox[i]
                return message
        found: HelpAnswer = await self.tab.recv_until(HelpAnswer)
        return found

    async def connect(self) -> None:
        token = demo_token(self.user, traits={"first_name": "Ada"})
        await self.tab.send(
            Hello(
                v=1,
                site="demo",
                tab=f"tab-score-{self.user}-a",
                identity=TokenIdentity(user=self.user, token=token),
            )
        )
        await self.tab.recv_until(Welcome)
        await self.data(Location, url=PAGE)

    async def data(self, kind: type[Any], **fields: Any) -> None:
        self.cseq += 1
        await self.tab.send(kind(cseq=self.cseq, at=now(), **fields))
        while not isinstance(message := await self.tab.recv(), Ack):
            self.inbox.append(message)

    async def help_and_start(self) -> tuple[str, RunMessage]:
        await self.tab.send(Help(req=1, question="how do I add a colleague?"))
        answer = await self.tab.recv_until(HelpAnswer)
        await self.tab.send(Start(req=2, walkthrough="invite-teammate", session=answer.session))
        run = await self.tab.recv_until(RunMessage)
        assert run.session == answer.session
        assert run.goal == {"process": "invite-teammate", "element": "[data-testid=invite-sent]"}
        return answer.session, run


async def scored(
    server: LiveServer, session: str, until: Any, within: float = 10.0
) -> dict[str, Any]:
    """The session's decision trail once its latest score satisfies ``until``."""
    deadline = time.monotonic() + within
    while True:
        trail: dict[str, Any] = (
            await api(server, f"/api/sites/demo/support-sessions/{session}")
        ).json()
        score = trail.get("effectiveness")
        if score is not None and until(score):
            return trail
        if time.monotonic() > deadline:
            raise AssertionError(f"no such score for {session} after {within} s: {score}")
        await asyncio.sleep(0.1)


def components(score: dict[str, Any]) -> dict[str, tuple[float, str]]:
    return {c["name"]: (c["value"], c["basis"]) for c in score["components"]}


async def test_a_completed_walkthrough_whose_goal_showed_scores_high_and_the_answer_counts(
    server: LiveServer,
) -> None:
    server.state.scoring.grace_s = 0.2
    async with tab_client(server) as tab:
        visitor = Visitor(tab, "u-ada")
        await visitor.connect()
        session, run = await visitor.help_and_start()
        for step in [s["id"] for s in run.steps]:
            await visitor.data(Step, run=run.run, step=step, event="completed")
        await visitor.data(
            Goal,
            run=run.run,
            process="invite-teammate",
            how="element",
            detail="[data-testid=invite-sent]",
        )
        trail = await scored(server, session, lambda s: s["score"] == 0.9)
        score = trail["effectiveness"]
        assert (score["final"], score["below_threshold"], score["threshold"]) == (False, False, 0.6)
        assert components(score) == {
            "goal_reached": (1.0, "confirmed"),
            "visitor_confirmation": (0.5, "assumed"),
            "no_return": (1.0, "assumed"),
            "low_frustration": (1.0, "confirmed"),
        }
        # "Did this help?" — yes.
        await visitor.data(Feedback, session=session, helped=True)
        trail = await scored(server, session, lambda s: s["score"] == 1.0)
        assert components(trail["effectiveness"])["visitor_confirmation"] == (1.0, "confirmed")
        assert trail["feedback"][0]["helped"] is True
        # Asking again at the same place settles it: the return counts against it, and it is final.
        await tab.send(Help(req=9, question="and how do I remove one?"))
        await tab.recv_until(HelpAnswer)
        trail = await scored(server, session, lambda s: s["final"])
        assert components(trail["effectiveness"])["no_return"] == (0.0, "confirmed")
        assert trail["effectiveness"]["score"] == 0.8
        assert trail["referral"] is None


async def test_an_abandoned_walkthrough_is_a_recorded_failure_and_the_visitor_is_referred(
    server: LiveServer,
) -> None:
    server.state.scoring.grace_s = 0.2
    async with tab_client(server) as tab:
        visitor = Visitor(tab, "u-grace")
        await visitor.connect()
        session, run = await visitor.help_and_start()
        await visitor.data(Step, run=run.run, step="open-form", event="completed")
        await visitor.data(Step, run=run.run, step="name", event="abandoned", reason="closed")
        offered = await visitor.answer()
    assert (offered.offer, offered.session) == ("person", session)
    trail = await scored(server, session, lambda s: s["below_threshold"])
    score = trail["effectiveness"]
    assert (score["score"], score["reason"]) == (0.4, "step_not_completed")
    # No agent online and no email channel here: the referral waits for the next agent online.
    assert trail["referral"] == {"triggers": ["below_threshold"], "channel": "queue"}
    [why] = [r for r in trail["reasons"] if r["code"] == "below_threshold"]
    assert why["detail"] == {"score": 0.4, "threshold": 0.6, "reason": "step_not_completed"}
    items = (await api(server, "/api/users/demo/u-grace/profile")).json()["support_items"]
    failed = [i for i in items if i["payload"].get("session") == session and i["failure"]]
    assert {i["failure_reason"] for i in failed} >= {"step_not_completed"}


async def test_an_answer_that_did_not_help_fails_the_session(server: LiveServer) -> None:
    async with tab_client(server) as tab:
        visitor = Visitor(tab, "u-alan")
        await visitor.connect()
        await tab.send(Location(cseq=99, at=now(), url="http://127.0.0.1:8001/reports"))
        visitor.cseq = 99
        await tab.recv_until(Ack)
        await tab.send(Help(req=1, question="How do I export my invoices?"))
        answer = await tab.recv_until(HelpAnswer)
        assert answer.offer == "faq"
        await visitor.data(Feedback, session=answer.session, helped=False)
        assert (await visitor.answer()).offer == "person"
        await visitor.data(Feedback, session="sess-not-theirs", helped=True)  # ignored
    # An FAQ answer has no goal: the other parts are weighed among themselves (0 + 0.2 + 0.1 of 0.5).
    trail = await scored(server, answer.session, lambda s: s["score"] == 0.6)
    assert [c["name"] for c in trail["effectiveness"]["components"]] == [
        "visitor_confirmation",
        "no_return",
        "low_frustration",
    ]
    assert trail["referral"]["triggers"] == ["user_said_no"]  # "no" refers, whatever the score
    events = (await api(server, "/api/users/demo/u-alan/events?kind=feedback")).json()["events"]
    assert [e["payload"]["applied"] for e in events] == ["yes", "unknown_session"]


async def test_a_goal_seen_mid_run_or_an_early_yes_never_scores_or_refers_too_soon(
    server: LiveServer,
) -> None:
    server.state.scoring.grace_s = 1.5
    async with tab_client(server) as tab:
        visitor = Visitor(tab, "u-alan")
        await visitor.connect()
        session, run = await visitor.help_and_start()
        # The goal element is on the page while the run still plays: nothing is scored yet.
        await visitor.data(
            Goal,
            run=run.run,
            process="invite-teammate",
            how="element",
            detail="[data-testid=invite-sent]",
        )
        await asyncio.sleep(1.5)
        trail = (await api(server, f"/api/sites/demo/support-sessions/{session}")).json()
        assert (trail["effectiveness"], trail["referral"]) == (None, None)
        for step in [s["id"] for s in run.steps]:
            await visitor.data(Step, run=run.run, step=step, event="completed")
        # "Yes" at once: it does not cut short the grace the run's end waits for its goal.
        await visitor.data(Feedback, session=session, helped=True)
        await asyncio.sleep(0.5)
        trail = (await api(server, f"/api/sites/demo/support-sessions/{session}")).json()
        assert trail["effectiveness"] is None
        trail = await scored(server, session, lambda s: s["score"] == 1.0)
    assert trail["referral"] is None
    assert not [m for m in visitor.inbox if isinstance(m, HelpAnswer)]
