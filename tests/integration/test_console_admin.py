"""The console's admin pages, on both stores: who may reach them, the site's origins and keys,
processes, frustration rules and agents."""

from __future__ import annotations

import pytest

from tests.integration.live_server import LiveServer
from tests.integration.test_console import add, client, csrf_of, sign_in

pytestmark = pytest.mark.anyio


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
