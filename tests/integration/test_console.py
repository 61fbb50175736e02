"""The console's sign-in and its first pages, on both stores: argon2 accounts made by
`tandem user add`, CSRF on every form, sign-ins limited, one site's account refused on
another site's pages, and the queue of referred visitors with each session's trail."""

from __future__ import annotations

import asyncio
import re

import httpx2
import pytest
from click.testing import CliRunner

from server.cli import main
from server.console.passwords import hash_password
from server.protocol.messages import Hello, Help, HelpAnswer, TokenIdentity, Welcome
from server.store.base import AccountRecord
from tests.integration.live_server import LiveServer, demo_token, tab_client

pytestmark = pytest.mark.anyio

PASSWORD = "correct horse battery staple"


def client(server: LiveServer) -> httpx2.AsyncClient:
    return httpx2.AsyncClient(base_url=server.url, follow_redirects=False)


async def csrf_of(http: httpx2.AsyncClient, path: str = "/console/login") -> str:
    page = await http.get(path)
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


async def sign_in(
    http: httpx2.AsyncClient, site: str, email: str, password: str = PASSWORD
) -> httpx2.Response:
    token = await csrf_of(http)
    return await http.post(
        "/console/login", data={"csrf": token, "site": site, "email": email, "password": password}
    )


async def add(server: LiveServer, site: str, email: str, role: str = "agent") -> None:
    await server.state.store.add_account(
        AccountRecord(
            site,
            email,
            email.split("@")[0].title(),
            role,
            hash_password(PASSWORD),
            ("team-admin",),
            2,
            1,
        )
    )


async def test_an_account_made_with_tandem_user_add_signs_in_and_out(
    server: LiveServer, store_url: str
) -> None:
    runner = CliRunner()
    made = await asyncio.to_thread(
        runner.invoke,
        main,
        ["user", "add", "Agent.Smith@Acme.test", "--site", "demo", "--name", "Agent Smith", "--role", "agent",
         "--skills", "team-admin,payments", "--password-stdin", "--store", store_url],
        input=PASSWORD + "\n",
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    again = await asyncio.to_thread(
        runner.invoke,
        main, ["user", "add", "agent.smith@acme.test", "--name", "X", "--password-stdin", "--store", store_url],
        input=PASSWORD + "\n",
    )  # fmt: skip
    assert again.exit_code != 0 and "already has an account" in again.output
    weak = await asyncio.to_thread(
        runner.invoke,
        main,
        ["user", "add", "b@acme.test", "--name", "B", "--password-stdin", "--store", store_url],
        input="short\n",
    )
    assert weak.exit_code != 0 and "at least 12" in weak.output
    stored = await server.state.store.get_account("demo", "agent.smith@acme.test")
    assert stored is not None and stored.skills == ("team-admin", "payments")
    assert stored.password_hash.startswith("$argon2id$") and PASSWORD not in stored.password_hash

    async with client(server) as http:
        signed = await sign_in(http, "demo", "AGENT.SMITH@acme.test")
        assert (signed.status_code, signed.headers["location"]) == (303, "/console/demo/")
        cookie = signed.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("samesite", "SameSite")
        page = await http.get("/console/demo/")
        assert page.status_code == 200 and "Agent Smith" in page.text
        token = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert token
        refused = await http.post("/console/logout", data={})
        assert refused.status_code == 403
        out = await http.post("/console/logout", data={"csrf": token.group(1)})
        assert (out.status_code, out.headers["location"]) == (303, "/console/login")
        http.cookies.clear()
        assert (await http.get("/console/demo/")).status_code == 303


async def test_console_pages_refuse_anonymous_visitors_and_forms_without_their_token(
    server: LiveServer,
) -> None:
    await add(server, "demo", "grace@acme.test")
    async with client(server) as http:
        anonymous = await http.get("/console/demo/")
        assert anonymous.status_code == 303
        assert anonymous.headers["location"].startswith("/console/login?next=")
        assert (await http.get("/console/demo/sessions/sess-x")).status_code == 303
        await csrf_of(http)
        forged = await http.post(
            "/console/login",
            data={"site": "demo", "email": "grace@acme.test", "password": PASSWORD},
        )
        assert forged.status_code == 403
        wrong_token = await http.post(
            "/console/login",
            data={
                "csrf": "not-the-token",
                "site": "demo",
                "email": "grace@acme.test",
                "password": PASSWORD,
            },
        )
        assert wrong_token.status_code == 403


async def test_failed_sign_ins_are_limited(server: LiveServer) -> None:
    await add(server, "demo", "alan@acme.test")
    async with client(server) as http:
        for _ in range(5):
            assert (
                await sign_in(http, "demo", "alan@acme.test", "wrong password!!")
            ).status_code == 401
        locked = await sign_in(http, "demo", "alan@acme.test")  # even the right password, for now
        assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 0
        unknown = await sign_in(http, "demo", "nobody@acme.test", "whatever password")
        assert unknown.status_code == 429  # the address is limited too


async def test_the_queue_lists_referred_visitors_and_an_agent_of_another_site_is_refused(
    server: LiveServer,
) -> None:
    await add(server, "demo", "ada@acme.test")
    await add(server, "shop", "sam@shop.test")
    await add(server, "demo", "writer@acme.test", role="author")
    async with tab_client(server) as tab:
        token = demo_token("u-ada")
        await tab.send(
            Hello(
                v=1,
                site="demo",
                tab="tab-console-aaaa",
                identity=TokenIdentity(user="u-ada", token=token),
            )
        )
        await tab.recv_until(Welcome)
        await tab.send(Help(req=1, question="my card keeps being refused", person=True))
        answer = await tab.recv_until(HelpAnswer)
    async with client(server) as http:
        await sign_in(http, "demo", "ada@acme.test")
        queue = await http.get("/console/demo/")
        assert answer.session in queue.text and "asked_for_human" in queue.text
        trail = await http.get(f"/console/demo/sessions/{answer.session}")
        assert trail.status_code == 200
        assert "my card keeps being refused" in trail.text and "asked_for_human" in trail.text
    async with client(server) as http:
        await sign_in(http, "shop", "sam@shop.test")
        assert (await http.get(f"/console/demo/sessions/{answer.session}")).status_code == 403
        assert (await http.get("/console/demo/")).status_code == 403
    async with client(server) as http:
        await sign_in(http, "demo", "writer@acme.test")
        assert (await http.get("/console/demo/")).status_code == 403  # the queue is for agents


async def test_what_accounts_do_in_the_console_is_audited_and_only_admins_read_it(
    server: LiveServer,
) -> None:
    await add(server, "demo", "boss@acme.test", role="admin")
    await add(server, "demo", "ada@acme.test")
    async with client(server) as http:
        await sign_in(http, "demo", "ada@acme.test", "not the password!")
        await sign_in(http, "demo", "ada@acme.test")
        await http.get("/console/demo/")
        await http.get("/console/demo/sessions/sess-nope")
        assert (await http.get("/console/demo/audit")).status_code == 403  # agents do not read it
    async with client(server) as http:
        await sign_in(http, "demo", "boss@acme.test")
        page = await http.get("/console/demo/audit")
        assert page.status_code == 200
    entries = await server.state.store.read_audit("demo")
    assert [(e.actor, e.action) for e in reversed(entries)] == [
        ("ada@acme.test", "sign_in_failed"),
        ("ada@acme.test", "signed_in"),
        ("boss@acme.test", "signed_in"),
        ("boss@acme.test", "audit.viewed"),
    ]
    assert "sign_in_failed" in page.text and all(
        e.detail["address"] == "127.0.0.1" for e in entries
    )


async def test_signing_out_ends_the_session_even_for_a_copied_cookie(server: LiveServer) -> None:
    await add(server, "demo", "ada@acme.test")
    async with client(server) as http:
        await sign_in(http, "demo", "ada@acme.test")
        copied = dict(http.cookies)
        page = await http.get("/console/demo/")
        token = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert token
        await http.post("/console/logout", data={"csrf": token.group(1)})
    async with client(server) as thief:
        thief.cookies.update(copied)
        assert (await thief.get("/console/demo/")).status_code == 303


async def test_sign_ins_sent_together_cannot_slip_under_the_limit(server: LiveServer) -> None:
    await add(server, "demo", "ada@acme.test")
    async with client(server) as http:
        token = await csrf_of(http)
        tries = [
            http.post(
                "/console/login",
                data={
                    "csrf": token,
                    "site": "demo",
                    "email": "ada@acme.test",
                    "password": f"wrong password {i}",
                },
            )
            for i in range(12)
        ]
        codes = sorted(r.status_code for r in await asyncio.gather(*tries))
    assert codes.count(401) <= 5 and codes.count(429) >= 7, codes


async def test_authors_and_admin_pages_refuse_anonymous_other_roles_other_sites_and_no_token(
    server: LiveServer,
) -> None:
    await add(server, "demo", "ann@acme.test", "author")
    await add(server, "demo", "ada@acme.test", "agent")
    await add(server, "shop", "sam@shop.test", "admin")
    pages = ["/console/demo/walkthroughs", "/console/demo/walkthroughs/invite-teammate", "/console/demo/admin",
             "/console/demo/faq", "/console/demo/personae", "/console/demo/analytics", "/console/demo/analytics.csv"]  # fmt: skip
    forms = [
        ("/console/demo/walkthroughs/invite-teammate/publish", {"version": "none"}),
        ("/console/demo/admin/processes/invite-teammate/threshold", {"threshold": "0.9"}),
        ("/console/demo/admin/visitors/export", {"user": "u-ada"}),
        ("/console/demo/admin/visitors/erase", {"user": "u-ada", "confirm": "yes"}),
        ("/console/demo/admin/frustration", {"what": "threshold", "value": "1"}),
        ("/console/demo/admin/agents/ada@acme.test", {"skills": "", "capacity": "9"}),
        ("/console/demo/admin/site/origins/add", {"origin": "https://evil.test"}),
        ("/console/demo/admin/channels/test", {"channel": "email"}),
    ]
    async with client(server) as anonymous:
        for path in pages:
            assert (await anonymous.get(path)).status_code == 303  # to sign in
        for path, data in forms:
            assert (await anonymous.post(path, data=data)).status_code in (303, 403)
    async with client(server) as sam:
        await sign_in(sam, "shop", "sam@shop.test")
        for path in pages:
            assert (await sam.get(path)).status_code == 403  # another site's admin
    async with client(server) as ada, client(server) as ann:
        await sign_in(ada, "demo", "ada@acme.test")
        await sign_in(ann, "demo", "ann@acme.test")
        for path in pages:
            assert (await ada.get(path)).status_code == 403  # an agent
        assert (await ann.get("/console/demo/walkthroughs")).status_code == 200
        assert (await ann.get("/console/demo/admin")).status_code == 403  # an author
        for path in ("/console/demo/faq", "/console/demo/personae", "/console/demo/analytics"):
            assert (await ann.get(path)).status_code == 200
        token = await csrf_of(ann, "/console/demo/walkthroughs")
        for path, data in forms[:1]:
            assert (await ann.post(path, data=data)).status_code == 403  # no CSRF token
        for path, data in forms[1:]:
            assert (await ann.post(path, data={**data, "csrf": token})).status_code == 403
    published = await server.state.store.walkthrough_index("demo")
    assert published["invite-teammate"] is not None  # nothing was unpublished
    assert "evil.test" not in (server.state.settings.content_dir / "demo" / "site.yaml").read_text()


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


async def test_an_admin_sets_an_agents_skills_and_capacity_checked_and_audited(
    server: LiveServer,
) -> None:
    await add(server, "demo", "boss@acme.test", "admin")
    await add(server, "demo", "ada@acme.test", "agent")
    async with client(server) as boss:
        await sign_in(boss, "demo", "boss@acme.test")
        token = await csrf_of(boss, "/console/demo/admin")
        page = await boss.get("/console/demo/admin")
        assert 'data-agent="ada@acme.test"' in page.text
        refused = await boss.post(
            "/console/demo/admin/agents/ada@acme.test",
            data={"csrf": token, "skills": "payments, juggling", "capacity": "3"},
        )
        assert refused.status_code == 400 and "juggling" in refused.text
        saved = await boss.post(
            "/console/demo/admin/agents/ada@acme.test",
            data={"csrf": token, "skills": "payments, invoices", "capacity": "5"},
        )
        assert saved.status_code == 303
        missing = await boss.post(
            "/console/demo/admin/agents/nobody@acme.test",
            data={"csrf": token, "skills": "payments", "capacity": "1"},
        )
        assert missing.status_code == 404
    ada = await server.state.store.get_account("demo", "ada@acme.test")
    assert ada is not None and (ada.skills, ada.capacity) == (("invoices", "payments"), 5)
    [entry] = [
        e for e in await server.state.store.read_audit("demo") if e.action == "admin.agent_changed"
    ]
    assert entry.target == "ada@acme.test" and entry.detail["before"]["capacity"] == 2


async def test_an_admin_tunes_the_frustration_rules_into_site_yaml(server: LiveServer) -> None:
    from server.support.frustration import SignalKind
    from server.web.frustration import rules_for

    await add(server, "demo", "boss@acme.test", "admin")
    site_file = server.state.settings.content_dir / "demo" / "site.yaml"
    original = site_file.read_text()
    async with client(server) as boss:
        await sign_in(boss, "demo", "boss@acme.test")
        page = await boss.get("/console/demo/admin")
        assert 'data-frustration="rage_click"' in page.text
        token = await csrf_of(boss, "/console/demo/admin")
        for what, value in (("rage_click", "6"), ("threshold", "10")):
            saved = await boss.post("/console/demo/admin/frustration", data={"csrf": token, "what": what, "value": value})  # fmt: skip
            assert saved.status_code == 303
        edited = site_file.read_text()
        refused = await boss.post("/console/demo/admin/frustration", data={"csrf": token, "what": "threshold", "value": "-1"})  # fmt: skip
        assert refused.status_code == 400 and "threshold" in refused.text
        for weird in ("nan", "inf", "-2"):
            odd = await boss.post("/console/demo/admin/frustration", data={"csrf": token, "what": "rage_click", "value": weird})  # fmt: skip
            assert odd.status_code == 400
        unknown = await boss.post("/console/demo/admin/frustration", data={"csrf": token, "what": "sneezing", "value": "1"})  # fmt: skip
        assert unknown.status_code == 400
    assert site_file.read_text() == edited and edited.startswith(original.rstrip("\n"))
    rules = rules_for(server.state.sites["demo"].config.frustration)
    assert (rules.threshold, rules.weights[SignalKind.RAGE_CLICK]) == (10.0, 6.0)  # in use now
    changes = [(e.target, e.detail["after"]) for e in await server.state.store.read_audit("demo") if e.action == "admin.frustration_changed"]  # fmt: skip
    assert sorted(changes) == [("rage_click", 6.0), ("threshold", 10.0)]


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


async def test_an_admin_adds_an_origin_and_rotates_a_signing_key(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from websockets.exceptions import InvalidStatus

    from server.protocol.messages import Error, Hello, TokenIdentity, Welcome
    from tests.integration.live_server import demo_token, tab_client

    monkeypatch.setenv("TANDEM_TEST_DEMO_KEY_2", "second-demo-key-at-least-32-bytes-long")
    await add(server, "demo", "boss@acme.test", "admin")
    async with client(server) as boss:
        await sign_in(boss, "demo", "boss@acme.test")
        token = await csrf_of(boss, "/console/demo/admin")

        async def post(what: str, **data: str) -> int:
            answer = await boss.post(
                f"/console/demo/admin/site/{what}", data={"csrf": token, **data}
            )
            return answer.status_code

        with pytest.raises(InvalidStatus):  # not an allowed origin yet
            async with tab_client(server, origin="https://app.acme.test"):
                pass
        assert await post("origins/add", origin="https://app.acme.test") == 303
        async with tab_client(server, origin="https://app.acme.test") as tab:
            await tab.send(Hello(v=1, site="demo", tab="tab-new-origin"))
            await tab.recv_until(Welcome)
        assert await post("origins/add", origin="not a url") == 400

        for taken in (
            "TANDEM_ADMIN_TOKEN",
            "PATH",
            "TANDEM_SECRET",
        ):  # the server's own, or not ours
            assert await post("keys/add", kid="demo-x", secret_env=taken) == 400
        assert await post("keys/add", kid="demo-2", secret_env="TANDEM_TEST_DEMO_KEY_2") == 303
        assert await post("keys/remove", kid="demo-1") == 303
        assert await post("keys/remove", kid="demo-1") == 404
    text = (server.state.settings.content_dir / "demo" / "site.yaml").read_text()
    assert "https://app.acme.test" in text and "kid: demo-2" in text and "kid: demo-1" not in text
    new = demo_token("u-rotated", kid="demo-2", secret="second-demo-key-at-least-32-bytes-long")
    old = demo_token("u-rotated")
    async with tab_client(server) as tab:
        await tab.send(
            Hello(
                v=1,
                site="demo",
                tab="tab-rotated-1",
                identity=TokenIdentity(user="u-rotated", token=new),
            )
        )
        assert (await tab.recv_until(Welcome)).user == "u-rotated"
    async with tab_client(server) as tab:
        await tab.send(
            Hello(
                v=1,
                site="demo",
                tab="tab-rotated-2",
                identity=TokenIdentity(user="u-rotated", token=old),
            )
        )
        assert (await tab.recv_until(Error)).code == "identity_refused"  # the old key is gone
    actions = [
        e.action
        for e in await server.state.store.read_audit("demo")
        if e.action.startswith("admin.")
    ]
    assert sorted(actions) == ["admin.keys_add", "admin.keys_remove", "admin.origins_add"]


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


async def test_an_admin_adds_changes_and_deletes_a_process_and_one_in_use_stays(
    server: LiveServer,
) -> None:
    await add(server, "demo", "boss@acme.test", "admin")
    processes_file = server.state.settings.content_dir / "demo" / "processes.yaml"
    original = processes_file.read_text()
    async with client(server) as boss:
        await sign_in(boss, "demo", "boss@acme.test")
        token = await csrf_of(boss, "/console/demo/admin")
        new = {"csrf": token, "id": "vat-report", "title": "Export a VAT report", "url_patterns": "/reports/vat",
               "goal_kind": "element", "goal_value": "[data-testid=vat-exported]"}  # fmt: skip
        assert (await boss.post("/console/demo/admin/processes/new", data=new)).status_code == 303
        found = server.state.sites["demo"].process("vat-report")
        assert found is not None and found.goal.element == "[data-testid=vat-exported]"
        assert (
            server.state.process_index("demo").resolve("http://127.0.0.1:8001/reports/vat", ())
            == "vat-report"
        )
        changed = {**new, "title": "VAT report", "url_patterns": "/reports/vat\n/reports/tax"}
        assert (
            await boss.post("/console/demo/admin/processes/vat-report/save", data=changed)
        ).status_code == 303
        found = server.state.sites["demo"].process("vat-report")
        assert found is not None and (found.title, found.url_patterns) == (
            "VAT report",
            ["/reports/vat", "/reports/tax"],
        )
        bad = await boss.post(
            "/console/demo/admin/processes/vat-report/save", data={**changed, "url_patterns": ""}
        )
        assert bad.status_code == 400  # a process needs a URL pattern
        in_use = await boss.post(
            "/console/demo/admin/processes/invite-teammate/save", data={**new, "delete": "yes"}
        )
        assert in_use.status_code == 400  # walkthroughs belong to it
        gone = await boss.post(
            "/console/demo/admin/processes/vat-report/save", data={**changed, "delete": "yes"}
        )
        assert gone.status_code == 303

    def spaced(text: str) -> str:  # a round trip writes flow maps as {a: b}: the same YAML
        return text.replace("{ ", "{").replace(" }", "}")

    assert spaced(processes_file.read_text()) == spaced(original)


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
