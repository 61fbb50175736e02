"""The console's pages for authors, on both stores: FAQ, personae, roles and skills, analytics, a
walkthrough's verification."""

from __future__ import annotations

import re

import pytest

from tests.integration.live_server import LiveServer
from tests.integration.test_console import add, client, csrf_of, sign_in

pytestmark = pytest.mark.anyio


async def test_support_analytics_per_process_as_a_page_and_as_csv(server: LiveServer) -> None:
    import time as clock

    store = server.state.store
    now = int(clock.time() * 1000)
    await store.upsert_profile("demo", "u-an", {}, now_ms=now)
    for session, score, referral in (("s-a", 0.9, None), ("s-b", 0.2, "abandoned")):
        await store.append_support_item(
            "demo", "u-an", "support_session", at_ms=now,
            payload={"session": session, "offer": "walkthrough", "persona": "guide",
                     "place": {"process": "invite-teammate"}},
        )  # fmt: skip
        await store.append_support_item(
            "demo", "u-an", "support_session", at_ms=now,
            payload={"session": session, "effectiveness": {"score": score, "below_threshold": bool(referral), "reason": referral}},
        )  # fmt: skip
    await store.append_support_item(
        "demo", "u-an", "support_session", at_ms=now, payload={"session": "s-b", "referral": {"triggers": ["below_threshold"]}}
    )  # fmt: skip
    await add(server, "demo", "ann@acme.test", "author")
    async with client(server) as ann:
        await sign_in(ann, "demo", "ann@acme.test")
        shown = await ann.get("/console/demo/analytics")
        assert shown.status_code == 200
        row = re.search(r'<tr data-group="invite-teammate">(.*?)</tr>', shown.text, re.S)
        assert row and "<td data-sessions>2</td>" in row.group(1)
        assert "<td data-mean>0.55</td>" in row.group(
            1
        ) and "<td data-referred>50%</td>" in row.group(1)
        assert "abandoned 1" in row.group(1)
        long_ago = await ann.get("/console/demo/analytics?since=2020-01-01&until=2020-01-31")
        assert 'data-group="invite-teammate"' not in long_ago.text
        exported = await ann.get("/console/demo/analytics.csv")
        assert exported.headers["content-type"].startswith("text/csv")
        lines = exported.text.splitlines()
        assert lines[0].startswith("process,sessions,scored,mean_score,referral_rate")
        assert lines[1].startswith("invite-teammate,2,2,0.55,0.5")
        assert lines[-1].startswith("all,2,2")
        by_persona = await ann.get("/console/demo/analytics.csv?by=persona")
        assert by_persona.text.splitlines()[1].startswith("guide,2")
    async with client(server) as anonymous:
        assert (await anonymous.get("/console/demo/analytics.csv")).status_code == 303


async def test_an_author_adds_changes_and_deletes_faq_entries_and_help_answers_with_them(
    server: LiveServer,
) -> None:
    await add(server, "demo", "ann@acme.test", "author")
    faq_file = server.state.settings.content_dir / "demo" / "faq.yaml"
    original = faq_file.read_text()
    store = server.state.store
    async with client(server) as ann:
        await sign_in(ann, "demo", "ann@acme.test")
        assert 'data-entry="export-csv"' in (await ann.get("/console/demo/faq")).text
        token = await csrf_of(ann, "/console/demo/faq")
        new = {"csrf": token, "id": "vat", "questions": "Do prices include VAT?\nIs tax included?",
               "answer": "Prices exclude **VAT**; it is added at checkout.", "processes": "add-payment-method"}  # fmt: skip
        assert (await ann.post("/console/demo/faq", data=new)).status_code == 303
        [hit, *_] = await store.search_faq("demo", "is VAT included in the price")
        assert hit.entry == "vat"
        changed = {**new, "answer": "No: VAT is added at checkout."}
        assert (await ann.post("/console/demo/faq/vat", data=changed)).status_code == 303
        assert "No: VAT is added at checkout." in faq_file.read_text()
        twice = await ann.post("/console/demo/faq", data={**new, "id": "invite"})
        assert twice.status_code == 400  # an id used twice: refused, the file as it was
        assert (
            await ann.post("/console/demo/faq/vat/delete", data={"csrf": token})
        ).status_code == 303
    assert faq_file.read_text() == original
    assert all(h.entry != "vat" for h in await store.search_faq("demo", "is VAT included"))
    actions = [e.action for e in await store.read_audit("demo") if e.action.startswith("faq.")]
    assert sorted(actions) == ["faq.added", "faq.changed", "faq.deleted"]


async def test_an_author_changes_a_persona_s_voice_and_the_next_answer_speaks_so(
    server: LiveServer,
) -> None:
    from server.protocol.messages import Help, HelpAnswer, Location
    from tests.integration.live_server import tab_client
    from tests.integration.test_agent_sessions import greet

    await add(server, "demo", "ann@acme.test", "author")
    async with client(server) as ann:
        await sign_in(ann, "demo", "ann@acme.test")
        page = await ann.get("/console/demo/personae")
        assert 'data-persona="guide"' in page.text
        token = await csrf_of(ann, "/console/demo/personae")
        guide = {"csrf": token, "name": "Robin", "avatar": "🧭",
                 "voice_offer_walkthrough": "Robin here: let me show you **{{ offer.title }}**."}  # fmt: skip
        assert (await ann.post("/console/demo/personae/guide", data=guide)).status_code == 303
        bad = await ann.post("/console/demo/personae/guide", data={**guide, "name": ""})
        assert bad.status_code == 400
    async with tab_client(server) as tab:
        await greet(tab, "u-newcomer", "tab-persona-voice")
        await tab.send(Location(cseq=1, at=1, url="http://127.0.0.1:8001/team"))
        await tab.send(Help(req=1, question="how do I invite a colleague?"))
        answer = await tab.recv_until(HelpAnswer)
    assert answer.persona["name"] == "Robin"
    assert answer.text == "Robin here: let me show you **Invite a teammate**."


async def test_the_walkthrough_page_shows_the_latest_verification(server: LiveServer) -> None:
    from server.store.base import Verification

    await server.state.store.add_verification(
        Verification("demo", "invite-teammate", 1, 1_795_000_000_000, "https://staging.acme.test", False,
                     [{"step": "open-form", "status": "found", "strategy": "testid", "similarity": 1.0, "detail": ""},
                      {"step": "name", "status": "not_found", "strategy": None, "similarity": 0.0, "detail": ""}])
    )  # fmt: skip
    await add(server, "demo", "ann@acme.test", "author")
    async with client(server) as ann:
        await sign_in(ann, "demo", "ann@acme.test")
        shown = (await ann.get("/console/demo/walkthroughs/invite-teammate")).text
    assert 'data-verified="fail"' in shown and "https://staging.acme.test" in shown
    assert "open-form: found by testid, similarity 1.00" in shown and "name: not_found" in shown


async def test_an_author_adds_changes_and_deletes_skills_and_roles_in_use_stay(
    server: LiveServer,
) -> None:
    await add(server, "demo", "ann@acme.test", "author")
    async with client(server) as ann:
        await sign_in(ann, "demo", "ann@acme.test")
        page = await ann.get("/console/demo/personae")
        assert 'data-role="onboarding-guide"' in page.text and 'data-skill="payments"' in page.text
        token = await csrf_of(ann, "/console/demo/personae")
        added = await ann.post("/console/demo/skills/new", data={"csrf": token, "id": "tax", "title": "Taxes", "processes": "add-payment-method"})  # fmt: skip
        assert added.status_code == 303
        changed = await ann.post(
            "/console/demo/skills/tax/save", data={"csrf": token, "title": "Taxes and VAT"}
        )
        assert changed.status_code == 303
        assert [
            (s.title, s.processes) for s in server.state.sites["demo"].skills if s.id == "tax"
        ] == [("Taxes and VAT", [])]
        gone = await ann.post(
            "/console/demo/skills/tax/save", data={"csrf": token, "title": "x", "delete": "yes"}
        )
        assert gone.status_code == 303 and all(
            s.id != "tax" for s in server.state.sites["demo"].skills
        )
        in_use = await ann.post("/console/demo/roles/onboarding-guide/save", data={"csrf": token, "title": "x", "delete": "yes"})  # fmt: skip
        assert in_use.status_code == 400  # a persona plays it
    actions = sorted(
        e.action
        for e in await server.state.store.read_audit("demo")
        if e.action.startswith("skill.")
    )
    assert actions == ["skill.added", "skill.changed", "skill.deleted"]


async def test_an_author_changes_who_a_persona_is_chosen_for(server: LiveServer) -> None:
    await add(server, "demo", "ann@acme.test", "author")
    async with client(server) as ann:
        await sign_in(ann, "demo", "ann@acme.test")
        page = await ann.get("/console/demo/personae")
        assert "min_failures: 1" in page.text  # the coach's rule, as written
        token = await csrf_of(ann, "/console/demo/personae")
        coach = {"csrf": token, "name": "Alex", "avatar": "🤝", "select_when": "- min_failures: 2\n- traits: {plan: [enterprise]}\n"}  # fmt: skip
        assert (await ann.post("/console/demo/personae/coach", data=coach)).status_code == 303
        for broken in ("- min_failures: [", "just words", "- shoe_size: 44"):
            refused = await ann.post(
                "/console/demo/personae/coach", data={**coach, "select_when": broken}
            )
            assert refused.status_code == 400
    [found] = [p for p in server.state.sites["demo"].personae if p.id == "coach"]
    assert [r.model_dump(exclude_none=True, exclude_defaults=True) for r in found.select_when] == [
        {"min_failures": 2}, {"traits": {"plan": ["enterprise"]}}
    ]  # fmt: skip
