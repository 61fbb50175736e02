"""No agent online: the referral is emailed, with the handoff packet, through a real SMTP
server (aiosmtpd) — on both stores."""

from __future__ import annotations

import asyncio
import email
import json
import time
from collections.abc import AsyncIterator, Iterator
from email.message import Message
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from aiosmtpd.controller import Controller

from server.protocol.messages import Ack, Hello, Help, HelpAnswer, Location, TokenIdentity, Welcome
from server.settings import Settings
from tests.conftest import REPO, free_port
from tests.integration.live_server import (
    ADMIN_TOKEN,
    LiveServer,
    api,
    content_dir,
    demo_token,
    live_server,
    tab_client,
)

pytestmark = pytest.mark.anyio


class Inbox:
    """An aiosmtpd handler that keeps what it receives."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], Message]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((list(envelope.rcpt_tos), email.message_from_bytes(envelope.content)))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@pytest.fixture
async def mailing(
    store_url: str, tmp_path: Path, smtp: tuple[Inbox, int]
) -> AsyncIterator[LiveServer]:
    root = content_dir(tmp_path)
    site = root / "demo" / "site.yaml"
    site.write_text(site.read_text() + "channels:\n  email:\n    to: [support@acme.test]\n")
    settings = Settings(
        store_url=store_url, content_dir=root, admin_token=ADMIN_TOKEN, smtp_host="127.0.0.1",
        smtp_port=smtp[1], smtp_tls="none", smtp_from="tandem@acme.test",
    )  # fmt: skip
    async with live_server(settings) as live:
        yield live


async def test_a_referral_is_emailed_with_the_page_and_the_handoff_packet(
    mailing: LiveServer, smtp: tuple[Inbox, int]
) -> None:
    inbox, _ = smtp
    async with tab_client(mailing) as tab:
        token = demo_token("u-grace")
        await tab.send(
            Hello(
                v=1,
                site="demo",
                tab="tab-mail-aaaaaaa",
                identity=TokenIdentity(user="u-grace", token=token),
            )
        )
        await tab.recv_until(Welcome)
        await tab.send(
            Location(cseq=1, at=int(time.time() * 1000), url="http://127.0.0.1:8001/team/invite")
        )
        await tab.recv_until(Ack)
        await tab.send(Help(req=1, question="the invite button does nothing", person=True))
        answer = await tab.recv_until(HelpAnswer)
    deadline = time.monotonic() + 20
    while not inbox.messages:
        assert time.monotonic() < deadline, "no email arrived"
        await asyncio.sleep(0.05)
    [(to, message)] = inbox.messages
    assert to == ["support@acme.test"] and message["From"] == "tandem@acme.test"
    assert "u-grace needs a person (asked_for_human)" in message["Subject"]
    assert message["X-Tandem-Session"] == answer.session
    parts = list(message.walk())
    body = next(p for p in parts if p.get_content_type() == "text/plain").get_payload(decode=True)
    assert b"Page identifier: invite-teammate" in body and b"the invite button does nothing" in body
    attached = next(p for p in parts if p.get_filename() == "handoff.json").get_payload(decode=True)
    assert isinstance(attached, bytes)
    packet = json.loads(attached)
    schema = json.loads((REPO / "docs" / "schemas" / "handoff.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(packet)
    assert (packet["session"], packet["location"]["process"]) == (answer.session, "invite-teammate")
    deadline = time.monotonic() + 10
    while True:
        items = (await api(mailing, "/api/users/demo/u-grace/profile")).json()["support_items"]
        handoffs = [i["payload"] for i in items if i["kind"] == "handoff"]
        if handoffs:
            break
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    assert handoffs == [
        {
            "session": answer.session,
            "channel": "email",
            "delivered": True,
            "to": ["support@acme.test"],
            "error": "",
        }
    ]


async def test_a_visitor_waiting_when_the_last_agent_goes_away_is_emailed_after_all(
    mailing: LiveServer, smtp: tuple[Inbox, int]
) -> None:
    from tests.integration.test_agent_routing import agent, go_online
    from tests.integration.test_agent_sessions import console_csrf, greet
    from tests.integration.test_console import client, sign_in

    inbox, _ = smtp
    await agent(mailing, "ada@acme.test", capacity=1)
    async with client(mailing) as http:
        await sign_in(http, "demo", "ada@acme.test")
        await go_online(http)
        async with tab_client(mailing) as grace, tab_client(mailing) as alan:
            await greet(grace, "u-grace", "tab-grace-waits-1")
            await grace.send(Help(req=1, person=True))
            first = await grace.recv_until(HelpAnswer)
            csrf = await console_csrf(http)
            taken = await http.post(
                f"/console/demo/sessions/{first.session}/accept", data={"csrf": csrf}
            )
            assert taken.status_code == 303
            await greet(alan, "u-alan", "tab-alan-waits-1")
            await alan.send(Help(req=1, person=True))
            waiting = await alan.recv_until(HelpAnswer)
            assert waiting.queue.get("position") == 1 and waiting.channel != "email"
            assert inbox.messages == []  # an agent is online: nobody is emailed yet

            await go_online(http, "offline")  # Ada leaves for the day; Alan still waits
            told = await alan.recv_until(HelpAnswer)
            assert (told.session, told.channel) == (waiting.session, "email")
    deadline = time.monotonic() + 20
    while not inbox.messages:
        assert time.monotonic() < deadline, "no email arrived"
        await asyncio.sleep(0.05)
    [(_, message)] = inbox.messages
    assert message["X-Tandem-Session"] == waiting.session
    assert [
        a
        for a in await mailing.state.store.open_assignments("demo")
        if a.session == waiting.session
    ] == []
    audit = await mailing.state.store.read_audit("demo", limit=50)
    assert [(e.action, e.target, e.detail) for e in audit if e.action == "assignment.fallback"] == [
        ("assignment.fallback", waiting.session, {"channel": "email"})
    ]


async def test_an_admin_sends_a_test_to_the_sites_webhook_and_email(
    store_url: str, tmp_path: Path, smtp: tuple[Inbox, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    import re

    from server.channels.webhook import verify
    from tests.integration.test_console import add, client, csrf_of, sign_in
    from tests.webhook_receiver import webhook_receiver

    inbox, port = smtp
    monkeypatch.setenv("TANDEM_TEST_HOOK_SECRET", "hook-secret-for-the-test")
    with webhook_receiver() as receiver:
        root = content_dir(tmp_path)
        site = root / "demo" / "site.yaml"
        site.write_text(
            site.read_text() + "channels:\n  email:\n    to: [support@acme.test]\n"
            f"  webhook:\n    url: {receiver.url}/hook\n    secret_env: TANDEM_TEST_HOOK_SECRET\n"
        )
        settings = Settings(
            store_url=store_url, content_dir=root, admin_token=ADMIN_TOKEN, smtp_host="127.0.0.1",
            smtp_port=port, smtp_tls="none", smtp_from="tandem@acme.test",
        )  # fmt: skip
        async with live_server(settings) as server:
            await add(server, "demo", "boss@acme.test", "admin")
            async with client(server) as boss:
                await sign_in(boss, "demo", "boss@acme.test")
                page = await boss.get("/console/demo/admin")
                assert (
                    "Send a test to the webhook" in page.text and "Send a test email" in page.text
                )
                token = await csrf_of(boss, "/console/demo/admin")
                for channel in ("webhook", "email"):
                    sent = await boss.post("/console/demo/admin/channels/test", data={"csrf": token, "channel": channel})  # fmt: skip
                    assert sent.status_code == 303
                    notice = (await boss.get(sent.headers["location"])).text
                    assert re.search(r"Test of the (webhook|email): (delivered|sent)", notice), (
                        notice
                    )
            [request] = receiver.requests
            assert json.loads(request.body)["triggers"] == ["test"]
            signature = next(
                v for k, v in request.headers.items() if k.lower() == "tandem-signature"
            )
            assert verify(
                b"hook-secret-for-the-test", signature, request.body, now_s=int(time.time())
            )
            [(to, message)] = inbox.messages
            assert to == ["support@acme.test"] and message["X-Tandem-Session"].startswith("test-")
            actions = [e.detail["outcome"] for e in await server.state.store.read_audit("demo") if e.action == "admin.channel_tested"]  # fmt: skip
            assert len(actions) == 2
