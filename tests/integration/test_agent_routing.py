"""Referred visitors reach live agents, on both stores: an online agent is offered the session,
accepts it in the console and the visitor hears a person is with them; a busy agent's next
visitor waits in the queue; an offer left too long goes to another agent."""

from __future__ import annotations

import re
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


async def test_the_agent_closes_with_an_outcome_and_the_visitor_rates_it(
    server: LiveServer,
) -> None:
    from server.protocol.messages import Ack, Rating

    await agent(server, "ada@acme.test")
    async with client(server) as http:
        await sign_in(http, "demo", "ada@acme.test")
        await go_online(http)
        async with tab_client(server) as tab:
            await tab.send(
                Hello(
                    v=1,
                    site="demo",
                    tab="tab-route-close",
                    identity=TokenIdentity(user="u-grace", token=demo_token("u-grace")),
                )
            )
            await tab.recv_until(Welcome)
            await tab.send(
                Rating(cseq=1, at=1, session="sess-nope", score=5)
            )  # nothing to rate yet
            await tab.recv_until(Ack)
            await tab.send(Help(req=1, question="please, a person", person=True))
            answer = await tab.recv_until(HelpAnswer)
            page = await http.get("/console/demo/")
            token = re.search(r'name="csrf" value="([^"]+)"', page.text)
            assert token
            await http.post(
                f"/console/demo/sessions/{answer.session}/accept", data={"csrf": token.group(1)}
            )
            await tab.recv_until(HelpAnswer)  # "Ada from the team is with you now."
            session_page = await http.get(f"/console/demo/sessions/{answer.session}")
            assert "Close the session" in session_page.text
            before = await server.state.store.get_account("demo", "ada@acme.test")
            assert before is not None
            bad = await http.post(
                f"/console/demo/sessions/{answer.session}/close",
                data={"csrf": token.group(1), "outcome": "whatever"},
            )
            assert bad.status_code == 409
            closed = await http.post(
                f"/console/demo/sessions/{answer.session}/close",
                data={"csrf": token.group(1), "outcome": "resolved"},
            )
            assert closed.status_code == 303
            asked = await tab.recv_until(HelpAnswer)
            assert (asked.session, asked.rate) == (answer.session, True)
            await tab.send(Rating(cseq=2, at=2, session=answer.session, score=4))
            await tab.recv_until(Ack)
            await tab.send(Rating(cseq=3, at=3, session=answer.session, score=1))  # once is enough
            await tab.recv_until(Ack)
    assert await server.state.store.open_assignments("demo") == []
    ada = await server.state.store.get_account("demo", "ada@acme.test")
    assert ada is not None and ada.idle_since_ms > before.idle_since_ms  # idle since the close
    profile = await server.state.store.get_profile("demo", "u-grace")
    assert profile is not None
    about = [i.payload for i in profile.items if i.payload.get("session") == answer.session]
    assert {"outcome": "resolved", "agent": "ada@acme.test"}.items() <= next(
        p["agent_outcome"] for p in about if "agent_outcome" in p
    ).items()
    assert next(p["csat"] for p in about if "csat" in p)["score"] == 4
    events = [
        e.payload
        for e in await server.state.store.read_events("demo", user_id="u-grace", kinds=["rating"])
    ]
    assert [e["applied"] for e in events] == ["not_closed_by_a_person", "yes", "already_rated"]
    audit = [(e.action, e.target) for e in await server.state.store.read_audit("demo")]
    assert ("session.closed", answer.session) in audit
    assert ("session.rated", answer.session) in audit


async def test_the_visitor_and_the_agent_chat_and_the_transcript_is_kept(
    server: LiveServer,
) -> None:
    from server.protocol.messages import Ack, Chat, ChatLine, Typed, Typing

    await agent(server, "ada@acme.test")
    async with client(server) as http:
        await sign_in(http, "demo", "ada@acme.test")
        await go_online(http)
        async with tab_client(server) as tab:
            await tab.send(
                Hello(
                    v=1,
                    site="demo",
                    tab="tab-route-chat",
                    identity=TokenIdentity(user="u-grace", token=demo_token("u-grace")),
                )
            )
            await tab.recv_until(Welcome)
            await tab.send(Help(req=1, question="please, a person", person=True))
            answer = await tab.recv_until(HelpAnswer)
            await tab.send(
                Chat(cseq=1, at=1, session=answer.session, text="too early")
            )  # nobody took it yet
            await tab.recv_until(Ack)
            page = await http.get("/console/demo/")
            token = re.search(r'name="csrf" value="([^"]+)"', page.text)
            assert token
            csrf = token.group(1)
            await http.post(f"/console/demo/sessions/{answer.session}/accept", data={"csrf": csrf})
            opened = await tab.recv_until(HelpAnswer)
            assert opened.chat is True
            await tab.send(Typing(session=answer.session))
            await tab.send(
                Chat(cseq=2, at=2, session=answer.session, text="It says my card expired")
            )
            await tab.recv_until(Ack)
            seen = (await http.get(f"/console/demo/sessions/{answer.session}/chat.json")).json()
            assert [(line["sender"], line["text"]) for line in seen["lines"]] == [
                ("visitor", "It says my card expired")
            ]
            assert seen["visitor_typing"] is False  # the line it was typing has arrived
            assert (
                await http.post(
                    f"/console/demo/sessions/{answer.session}/typing", data={"csrf": csrf}
                )
            ).status_code == 204
            assert (await tab.recv_until(Typed)).name == "Ada"
            sent = await http.post(
                f"/console/demo/sessions/{answer.session}/chat",
                data={"csrf": csrf, "text": "Let me look."},
            )
            assert sent.status_code == 204
            line = await tab.recv_until(ChatLine)
            assert (line.sender, line.name, line.text) == ("agent", "Ada", "Let me look.")
            assert (
                await http.post(
                    f"/console/demo/sessions/{answer.session}/chat", data={"text": "no token"}
                )
            ).status_code == 403
    async with client(server) as other:
        await agent(server, "bob@acme.test")
        await sign_in(other, "demo", "bob@acme.test")
        page = await other.get("/console/demo/")
        token = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert token
        refused = await other.post(
            f"/console/demo/sessions/{answer.session}/chat",
            data={"csrf": token.group(1), "text": "hi"},
        )
        assert refused.status_code == 409  # only the agent who took it
    trail = await server.state.store.support_session("demo", answer.session)
    assert trail is not None
    assert [(i.payload["sender"], i.payload["text"]) for i in trail[1] if i.kind == "chat"] == [
        ("visitor", "It says my card expired"),
        ("agent", "Let me look."),
    ]
    events = [
        e.payload["applied"]
        for e in await server.state.store.read_events("demo", user_id="u-grace", kinds=["chat"])
    ]
    assert events == ["no_open_chat", "yes"]


async def test_the_agent_shows_the_visitor_a_walkthrough(server: LiveServer) -> None:
    from server.protocol.messages import Location, RunMessage

    await agent(server, "ada@acme.test")
    async with client(server) as http:
        await sign_in(http, "demo", "ada@acme.test")
        await go_online(http)
        async with tab_client(server) as tab:
            await tab.send(
                Hello(
                    v=1,
                    site="demo",
                    tab="tab-route-push",
                    identity=TokenIdentity(user="u-grace", token=demo_token("u-grace")),
                )
            )
            await tab.recv_until(Welcome)
            await tab.send(Location(cseq=1, at=1, url="http://127.0.0.1:8001/team"))
            await tab.send(Help(req=1, question="please, a person", person=True))
            answer = await tab.recv_until(HelpAnswer)
            page = await http.get("/console/demo/")
            token = re.search(r'name="csrf" value="([^"]+)"', page.text)
            assert token
            csrf = token.group(1)
            early = await http.post(
                f"/console/demo/sessions/{answer.session}/push",
                data={"csrf": csrf, "walkthrough": "invite-teammate"},
            )
            assert early.status_code == 409  # not theirs until they accept
            await http.post(f"/console/demo/sessions/{answer.session}/accept", data={"csrf": csrf})
            session_page = await http.get(f"/console/demo/sessions/{answer.session}")
            assert (
                "Show it to the visitor" in session_page.text
                and "Invite a teammate" in session_page.text
            )
            unknown = await http.post(
                f"/console/demo/sessions/{answer.session}/push",
                data={"csrf": csrf, "walkthrough": "nope"},
            )
            assert unknown.status_code == 409
            pushed = await http.post(
                f"/console/demo/sessions/{answer.session}/push",
                data={"csrf": csrf, "walkthrough": "invite-teammate"},
            )
            assert pushed.status_code == 303
            run = await tab.recv_until(RunMessage)
    assert (run.req, run.walkthrough, run.session, run.step) == (
        0,
        "invite-teammate",
        answer.session,
        "open-form",
    )
    audit = [
        (e.action, e.target, e.detail.get("run"))
        for e in await server.state.store.read_audit("demo")
    ]
    assert ("walkthrough.pushed", answer.session, run.run) in audit


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
