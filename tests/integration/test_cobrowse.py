"""The co-browse session over real sockets, on both stores: the visitor's consent, the mirror
re-checked and streamed (snapshot + tail to a joining agent, only the gap to one coming back),
control asked, granted, used and revoked, the agents' socket refused to strangers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx2
import msgspec
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Origin

from server.protocol.agent import (
    Act,
    AgentServerMessage,
    ControlRequest,
    Events,
    Join,
    Refused,
    Replay,
    Result,
    Status,
)
from server.protocol.messages import (
    Cobrowse,
    Consent,
    Help,
    HelpAnswer,
    Mirror,
    MirrorEvent,
    Remote,
    RemoteDone,
    RunMessage,
    Start,
    Step,
)
from tests.integration.live_server import LiveServer, TabClient, tab_client
from tests.integration.test_agent_routing import agent, go_online
from tests.integration.test_agent_sessions import console_csrf, greet
from tests.integration.test_console import add, client, sign_in

pytestmark = pytest.mark.anyio

CANARIES = ("CANARY-VALUE", "CANARY-PLACEHOLDER", "CANARY-TITLE", "CANARY-HIDDEN", "CANARY-PRIVATE",
            "CANARY-MASKED", "CANARY-FORGED", "CANARY-ARIA")  # fmt: skip


def as_events(*raw: dict[str, Any]) -> list[MirrorEvent]:
    return [msgspec.convert(e, MirrorEvent) for e in raw]


def page_snapshot() -> list[MirrorEvent]:
    """What rrweb sends first (Meta + FullSnapshot) for a small page — as a modified client could
    send it, without the page's masking: every canary in it must be gone before an agent sees it."""

    def el(id_: int, tag: str, attrs: dict[str, Any], *children: dict[str, Any]) -> dict[str, Any]:
        return {"type": 2, "id": id_, "tagName": tag, "attributes": attrs, "childNodes": list(children)}  # fmt: skip

    def text(id_: int, value: str) -> dict[str, Any]:
        return {"type": 3, "id": id_, "textContent": value}

    body = el(
        4, "body", {},
        el(5, "h1", {"onclick": "steal()"}, text(6, "Invite a teammate")),
        el(7, "input", {"value": "CANARY-VALUE", "placeholder": "CANARY-PLACEHOLDER", "title": "CANARY-TITLE",
                        "aria-label": "CANARY-ARIA"}),
        el(8, "input", {"type": "hidden", "value": "CANARY-HIDDEN"}),
        el(9, "input", {"type": "password", "value": "CANARY-PRIVATE"}),
        el(10, "textarea", {}, text(11, "CANARY-MASKED")),
        el(12, "button", {}, text(13, "Send invite")),
        el(14, "a", {"href": "javascript:steal()"}, text(15, "link")),
        el(16, "script", {"src": "https://evil.test/x.js"}, text(17, "steal()")),
    )  # fmt: skip
    document = {"type": 0, "id": 1, "childNodes": [el(2, "html", {}, el(3, "head", {}), body)]}
    return as_events(
        {"type": 4, "data": {"href": "https://acme.test/team/invite?token=CANARY-VALUE", "width": 800, "height": 600}, "timestamp": 1000},
        {"type": 2, "data": {"node": document, "initialOffset": {"left": 0, "top": 0}}, "timestamp": 1001},
    )  # fmt: skip


def input_event(node: int, text: str, at: int = 2000) -> MirrorEvent:
    return msgspec.convert({"type": 3, "data": {"source": 5, "id": node, "text": text, "isChecked": False}, "timestamp": at}, MirrorEvent)  # fmt: skip


class AgentClient:
    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.received: list[bytes] = []

    async def send(self, message: msgspec.Struct) -> None:
        await self.ws.send(msgspec.msgpack.encode(message))

    async def recv_until(self, kind: Any, within: float = 10) -> Any:
        import asyncio

        while True:
            frame = await asyncio.wait_for(self.ws.recv(), within)
            assert isinstance(frame, bytes)
            self.received.append(frame)
            message = msgspec.msgpack.decode(frame, type=AgentServerMessage)
            if isinstance(message, kind):
                return message


@contextlib.asynccontextmanager
async def live_view(
    server: LiveServer, http: httpx2.AsyncClient, session: str, *, origin: str | None = None
) -> AsyncIterator[AgentClient]:
    cookie = "; ".join(f"{k}={v}" for k, v in http.cookies.items())
    url = server.url.replace("http://", "ws://") + f"/console/demo/sessions/{session}/live"
    async with connect(
        url,
        origin=Origin(origin or server.url),
        additional_headers={"Cookie": cookie},
        max_size=None,
    ) as ws:
        yield AgentClient(ws)


async def referred_and_taken(server: LiveServer, http: httpx2.AsyncClient, tab: TabClient) -> str:
    await greet(tab, "u-grace", "tab-cobrowse")
    await tab.send(Help(req=1, question="a person please", person=True))
    answer = await tab.recv_until(HelpAnswer)
    csrf = await console_csrf(http)
    accepted = await http.post(
        f"/console/demo/sessions/{answer.session}/accept", data={"csrf": csrf}
    )
    assert accepted.status_code == 303
    await tab.recv_until(HelpAnswer)  # a person is with them
    return str(answer.session)


async def test_the_visitor_agrees_and_agents_see_a_rechecked_mirror_that_survives_joins_and_drops(
    server: LiveServer,
) -> None:
    await agent(server, "ada@acme.test")
    await add(server, "demo", "bob@acme.test", "admin")
    async with client(server) as http, client(server) as http_bob, tab_client(server) as tab:
        await sign_in(http, "demo", "ada@acme.test")
        await go_online(http)
        session = await referred_and_taken(server, http, tab)

        async with live_view(server, http, session) as ada:
            await ada.send(Join())
            status = await ada.recv_until(Status)
            asked = await tab.recv_until(Cobrowse)
            assert (status.view, asked.ask, asked.asker, asked.record) == (
                "asked",
                "view",
                "Ada",
                False,
            )

            await tab.send(Consent(session=session, what="view", granted=True))
            told = await tab.recv_until(Cobrowse)
            assert told.record and told.agents == ["Ada"]
            await tab.send(Mirror(session=session, page=1, full=True, events=page_snapshot()))
            replay = await ada.recv_until(Replay)
            shown = msgspec.json.encode(replay.events).decode()
            assert "Invite a teammate" in shown and "Send invite" in shown
            for canary in CANARIES:
                assert canary not in shown
            assert "steal()" not in shown and "evil.test" not in shown and "onclick" not in shown

            # A modified client types in the clear: the value is masked; a private field's is dropped.
            await tab.send(
                Mirror(
                    session=session,
                    page=1,
                    events=[input_event(10, "CANARY-FORGED"), input_event(9, "CANARY-PRIVATE")],
                )
            )
            events = await ada.recv_until(Events)
            assert [e["data"].get("text") for e in events.events] == ["********"]
            position = (events.epoch, events.offset)

            # A second agent joins: snapshot + tail from the broker; the page is not asked again.
            await sign_in(http_bob, "demo", "bob@acme.test")
            async with live_view(server, http_bob, session) as bob:
                await bob.send(Join())
                late = await bob.recv_until(Replay)
                assert (late.epoch, late.offset) == position
                assert [e["type"] for e in late.events] == [4, 2, 3]
                assert late.events[2]["data"]["text"] == "********"
                status = await ada.recv_until(Status)
                assert status.watching == ["Ada", "Bob"]

        # Ada's connection drops; she comes back with what she has: only the gap, no replay.
        await tab.send(Mirror(session=session, page=1, events=[input_event(10, "x", 3000)]))
        async with live_view(server, http, session) as ada:
            await ada.send(Join(epoch=position[0], offset=position[1]))
            gap = await ada.recv_until(Events | Replay)
            assert isinstance(gap, Events) and gap.offset == position[1] + 1
            # What she points at is checked against the whole page, though she got only the gap.
            await ada.send(Act(id=1, action="highlight", node=12, epoch=position[0]))
            assert (await tab.recv_until(Remote)).node == 12
        snapshots_asked = [m for m in await drain(tab) if isinstance(m, Cobrowse) and m.snapshot]
        assert snapshots_asked == []

    rows = msgspec.json.encode(await server.state.store.read_audit("demo", limit=100)).decode()
    for canary in CANARIES:
        assert canary not in rows
    actions = [e.action for e in await server.state.store.read_audit("demo", limit=100)]
    assert {"view.asked", "view.granted", "session.watched"} <= set(actions)


async def drain(tab: TabClient) -> list[Any]:
    import asyncio

    got = []
    with contextlib.suppress(TimeoutError, asyncio.TimeoutError):
        while True:
            got.append(await tab.recv(within=0.3))
    return got


async def test_control_is_asked_granted_used_and_taken_back_with_every_step_audited(
    server: LiveServer,
) -> None:
    await agent(server, "ada@acme.test")
    async with client(server) as http, tab_client(server) as tab:
        await sign_in(http, "demo", "ada@acme.test")
        await go_online(http)
        session = await referred_and_taken(server, http, tab)
        async with live_view(server, http, session) as ada:
            await ada.send(Join())
            await tab.recv_until(Cobrowse)
            # No control before the visitor shares the page.
            await ada.send(ControlRequest(want=True))
            assert (await ada.recv_until(Refused)).code == "not_sharing"
            await tab.send(Consent(session=session, what="view", granted=True))
            await tab.send(Mirror(session=session, page=1, full=True, events=page_snapshot()))
            replay = await ada.recv_until(Replay)

            # The walkthrough step the visitor reached shows in the agents' status.
            await tab.send(Start(req=2, walkthrough="invite-teammate"))
            run = await tab.recv_until(RunMessage)
            await tab.send(Step(cseq=1, at=1, run=run.run, step=run.step, event="shown"))
            status = await ada.recv_until(Status)
            while not status.step:
                status = await ada.recv_until(Status)
            assert status.step == {
                "walkthrough": "invite-teammate",
                "step": run.step,
                "event": "shown",
            }

            # Clicking needs control; pointing does not.
            await ada.send(Act(id=1, action="click", node=12, epoch=replay.epoch))
            assert (await ada.recv_until(Refused)).code == "no_control"
            await ada.send(Act(id=2, action="highlight", node=12, epoch=replay.epoch))
            pointed = await tab.recv_until(Remote)
            assert (pointed.action, pointed.node, pointed.page, pointed.name) == (
                "highlight",
                12,
                1,
                "Ada",
            )

            await ada.send(ControlRequest(want=True))
            question = await tab.recv_until(Cobrowse)
            while question.ask != "control":
                question = await tab.recv_until(Cobrowse)
            assert question.asker == "Ada" and question.answer_within_ms == 30_000
            await tab.send(Consent(session=session, what="control", granted=True))
            granted = await tab.recv_until(Cobrowse)
            assert granted.control == "Ada"

            await ada.send(Act(id=3, action="click", node=12, epoch=replay.epoch, x=0.2, y=0.7))
            click = await tab.recv_until(Remote)
            assert (click.id, click.action, click.node, click.x, click.y) == (
                3,
                "click",
                12,
                0.2,
                0.7,
            )
            await tab.send(RemoteDone(session=session, id=3, ok=True))
            assert (await ada.recv_until(Result)).ok
            await ada.send(Act(id=4, action="fill", node=10, epoch=replay.epoch, value="Hello"))
            assert (await tab.recv_until(Remote)).value == "Hello"
            # Never a private field; never an action on an old page.
            await ada.send(Act(id=5, action="fill", node=9, epoch=replay.epoch, value="x"))
            assert (await ada.recv_until(Refused)).code == "private"
            await ada.send(Act(id=6, action="click", node=12, epoch=replay.epoch + 5))
            assert (await ada.recv_until(Refused)).code == "stale"

            # Esc: control is taken back and clicks are refused from then on.
            await tab.send(Consent(session=session, what="control", granted=False))
            status = await ada.recv_until(Status)
            while status.control:
                status = await ada.recv_until(Status)
            await ada.send(Act(id=7, action="click", node=12, epoch=replay.epoch))
            assert (await ada.recv_until(Refused)).code == "no_control"

        csrf = await console_csrf(http)
        await http.post(
            f"/console/demo/sessions/{session}/close", data={"csrf": csrf, "outcome": "resolved"}
        )
        ended = await tab.recv_until(Cobrowse)
        while not ended.ended:
            ended = await tab.recv_until(Cobrowse)

    audit = await server.state.store.read_audit("demo", limit=200)
    trail = [e.action for e in reversed(audit) if e.action.startswith(("control.", "remote."))]
    assert trail == [
        "remote.click.refused", "remote.highlight", "control.requested", "control.granted",
        "remote.click", "remote.fill", "remote.fill.refused", "remote.click.refused",
        "control.revoked", "remote.click.refused",
    ]  # fmt: skip
    refusals = [e.detail["code"] for e in reversed(audit) if e.action.endswith(".refused")]
    assert refusals == ["no_control", "private", "stale", "no_control"]
    fill = next(e for e in audit if e.action == "remote.fill")
    assert fill.detail["length"] == 5 and "Hello" not in msgspec.json.encode(fill.detail).decode()


async def test_the_live_socket_refuses_strangers(server: LiveServer) -> None:
    await agent(server, "ada@acme.test")
    await add(server, "shop", "sam@shop.test", "admin")
    async with client(server) as http, client(server) as anonymous, client(server) as sam:
        await sign_in(http, "demo", "ada@acme.test")
        await go_online(http)
        async with tab_client(server) as tab:
            session = await referred_and_taken(server, http, tab)
        for who, origin in ((anonymous, None), (http, "https://evil.test")):
            with pytest.raises(InvalidStatus) as refused:
                async with live_view(server, who, session, origin=origin):
                    pass
            assert refused.value.response.status_code == 403
        await sign_in(sam, "shop", "sam@shop.test")
        with pytest.raises(InvalidStatus):
            async with live_view(server, sam, session):
                pass
        # A session nobody took has no live view either.
        with pytest.raises(InvalidStatus):
            async with live_view(server, http, "sess-unknown"):
                pass


async def test_a_page_coming_back_is_asked_for_a_fresh_snapshot_and_a_late_page_is_asked_at_hello(
    server: LiveServer,
) -> None:
    from server.protocol.messages import Hello, TokenIdentity, Welcome
    from tests.integration.live_server import demo_token

    await agent(server, "ada@acme.test")
    async with client(server) as http:
        await sign_in(http, "demo", "ada@acme.test")
        await go_online(http)
        async with tab_client(server) as tab:
            session = await referred_and_taken(server, http, tab)
        # The visitor's page is gone when the agent opens the session: asked at its next hello.
        async with live_view(server, http, session) as ada:
            await ada.send(Join())
            assert (await ada.recv_until(Status)).view == "asked"
            hello = Hello(
                v=1, site="demo", tab="tab-cobrowse-2",
                identity=TokenIdentity(user="u-grace", token=demo_token("u-grace")),
            )  # fmt: skip
            async with tab_client(server) as page:
                await page.send(hello)
                await page.recv_until(Welcome)
                question = await page.recv_until(Cobrowse)
                assert (question.ask, question.asker) == ("view", "Ada")
                await page.send(Consent(session=session, what="view", granted=True))
                await page.send(Mirror(session=session, page=1, full=True, events=page_snapshot()))
                first = await ada.recv_until(Replay)
            # The same tab on a new connection (a reload, a dropped network): a fresh snapshot.
            async with tab_client(server) as again:
                await again.send(hello)
                await again.recv_until(Welcome)
                told = await again.recv_until(Cobrowse)
                assert told.record and told.snapshot
                await again.send(Mirror(session=session, page=1, full=True, events=page_snapshot()))
                second = await ada.recv_until(Replay)
                assert second.epoch > first.epoch


async def test_the_agents_view_closes_with_the_session_and_when_the_agent_signs_out(
    server: LiveServer,
) -> None:
    from websockets.exceptions import ConnectionClosed

    await agent(server, "ada@acme.test")
    async with client(server) as http, tab_client(server) as tab:
        await sign_in(http, "demo", "ada@acme.test")
        await go_online(http)
        session = await referred_and_taken(server, http, tab)
        async with live_view(server, http, session) as ada:
            await ada.send(Join())
            await ada.recv_until(Status)
            # Signed out (elsewhere): the next thing the view asks is refused, and it closes.
            kept = dict(http.cookies.items())
            csrf = await console_csrf(http)
            await http.post("/console/logout", data={"csrf": csrf})
            await ada.send(ControlRequest(want=True))
            assert (await ada.recv_until(Refused)).code == "ended"
            with pytest.raises(ConnectionClosed):
                await ada.recv_until(Status)
        await sign_in(http, "demo", "ada@acme.test")
        assert dict(http.cookies.items()) != kept
        async with live_view(server, http, session) as ada:
            await ada.send(Join())
            await ada.recv_until(Status)
            csrf = await console_csrf(http)
            await http.post(
                f"/console/demo/sessions/{session}/close",
                data={"csrf": csrf, "outcome": "resolved"},
            )
            ended = await ada.recv_until(Status)
            while not ended.ended:
                ended = await ada.recv_until(Status)
            with pytest.raises(ConnectionClosed):
                await ada.recv_until(Status)
    # Nothing of the page stays in the broker.
    assert await server.state.broker.snapshot(f"cb:demo:{session}") is None
    assert await server.state.broker.position(f"cb:demo:{session}") == (0, 0)


async def test_the_agents_view_reads_only_its_own_sessions_assignment(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its checks (at the handshake, before each request, every 10 s) read the session's own
    assignment, not every open one of the site: a site's idle views must not cost its square."""
    await agent(server, "ada@acme.test")
    async with client(server) as http, tab_client(server) as tab:
        await sign_in(http, "demo", "ada@acme.test")
        await go_online(http)
        session = await referred_and_taken(server, http, tab)
        store = server.state.store
        listed: list[str] = []
        every = store.open_assignments

        async def counted(site: str) -> list[Any]:
            listed.append(site)
            return await every(site)

        monkeypatch.setattr(store, "open_assignments", counted)
        async with live_view(server, http, session) as ada:
            await ada.send(Join())
            await ada.recv_until(Status)
            await ada.send(ControlRequest(want=True))  # checked before it is done
            assert (await ada.recv_until(Refused)).code == "not_sharing"
            watcher = next(iter(server.state.watchers))
            assert await watcher.still_allowed()  # the heartbeat's check
            found = await store.open_assignment("demo", session)
            assert found is not None and found.state == "accepted"
            closed = replace(found, state="closed", closed_ms=found.accepted_ms + 1)
            assert await store.update_assignment(closed, revision=found.revision)
            assert not await watcher.still_allowed()  # the session closed: the view closes
        assert listed == []


async def test_every_agent_of_a_session_gets_the_same_events_in_order_decoded_once(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three agents watch one session on this node: each is shown the same events, in the
    stream's order; each stream message is decoded once for all of them, and the frame they are
    all sent is encoded once; what each may do is still checked for each (a private field, or
    one made private, stays refused)."""
    from server.cobrowse import stream
    from server.protocol.agent import encode_agent

    decoded: list[bytes] = []
    encoded: list[str] = []
    decode = stream.decode

    def decoding(payload: bytes) -> stream.Decoded:
        decoded.append(payload)
        return decode(payload)

    def encoding(message: AgentServerMessage) -> bytes:
        encoded.append(type(message).__name__)
        return encode_agent(message)

    monkeypatch.setattr(stream, "decode", decoding)
    monkeypatch.setattr("server.console.live.encode_agent", encoding)
    await agent(server, "ada@acme.test")
    await add(server, "demo", "bob@acme.test", "admin")
    await add(server, "demo", "cy@acme.test", "admin")
    async with contextlib.AsyncExitStack() as stack:
        http = await stack.enter_async_context(client(server))
        tab = await stack.enter_async_context(tab_client(server))
        await sign_in(http, "demo", "ada@acme.test")
        await go_online(http)
        session = await referred_and_taken(server, http, tab)
        views = []
        for email in ("ada@acme.test", "bob@acme.test", "cy@acme.test"):
            signed = http
            if email != "ada@acme.test":
                signed = await stack.enter_async_context(client(server))
                await sign_in(signed, "demo", email)
            view = await stack.enter_async_context(live_view(server, signed, session))
            await view.send(Join())
            await view.recv_until(Status)
            views.append(view)
        await tab.send(Consent(session=session, what="view", granted=True))
        await tab.send(Mirror(session=session, page=1, full=True, events=page_snapshot()))
        replay = (await asyncio.gather(*(view.recv_until(Replay) for view in views)))[0]
        # One batch at a time (each agent keeps up: one frame per batch), then a burst.
        batches = [[input_event(10, f"typed {i}", 2000 + i)] for i in range(4)]
        shown: list[list[Events]] = [[] for _ in views]
        for events in batches:
            await tab.send(Mirror(session=session, page=1, events=events))
            for got, view in zip(shown, views, strict=True):
                got.append(await view.recv_until(Events))
        assert encoded.count("Events") == len(batches)  # once for all three agents
        assert encoded.count("Replay") == 1
        burst = [[input_event(10, f"burst {i}", 3000 + i)] for i in range(5)]
        burst.append([made_private(7, 3100)])
        for events in burst:
            await tab.send(Mirror(session=session, page=1, events=events))
        last = replay.offset + len(batches) + len(burst)
        for got, view in zip(shown, views, strict=True):
            while got[-1].offset < last:
                got.append(await view.recv_until(Events))
        # The same events, in the stream's order, for each agent (however a burst was framed).
        seen = [[e for frame in got for e in frame.events] for got in shown]
        assert seen[0] == seen[1] == seen[2]
        assert [e["data"].get("text") for e in seen[0][:-1]] == ["********"] * 9
        assert [(f.epoch, f.offset) for f in shown[0][: len(batches)]] == [
            (replay.epoch, replay.offset + 1 + i) for i in range(len(batches))
        ]
        # Each message was decoded once on this node, however many agents it reached.
        assert len(decoded) == 1 + len(batches) + len(burst)
        # What each agent does is still checked: never a private field, nor one made so.
        for view, node in zip(views, (9, 7, 9), strict=True):
            await view.send(Act(id=node, action="highlight", node=node, epoch=replay.epoch))
            refused = await view.recv_until(Refused)
            assert (refused.id, refused.code) == (node, "private")
        remotes = [m for m in await drain(tab) if isinstance(m, Remote)]
        assert remotes == []


def made_private(node: int, at: int = 2100) -> MirrorEvent:
    """A mutation that marks a field private (``data-tandem-private``) after the snapshot."""
    change = {"id": node, "attributes": {"data-tandem-private": ""}}
    data = {"source": 0, "texts": [], "attributes": [change], "removes": [], "adds": []}
    return msgspec.convert({"type": 3, "data": data, "timestamp": at}, MirrorEvent)


async def test_an_agent_whose_view_lags_behind_the_page_cannot_act_on_a_field_that_became_private(
    server: LiveServer,
) -> None:
    """The agent's view learns the page's nodes only as fast as the stream reaches it; the
    visitor's node keeps the nodes it saw private in broker state, and the action is refused
    from there, however far behind the view is — and audited."""
    from server.console.live import Watcher
    from tests.integration.test_broker import eventually

    await agent(server, "ada@acme.test")
    async with client(server) as http, tab_client(server) as tab:
        await sign_in(http, "demo", "ada@acme.test")
        await go_online(http)
        session = await referred_and_taken(server, http, tab)
        async with live_view(server, http, session) as ada:
            await ada.send(Join())
            await tab.recv_until(Cobrowse)
            await tab.send(Consent(session=session, what="view", granted=True))
            await tab.send(Mirror(session=session, page=1, full=True, events=page_snapshot()))
            replay = await ada.recv_until(Replay)
            watcher: Watcher = next(iter(server.state.watchers))
            stream = f"cb:demo:{session}"

            async def at(offset: int) -> bool:
                position = await server.state.broker.position(stream)
                return bool(position == (replay.epoch, offset))

            # The agent's socket stops taking what it is sent (a slow network): the view's
            # delivery waits, with what it learnt up to the batch it is sending.
            async with watcher.send_lock:
                await tab.send(Mirror(session=session, page=1, events=[input_event(10, "a")]))

                async def learnt_the_first() -> bool:
                    return watcher.facts_at == (replay.epoch, replay.offset + 1)

                await eventually(learnt_the_first, within=10)
                # The page marks the textarea private; the view does not know yet.
                await tab.send(Mirror(session=session, page=1, events=[made_private(10)]))
                await eventually(lambda: at(replay.offset + 2), within=10)
                assert watcher.facts_at == (replay.epoch, replay.offset + 1)
                node = watcher.facts.node(10)
                assert node is not None and not node.private  # as far as the view knows
                await ada.send(Act(id=1, action="highlight", node=10, epoch=replay.epoch))

                async def decided() -> bool:
                    audit = await server.state.store.read_audit("demo", limit=50)
                    return any(e.action.startswith("remote.highlight") for e in audit)

                await eventually(decided, within=10)
            refused = await ada.recv_until(Refused)
            assert (refused.id, refused.code) == (1, "private")
        remotes = [m for m in await drain(tab) if isinstance(m, Remote)]
        assert remotes == []

    audit = await server.state.store.read_audit("demo", limit=50)
    acts = [(e.action, e.detail.get("code")) for e in audit if e.action.startswith("remote.")]
    assert acts == [("remote.highlight.refused", "private")]


async def test_an_action_that_reaches_no_page_is_refused_and_audited(server: LiveServer) -> None:
    """Checked and audited, then sent — to a page that went away meanwhile: the agent hears it
    reached nobody, and the audit log says so too."""
    from tests.integration.test_broker import eventually

    await agent(server, "ada@acme.test")
    async with client(server) as http:
        await sign_in(http, "demo", "ada@acme.test")
        await go_online(http)
        async with tab_client(server) as tab:
            session = await referred_and_taken(server, http, tab)
            async with live_view(server, http, session) as ada:
                await ada.send(Join())
                await tab.recv_until(Cobrowse)
                await tab.send(Consent(session=session, what="view", granted=True))
                await tab.send(Mirror(session=session, page=1, full=True, events=page_snapshot()))
                replay = await ada.recv_until(Replay)
                await tab.ws.close()

                async def page_gone() -> bool:
                    return ("demo", "tab-cobrowse") not in server.state.tabs

                await eventually(page_gone, within=10)
                await ada.send(Act(id=1, action="highlight", node=12, epoch=replay.epoch))
                refused = await ada.recv_until(Refused)
                assert (refused.id, refused.code) == (1, "page_gone")

    audit = await server.state.store.read_audit("demo", limit=50)
    trail = [
        (e.action, e.detail.get("code")) for e in reversed(audit) if e.action.startswith("remote.")
    ]
    assert trail == [("remote.highlight", None), ("remote.highlight.refused", "page_gone")]
