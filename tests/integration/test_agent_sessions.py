"""What an agent does with the visitor they took, on both stores: chat with them (typing shown,
transcript kept), show them a walkthrough, close with an outcome and have them rate it."""

from __future__ import annotations

import re

import httpx2
import pytest

from server.protocol.messages import Hello, Help, HelpAnswer, TokenIdentity, Welcome
from tests.integration.live_server import LiveServer, TabClient, demo_token, tab_client
from tests.integration.test_agent_routing import agent, go_online
from tests.integration.test_console import client, sign_in

pytestmark = pytest.mark.anyio


async def greet(tab: TabClient, user: str, tab_id: str) -> None:
    """The visitor's tab says hello as ``user``."""
    await tab.send(
        Hello(
            v=1, site="demo", tab=tab_id, identity=TokenIdentity(user=user, token=demo_token(user))
        )
    )
    await tab.recv_until(Welcome)


async def console_csrf(http: httpx2.AsyncClient) -> str:
    """The CSRF token of the signed-in account's console."""
    page = await http.get("/console/demo/")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token
    return token.group(1)


async def test_the_agent_closes_with_an_outcome_and_the_visitor_rates_it(
    server: LiveServer,
) -> None:
    from server.protocol.messages import Ack, Rating

    await agent(server, "ada@acme.test")
    async with client(server) as http:
        await sign_in(http, "demo", "ada@acme.test")
        await go_online(http)
        async with tab_client(server) as tab:
            await greet(tab, "u-grace", "tab-route-close")
            await tab.send(
                Rating(cseq=1, at=1, session="sess-nope", score=5)
            )  # nothing to rate yet
            await tab.recv_until(Ack)
            await tab.send(Help(req=1, question="please, a person", person=True))
            answer = await tab.recv_until(HelpAnswer)
            csrf = await console_csrf(http)
            await http.post(f"/console/demo/sessions/{answer.session}/accept", data={"csrf": csrf})
            await tab.recv_until(HelpAnswer)  # "Ada from the team is with you now."
            session_page = await http.get(f"/console/demo/sessions/{answer.session}")
            assert "Close the session" in session_page.text
            before = await server.state.store.get_account("demo", "ada@acme.test")
            assert before is not None
            bad = await http.post(
                f"/console/demo/sessions/{answer.session}/close",
                data={"csrf": csrf, "outcome": "whatever"},
            )
            assert bad.status_code == 409
            closed = await http.post(
                f"/console/demo/sessions/{answer.session}/close",
                data={"csrf": csrf, "outcome": "resolved"},
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
            await greet(tab, "u-grace", "tab-route-chat")
            await tab.send(Help(req=1, question="please, a person", person=True))
            answer = await tab.recv_until(HelpAnswer)
            await tab.send(
                Chat(cseq=1, at=1, session=answer.session, text="too early")
            )  # nobody took it yet
            await tab.recv_until(Ack)
            csrf = await console_csrf(http)
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
        refused = await other.post(
            f"/console/demo/sessions/{answer.session}/chat",
            data={"csrf": await console_csrf(other), "text": "hi"},
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
            await greet(tab, "u-grace", "tab-route-push")
            await tab.send(Location(cseq=1, at=1, url="http://127.0.0.1:8001/team"))
            await tab.send(Help(req=1, question="please, a person", person=True))
            answer = await tab.recv_until(HelpAnswer)
            csrf = await console_csrf(http)
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


async def test_a_walkthrough_pushed_to_a_page_that_went_away_is_audited_and_its_run_abandoned(
    server: LiveServer,
) -> None:
    """The visitor's tab is still listed live (its node died a moment ago: the entry outlives
    it) but nobody holds its socket: the run that was started for it is marked abandoned, and the
    agent's failed push is in the audit log with that run."""
    import time

    from server.live import TabState
    from server.support.run import RunStatus
    from tests.integration.test_broker import eventually

    await agent(server, "ada@acme.test")
    async with client(server) as http:
        await sign_in(http, "demo", "ada@acme.test")
        await go_online(http)
        async with tab_client(server) as tab:
            await greet(tab, "u-grace", "tab-push-gone")
            await tab.send(Help(req=1, question="please, a person", person=True))
            answer = await tab.recv_until(HelpAnswer)
            csrf = await console_csrf(http)
            await http.post(f"/console/demo/sessions/{answer.session}/accept", data={"csrf": csrf})

        async def closed() -> bool:
            return ("demo", "tab-push-gone") not in server.state.tabs

        await eventually(closed, within=10)
        # What a node that died leaves behind: the tab's entry, held by a connection gone with it.
        now = int(time.time() * 1000)
        ghost = TabState(tab="tab-push-gone", conn="on-a-dead-node", connected_ms=now)
        assert await server.state.live.put("demo", "u-grace", ghost, take=True)
        pushed = await http.post(
            f"/console/demo/sessions/{answer.session}/push",
            data={"csrf": csrf, "walkthrough": "invite-teammate"},
        )
        assert pushed.status_code == 409
    audit = await server.state.store.read_audit("demo")
    failed = [e for e in audit if e.action == "walkthrough.push_failed"]
    assert [(e.target, e.actor, e.detail["walkthrough"]) for e in failed] == [
        (answer.session, "ada@acme.test", "invite-teammate")
    ]
    assert not [e for e in audit if e.action == "walkthrough.pushed"]
    stored = await server.state.store.get_run("demo", failed[0].detail["run"])
    assert stored is not None and stored.run.status is RunStatus.ABANDONED
