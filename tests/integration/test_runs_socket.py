"""Walkthrough runs over the tab socket on both stores: offers, start, step events, resume after a reload."""

from __future__ import annotations

import time

import pytest

from server.protocol.messages import (
    Ack,
    Error,
    Hello,
    Launcher,
    Location,
    Offers,
    Resume,
    RunMessage,
    Start,
    Step,
    TokenIdentity,
    Welcome,
)
from tests.integration.live_server import (
    ADMIN_TOKEN,
    LiveServer,
    TabClient,
    api,
    demo_token,
    tab_client,
)

pytestmark = [pytest.mark.anyio, pytest.mark.store]

TAB = "tab-runs-aaaaaaaa"
BASE = "http://127.0.0.1:8001"


def now() -> int:
    return int(time.time() * 1000)


async def connect(
    tab: TabClient, user: str = "u-ada", *, url: str = f"{BASE}/team/invite", cseq: int = 1
) -> None:
    token = demo_token(user, traits={"first_name": user.removeprefix("u-").title()})
    await tab.send(
        Hello(
            v=1,
            site="demo",
            tab=TAB if user == "u-ada" else TAB + "x",
            identity=TokenIdentity(user=user, token=token),
        )
    )
    await tab.recv_until(Welcome)
    await tab.send(Location(cseq=cseq, at=now(), url=url))
    await tab.recv_until(Ack)


async def test_offers_start_steps_and_resume(server: LiveServer) -> None:
    async with tab_client(server) as tab:
        await connect(tab)
        await tab.send(Launcher(req=1))
        offers = await tab.recv_until(Offers)
        assert (offers.req, [o.walkthrough for o in offers.walkthroughs], offers.resume) == (
            1,
            ["invite-teammate"],
            "",
        )

        await tab.send(Start(req=2, walkthrough="invite-teammate"))
        run = await tab.recv_until(RunMessage)
        assert (run.req, run.walkthrough, run.version, run.step, run.status) == (
            2,
            "invite-teammate",
            1,
            "open-form",
            "active",
        )
        message = next(s for s in run.steps if s["id"] == "message")
        assert (
            message["action"]["value"] == "Hi! Ada here: join me on Acme Billing."
        )  # filled from the token's traits

        cseq = 1
        for step in ("open-form", "name"):
            for event in ("shown", "completed"):
                cseq += 1
                await tab.send(
                    Step(
                        cseq=cseq, at=now(), run=run.run, step=step, event=event, strategy="testid"
                    )
                )
                assert (await tab.recv_until(Ack)).upto == cseq
        cseq += 1
        await tab.send(
            Step(cseq=cseq, at=now(), run=run.run, step="send", event="completed")
        )  # not the current step
        await tab.recv_until(Ack)  # stored all the same, as an observation

        await tab.send(Launcher(req=3))
        assert (await tab.recv_until(Offers)).resume == run.run

    async with tab_client(server) as reloaded:  # a reload: same tab, new connection
        await connect(reloaded, cseq=cseq + 1)
        await reloaded.send(Resume(req=4, run=run.run))
        resumed = await reloaded.recv_until(RunMessage)
        assert (resumed.req, resumed.run, resumed.step, resumed.version) == (4, run.run, "email", 1)

    events = (await api(server, "/api/users/demo/u-ada/events?kind=step")).json()["events"]
    assert [e["payload"]["applied"] for e in events] == [
        "yes",
        "yes",
        "yes",
        "yes",
        "not_current_step",
    ]
    assert {e["payload"]["walkthrough"] for e in events} == {"invite-teammate"}

    funnel = (await api(server, "/api/sites/demo/walkthroughs/invite-teammate/funnel")).json()
    rows = {row["step"]: row for row in funnel["steps"]}
    assert (
        rows["open-form"]["shown"],
        rows["open-form"]["completed"],
        rows["open-form"]["strategies"],
    ) == (1, 1, {"testid": 1})
    assert (rows["email"]["shown"], rows["email"]["drop_off"]) == (0, 0)
    assert [r["step"] for r in funnel["steps"]] == [
        "open-form",
        "name",
        "email",
        "role",
        "message",
        "send",
    ]
    assert (await api(server, "/api/sites/demo/walkthroughs/nope/funnel")).status_code == 404


async def test_no_offers_where_no_walkthrough_applies(server: LiveServer) -> None:
    async with tab_client(server) as tab:
        await connect(tab, url=f"{BASE}/settings")
        await tab.send(Launcher(req=1))
        assert (await tab.recv_until(Offers)).walkthroughs == []


async def test_unknown_walkthrough_and_runs_of_others_are_refused(server: LiveServer) -> None:
    async with tab_client(server) as ada:
        await connect(ada)
        await ada.send(Start(req=1, walkthrough="nope"))
        refused = await ada.recv_until(Error)
        assert (refused.code, refused.req) == ("unknown_walkthrough", 1)
        await ada.send(Start(req=2, walkthrough="invite-teammate"))
        run = await ada.recv_until(RunMessage)
    async with tab_client(server) as grace:
        await connect(grace, "u-grace")
        await grace.send(Resume(req=3, run=run.run))
        other = await grace.recv_until(Error)
        assert other.code == "unknown_run"
        await grace.send(Resume(req=4, run="run-doesnotexist1234"))
        assert (await grace.recv_until(Error)).code == "unknown_run"


async def test_help_at_a_process_offers_its_walkthrough_in_the_personas_voice(
    server: LiveServer,
) -> None:
    from server.protocol.messages import Help, HelpAnswer

    async with tab_client(server) as tab:
        await connect(tab)
        await tab.send(Help(req=5))
        answer = await tab.recv_until(HelpAnswer)
        assert (answer.req, answer.offer, answer.walkthrough, answer.title) == (
            5,
            "walkthrough",
            "invite-teammate",
            "Invite a teammate",
        )
        assert answer.persona == {"id": "guide", "name": "Robin", "avatar": "🧭"}  # a new visitor
        assert answer.text == "I can show you how to **Invite a teammate**, step by step."
        assert answer.session.startswith("sess-")

        await tab.send(Location(cseq=2, at=now(), url=f"{BASE}/settings"))
        await tab.recv_until(Ack)
        await tab.send(Help(req=6, question="How do I export my invoices?"))
        faq = await tab.recv_until(HelpAnswer)
        assert faq.offer == "faq" and faq.faq[0]["id"] == "export-csv"
        assert faq.persona["id"] == "assistant"  # a returning visitor with no matching rule
    profile = (await api(server, "/api/users/demo/u-ada/profile")).json()
    items = profile["support_items"]
    assert [i["kind"] for i in items] == ["support_session", "support_session"]
    first = items[0]["payload"]
    assert (first["offer"], first["persona"], first["place"]) == (
        "walkthrough",
        "guide",
        {"process": "invite-teammate", "url_pattern": None},
    )
    assert [r["code"] for r in first["reasons"]] == ["persona_rule_matched", "first_request"]
    second = items[1]["payload"]
    assert (second["place"], second["question"]) == (
        {"process": None, "url_pattern": "/settings"},
        "How do I export my invoices?",
    )


async def test_help_from_the_sites_backend_reaches_the_visitors_tab(server: LiveServer) -> None:
    import httpx2

    from server.protocol.messages import HelpAnswer

    async with tab_client(server) as tab:
        await connect(tab)
        async with httpx2.AsyncClient(
            base_url=server.url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
        ) as client:
            response = await client.post(
                "/api/sites/demo/help", json={"user_id": "u-ada", "question": "invite a colleague"}
            )
            assert (
                await client.post("/api/sites/demo/help", json={"question": "x"})
            ).status_code == 400
            nul = await client.post(
                "/api/sites/demo/help", json={"user_id": "u-ada", "question": "a\x00b"}
            )
            assert nul.status_code == 400 and "NUL" in nul.json()["error"]
        body = response.json()
        assert response.status_code == 200
        assert (body["offer"], body["walkthrough"], body["delivered_to"]) == (
            "walkthrough",
            "invite-teammate",
            TAB,
        )
        pushed = await tab.recv_until(HelpAnswer)
        assert pushed.session == body["session"]


async def test_a_walkthrough_finished_from_a_help_answer_is_not_offered_again(
    server: LiveServer,
) -> None:
    from server.protocol.messages import Help, HelpAnswer

    async with tab_client(server) as tab:
        await connect(tab)
        await tab.send(Help(req=1))
        first = await tab.recv_until(HelpAnswer)
        assert first.walkthrough == "invite-teammate"
        await tab.send(Start(req=2, walkthrough="invite-teammate", session=first.session))
        run = await tab.recv_until(RunMessage)
        cseq = 1
        for step in [s["id"] for s in run.steps]:
            cseq += 1
            await tab.send(Step(cseq=cseq, at=now(), run=run.run, step=step, event="completed"))
            await tab.recv_until(Ack)
        await tab.send(Help(req=3))
        second = await tab.recv_until(HelpAnswer)
    assert second.offer == "faq"  # the process's only walkthrough is done: its FAQ answer instead
    assert second.faq and second.faq[0]["id"] == "invite"
    items = (await api(server, "/api/users/demo/u-ada/profile")).json()["support_items"]
    asked = [i for i in items if "offer" in i["payload"]]  # not the scores of the first session
    assert asked[-1]["payload"]["reasons"][-1]["code"] == "all_completed"


async def test_starting_with_someone_elses_session_does_not_join_it(server: LiveServer) -> None:
    async with tab_client(server) as tab:
        await connect(tab)
        await tab.send(Start(req=1, walkthrough="invite-teammate", session="sess-not-mine"))
        run = await tab.recv_until(RunMessage)
    async with tab_client(server) as again:
        await connect(again, cseq=5)
        await again.send(Resume(req=2, run=run.run))
        assert (await again.recv_until(RunMessage)).run == run.run


async def test_a_support_session_explains_itself(server: LiveServer) -> None:
    from server.protocol.messages import Help, HelpAnswer

    async with tab_client(server) as tab:
        await connect(tab)
        await tab.send(Help(req=1, question="invite someone"))
        answer = await tab.recv_until(HelpAnswer)
        await tab.send(Start(req=2, walkthrough="invite-teammate", session=answer.session))
        run = await tab.recv_until(RunMessage)
        await tab.send(Step(cseq=2, at=now(), run=run.run, step="open-form", event="completed"))
        await tab.recv_until(Ack)
    trail = (await api(server, f"/api/sites/demo/support-sessions/{answer.session}")).json()
    assert (trail["user"], trail["persona"], trail["offer"]["kind"]) == (
        "u-ada",
        "guide",
        "walkthrough",
    )
    assert trail["asked"]["question"] == "invite someone"
    assert [r["code"] for r in trail["reasons"]] == ["persona_rule_matched", "first_request"]
    [started] = trail["runs"]
    assert (started["run"], started["step"], started["completed_steps"]) == (
        run.run,
        "name",
        ["open-form"],
    )
    assert (await api(server, "/api/sites/demo/support-sessions/sess-nope")).status_code == 404


async def test_a_run_from_a_help_answer_speaks_in_that_personas_voice(server: LiveServer) -> None:
    from server.protocol.messages import Help, HelpAnswer

    async with tab_client(server) as tab:
        await connect(tab)
        await tab.send(Help(req=1))
        answer = await tab.recv_until(HelpAnswer)
        assert answer.persona["id"] == "guide"
        await tab.send(Start(req=2, walkthrough="invite-teammate", session=answer.session))
        run = await tab.recv_until(RunMessage)
        assert run.steps[0]["text"] == "Let's invite someone! Click **Invite a teammate** to start."
        assert run.persona == {"id": "guide", "name": "Robin", "avatar": "🧭"}
        await tab.send(Resume(req=3, run=run.run))
        resumed = await tab.recv_until(RunMessage)
        assert resumed.steps[0]["text"] == run.steps[0]["text"]  # after a reload, the same voice
        await tab.send(Start(req=4, walkthrough="invite-teammate"))
        plain = await tab.recv_until(RunMessage)
    assert plain.steps[0]["text"] == "Click **Invite a teammate** to open the invitation form."
    assert plain.persona == {}


async def test_how_a_run_ended_goes_to_the_profile(server: LiveServer) -> None:
    async with tab_client(server) as tab:
        await connect(tab)
        await tab.send(Start(req=1, walkthrough="invite-teammate"))
        done = await tab.recv_until(RunMessage)
        cseq = 1
        for step in [s["id"] for s in done.steps]:
            cseq += 1
            await tab.send(Step(cseq=cseq, at=now(), run=done.run, step=step, event="completed"))
            await tab.recv_until(Ack)
        await tab.send(Start(req=2, walkthrough="invite-teammate"))
        closed = await tab.recv_until(RunMessage)
        await tab.send(
            Step(cseq=cseq + 1, at=now(), run=closed.run, step="open-form", event="completed")
        )
        await tab.send(
            Step(
                cseq=cseq + 2,
                at=now(),
                run=closed.run,
                step="name",
                event="abandoned",
                reason="closed",
            )
        )
        await tab.recv_until(Ack)
        # An event after the end changes nothing and records nothing more.
        await tab.send(
            Step(cseq=cseq + 3, at=now(), run=closed.run, step="name", event="completed")
        )
        await tab.recv_until(Ack)
    items = (await api(server, "/api/users/demo/u-ada/profile")).json()["support_items"]
    ended = [i for i in items if i["kind"] == "walkthrough_run"]
    assert [(i["payload"]["run"], i["payload"]["status"], i["failure"]) for i in ended] == [
        (done.run, "completed", False),
        (closed.run, "abandoned", True),
    ]
    assert ended[0]["payload"]["completed_steps"] == [s["id"] for s in done.steps]
    assert (ended[1]["payload"]["step"], ended[1]["failure_reason"]) == ("name", "closed")
