"""Referred visitors reach live agents, on both stores: an online agent is offered the session,
accepts it in the console and the visitor hears a person is with them; a busy agent's next
visitor waits in the queue; an offer left too long goes to another agent."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from dataclasses import replace

import httpx2
import pytest

from server.console.passwords import hash_password
from server.protocol.messages import Hello, Help, HelpAnswer, TokenIdentity, Welcome
from server.store.base import AccountRecord
from tests.integration.live_server import LiveServer, demo_token, tab_client
from tests.integration.test_console import PASSWORD, client, sign_in

pytestmark = pytest.mark.anyio

SKILLS = (
    "onboarding-guide",
    "support-coach",
    "assistant",
    "billing-specialist",
    "general",
    "team-admin",
    "payments",
    "invoices",
    "reporting",
)


async def agent(server: LiveServer, email: str, capacity: int = 2) -> None:
    await server.state.store.add_account(
        AccountRecord(
            "demo",
            email,
            email.split("@")[0].title(),
            "agent",
            hash_password(PASSWORD),
            SKILLS,
            capacity,
            1,
        )
    )


async def go_online(http: httpx2.AsyncClient, presence: str = "online") -> None:
    page = await http.get("/console/demo/")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token
    answer = await http.post(
        "/console/demo/presence", data={"csrf": token.group(1), "presence": presence}
    )
    assert answer.status_code == 303


async def ask_for_person(server: LiveServer, user: str) -> HelpAnswer:
    async with tab_client(server) as tab:
        await tab.send(
            Hello(
                v=1,
                site="demo",
                tab=f"tab-route-{user}",
                identity=TokenIdentity(user=user, token=demo_token(user)),
            )
        )
        await tab.recv_until(Welcome)
        await tab.send(Help(req=1, question="please, a person", person=True))
        answer: HelpAnswer = await tab.recv_until(HelpAnswer)
        return answer


async def test_an_online_agent_is_offered_the_visitor_accepts_and_the_visitor_hears_it(
    server: LiveServer,
) -> None:
    await agent(server, "ada@acme.test", capacity=1)
    async with client(server) as http:
        await sign_in(http, "demo", "ada@acme.test")
        await go_online(http)
        async with tab_client(server) as tab:
            await tab.send(
                Hello(
                    v=1,
                    site="demo",
                    tab="tab-route-grace",
                    identity=TokenIdentity(user="u-grace", token=demo_token("u-grace")),
                )
            )
            await tab.recv_until(Welcome)
            await tab.send(Help(req=1, question="please, a person", person=True))
            answer = await tab.recv_until(HelpAnswer)
            [assignment] = await server.state.store.open_assignments("demo")
            assert (assignment.session, assignment.state, assignment.agent) == (
                answer.session,
                "offered",
                "ada@acme.test",
            )
            page = await http.get("/console/demo/")
            assert "Offered to you" in page.text and answer.session in page.text
            token = re.search(r'name="csrf" value="([^"]+)"', page.text)
            assert token
            taken = await http.post(
                f"/console/demo/sessions/{answer.session}/accept", data={"csrf": token.group(1)}
            )
            assert (taken.status_code, taken.headers["location"]) == (
                303,
                f"/console/demo/sessions/{answer.session}",
            )
            told = await tab.recv_until(HelpAnswer)
            assert (told.session, told.text) == (
                answer.session,
                "Ada from the team is with you now.",
            )
            again = await http.post(
                f"/console/demo/sessions/{answer.session}/accept", data={"csrf": token.group(1)}
            )
            assert again.status_code == 409
        # Ada is at capacity: the next visitor waits in the queue.
        second = await ask_for_person(server, "u-alan")
    # What the waiting visitor is told: in line, first, with an estimate; chat meanwhile.
    assert (second.channel, second.queue["position"]) == ("chat", 1)
    # The estimate learns from how long visitors waited: the first one's wait is now its history.
    learnt = server.state.waits["demo"]
    assert learnt.observations == 1 and learnt.average_ms is not None
    assert second.queue.get("wait_ms", 0) == round(learnt.average_ms)
    assert answer.channel == "live_agent" and answer.queue == {}
    states = {
        a.session: (a.state, a.agent) for a in await server.state.store.open_assignments("demo")
    }
    assert states == {answer.session: ("accepted", "ada@acme.test"), second.session: ("queued", "")}
    audit = [(e.actor, e.action, e.target) for e in await server.state.store.read_audit("demo")]
    assert ("ada@acme.test", "session.accepted", answer.session) in audit
    assert ("ada@acme.test", "presence.online", "") in audit


async def test_an_offer_left_too_long_goes_to_another_agent(server: LiveServer) -> None:
    await agent(server, "ada@acme.test")
    await agent(server, "bob@acme.test")
    async with client(server) as ada, client(server) as bob:
        await sign_in(ada, "demo", "ada@acme.test")
        await go_online(ada)
        answer = await ask_for_person(server, "u-grace")
        [offered] = await server.state.store.open_assignments("demo")
        assert offered.agent == "ada@acme.test"
        await sign_in(bob, "demo", "bob@acme.test")
        await go_online(bob)
        # 31 s later, Ada has not accepted.
        stale = replace(offered, offered_ms=offered.offered_ms - 31_000)
        assert await server.state.store.update_assignment(stale, revision=offered.revision)
        await bob.get("/console/demo/")  # the console's refresh routes what lapsed
        [moved] = await server.state.store.open_assignments("demo")
        assert (moved.session, moved.state, moved.agent, moved.skipped) == (
            answer.session,
            "offered",
            "bob@acme.test",
            ("ada@acme.test",),
        )
        page = await ada.get("/console/demo/")
        token = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert token
        late = await ada.post(
            f"/console/demo/sessions/{answer.session}/accept", data={"csrf": token.group(1)}
        )
        assert late.status_code == 409


async def test_nobody_online_falls_back_and_offline_agents_are_never_offered(
    server: LiveServer,
) -> None:
    await agent(server, "ada@acme.test")
    async with client(server) as http:
        await sign_in(http, "demo", "ada@acme.test")
        await go_online(http)
        await go_online(http, "offline")
    answer = await ask_for_person(server, "u-grace")
    [queued] = await server.state.store.open_assignments("demo")
    assert (queued.session, queued.state) == (answer.session, "queued")
    profile = await server.state.store.get_profile("demo", "u-grace")
    assert profile is not None
    referred = [i for i in profile.items if "referral" in i.payload]
    # This site has no email or call-back channel: the referral waits for the next agent online.
    assert referred[-1].payload["referral"]["channel"] == "queue"


async def test_a_visitor_waiting_for_hours_is_no_longer_offered(server: LiveServer) -> None:
    import time

    from server.web import agents as routing

    answer = await ask_for_person(server, "u-grace")  # nobody online: queued
    [queued] = await server.state.store.open_assignments("demo")
    assert queued.state == "queued"
    three_hours_later = int(time.time() * 1000) + 3 * 3600 * 1000
    await routing.dispatch(server.state, server.state.sites["demo"], now_ms=three_hours_later)
    assert await server.state.store.open_assignments("demo") == []
    audit = [(e.actor, e.action, e.target) for e in await server.state.store.read_audit("demo")]
    assert ("system", "assignment.expired", answer.session) in audit


async def agents_online(server: LiveServer, *emails: str) -> int:
    """The agents, online in the console now; the time it is."""
    import time

    now_ms = int(time.time() * 1000)
    for email in emails:
        await agent(server, email)
        await server.state.store.set_presence("demo", email, "online", now_ms=now_ms)
    return now_ms


@contextlib.asynccontextmanager
async def dispatch_held(server: LiveServer, referrals: int) -> AsyncIterator[None]:
    """Nothing is routed until ``referrals`` sessions wait in the store: the first referral's
    dispatch then routes them all, before the others' run."""
    from tests.integration.test_broker import eventually

    async def all_waiting() -> bool:
        return len(await server.state.store.open_assignments("demo")) == referrals

    async with server.state.dispatching.setdefault("demo", asyncio.Lock()):
        yield
        await eventually(all_waiting, within=10)


async def test_referrals_at_the_same_moment_are_each_told_the_agent_they_were_offered(
    server: LiveServer,
) -> None:
    from server.support.routing import Outcome
    from server.web import agents as routing

    now_ms = await agents_online(server, "ada@acme.test", "bob@acme.test")
    site = server.state.sites["demo"]
    async with dispatch_held(server, 2):
        referring = [
            asyncio.create_task(
                routing.refer(server.state, site, user, session, None, now_ms=now_ms)
            )
            for user, session in (("u-grace", "sess-grace"), ("u-alan", "sess-alan"))
        ]
    grace, alan = await asyncio.gather(*referring)
    offered = {
        a.session: (a.state, a.agent) for a in await server.state.store.open_assignments("demo")
    }
    assert sorted(offered.values()) == [("offered", "ada@acme.test"), ("offered", "bob@acme.test")]
    assert (grace.outcome, grace.agent) == (Outcome.ASSIGNED, offered["sess-grace"][1])
    assert (alan.outcome, alan.agent) == (Outcome.ASSIGNED, offered["sess-alan"][1])
    assert [routing.channel_of(d) for d in (grace, alan)] == ["live_agent", "live_agent"]
    assert routing.waiting(alan) == {}


async def test_visitors_asking_for_a_person_at_the_same_moment_both_hear_a_person_is_coming(
    server: LiveServer,
) -> None:
    await agents_online(server, "ada@acme.test", "bob@acme.test")
    async with tab_client(server) as first, tab_client(server) as second:
        for tab, user in ((first, "u-grace"), (second, "u-alan")):
            identity = TokenIdentity(user=user, token=demo_token(user))
            await tab.send(Hello(v=1, site="demo", tab=f"tab-route-{user}", identity=identity))
            await tab.recv_until(Welcome)
        async with dispatch_held(server, 2):
            for tab in (first, second):
                await tab.send(Help(req=1, question="please, a person", person=True))
        answers = [await tab.recv_until(HelpAnswer) for tab in (first, second)]
    assert [(a.channel, a.queue) for a in answers] == [("live_agent", {}), ("live_agent", {})]
    offered = {a.session: a.state for a in await server.state.store.open_assignments("demo")}
    assert offered == {answers[0].session: "offered", answers[1].session: "offered"}
    for user in ("u-grace", "u-alan"):  # the referral kept in their history says so too
        profile = await server.state.store.get_profile("demo", user)
        assert profile is not None
        referred = [i for i in profile.items if "referral" in i.payload]
        assert referred[-1].payload["referral"]["channel"] == "live_agent"
