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
