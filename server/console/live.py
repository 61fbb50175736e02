"""The agent's live socket for one support session: the mirror, who is there, control, actions.

Only a signed-in agent or admin of the session's site, from the console's own
origin, while the session is taken by an agent. The agent joins with the
stream position it has; from then on this socket streams the mirror in order
(never a message twice, never a gap: a gap is filled from the broker's
history, else from the latest snapshot, else the page is asked for one) and
the session's news. An agent slower than the page gets coalesced pointer and
scroll updates; one that falls too far behind starts over from the snapshot.

All of it is broker state, so this socket may be on any node, whichever node
holds the visitor's tab: the stream's messages also say what the visitor's
node's re-check knows of the page's nodes, which this view learns in order
with what it shows (``server.cobrowse.nodes``); an action is checked against
that, the control token and the stream's epoch — and against the nodes the
visitor's node has seen private in that epoch, kept in broker state, since
this view's facts may lag behind the page — then sent to the page wherever
its tab is connected (``server.web.delivery``). Every action is audited, and
so is every refusal, including an action that reached no page.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import secrets
import time
from typing import Any

import msgspec
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from server import logs
from server.broker import StreamMessage, Subscription, SubscriptionLagged
from server.cobrowse import control
from server.cobrowse.nodes import NodeFacts
from server.cobrowse.relay import begins_with_snapshot, coalesce
from server.cobrowse.stream import Decoded, Shown
from server.console.signin import signed_in, state_of
from server.knowledge.site import Site
from server.protocol.agent import (
    Act,
    AgentFrameError,
    AgentServerMessage,
    AskView,
    ControlRequest,
    Events,
    Join,
    Refused,
    Replay,
    decode_agent,
    encode_agent,
)
from server.protocol.messages import Remote
from server.store.base import AccountRecord
from server.web import agents, cobrowse, delivery
from server.web.state import AppState

log = logging.getLogger("tandem.console.live")

#: Stream messages waiting for a slow agent before it is started over from the snapshot.
MAX_PENDING = 1000
HEARTBEAT_S = 10
JOIN_WITHIN_S = 10
MAX_STRIKES = 20
#: The offset of "nothing of this epoch can be shown": the next epoch's snapshot starts the view.
WAITING = 1 << 62


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def _same_origin(ws: WebSocket) -> bool:
    """Only the console's own pages open this socket (cookies alone would let any site try)."""
    scheme = "https" if ws.url.scheme == "wss" else "http"
    return ws.headers.get("origin", "") == f"{scheme}://{ws.headers.get('host', '')}"


async def live_socket(ws: WebSocket) -> None:
    state = state_of(ws)
    site_key, session = ws.path_params["site"], ws.path_params["session"]
    site = state.sites.get(site_key)
    who = signed_in(ws)
    account = await state.store.get_account(site_key, who.email) if who and site else None
    if (
        site is None
        or who is None
        or who.site != site_key
        or account is None
        or account.session_version != who.version
        or account.role not in agents.AGENT_ROLES
        or not _same_origin(ws)
    ):
        await ws.close(code=1008)  # before accepting: the handshake is refused (403)
        return
    assignment = await state.store.open_assignment(site_key, session)
    if assignment is None or assignment.state != "accepted":
        await ws.close(code=1008)
        return
    await ws.accept()
    logs.bind(site=site_key, session=session)
    shown = shown_of(state, site_key, session)
    watcher = Watcher(ws, state, site, session, account, assignment.user_id, shown)
    state.watchers.add(watcher)
    try:
        await watcher.run()
    except WebSocketDisconnect:
        pass
    finally:
        state.watchers.discard(watcher)
        await watcher.leave()


def shown_of(state: AppState, site: str, session: str) -> Shown:
    """What the views of this session open on this node decoded of its stream (shared: each
    message is decoded once here, however many agents watch)."""
    stream = cobrowse.stream_of(site, session)
    shared: Shown | None = next((w.shown for w in state.watchers if w.stream == stream), None)
    return shared if shared is not None else Shown()


class Watcher:
    """One agent's live view of one co-browse session."""

    def __init__(
        self,
        ws: WebSocket,
        state: AppState,
        site: Site,
        session: str,
        account: AccountRecord,
        user: str,
        shown: Shown | None = None,
    ) -> None:
        self.ws, self.state, self.site, self.session = ws, state, site, session
        self.account, self.user = account, user
        self.conn_id = secrets.token_urlsafe(9)
        self.stream = cobrowse.stream_of(site.key, session)
        self.shown = shown if shown is not None else Shown()
        self.sent: tuple[int, int] = (0, 0)  # the last mirror message delivered
        self.pending: list[StreamMessage] = []
        self.wake = asyncio.Event()
        self.resync = False
        self.send_lock = asyncio.Lock()
        self.strikes = 0
        self.joined = False
        self.subscriptions: list[Subscription] = []
        # What is known of the page's nodes, as of the stream position ``facts_at`` (the last
        # message learnt, in order with what was shown); ``page``: its recorder run.
        self.facts = NodeFacts()
        self.facts_at: tuple[int, int] = (0, 0)
        self.page = 0

    @property
    def address(self) -> str:
        return self.ws.client.host if self.ws.client else ""

    async def send(self, message: AgentServerMessage | bytes) -> None:
        data = message if isinstance(message, bytes) else encode_agent(message)
        async with self.send_lock:
            if self.ws.application_state == WebSocketState.CONNECTED:
                await self.ws.send_bytes(data)

    async def audit(self, action: str, **detail: Any) -> None:
        await cobrowse.audit(
            self.state, self.site.key, self.account.email, action, self.session,
            address=self.address, **detail,
        )  # fmt: skip

    # --- lifecycle -------------------------------------------------------------------------

    async def run(self) -> None:
        try:
            first = await asyncio.wait_for(self.ws.receive_bytes(), JOIN_WITHIN_S)
            join = decode_agent(first)
        except (TimeoutError, AgentFrameError, KeyError):
            await self.ws.close(code=1008, reason="join first")
            return
        if not isinstance(join, Join):
            await self.ws.close(code=1008, reason="join first")
            return
        broker = self.state.broker
        await broker.presence_touch(
            cobrowse.watchers_of(self.site.key, self.session), self.account.email,
            self.account.name.encode(), cobrowse.WATCHING_TTL_MS, owner=self.conn_id,
        )  # fmt: skip
        self.joined = True
        await self.audit("session.watched", resumed=join.epoch > 0)
        self.subscriptions = [await broker.subscribe(self.stream)]
        news = await broker.subscribe(cobrowse.news_of(self.site.key, self.session))
        self.subscriptions.append(news)
        await cobrowse.agent_joins(
            self.state, self.site, self.session, self.user, self.account.name
        )
        await self.catch_up(join.epoch, join.offset)
        tasks = [
            asyncio.create_task(self.receive()),
            asyncio.create_task(self.read_mirror()),
            asyncio.create_task(self.read_news(news)),
            asyncio.create_task(self.deliver()),
            asyncio.create_task(self.heartbeat()),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                error = task.exception()
                if error is not None and not isinstance(error, WebSocketDisconnect):
                    log.error("live view of %s failed: %r", self.session, error)
        finally:
            for task in tasks:
                task.cancel()

    async def leave(self) -> None:
        for subscription in self.subscriptions:
            with contextlib.suppress(Exception):
                await subscription.close()
        if not self.joined:
            return
        with contextlib.suppress(Exception):
            await self.state.broker.presence_leave(
                cobrowse.watchers_of(self.site.key, self.session), self.account.email,
                owner=self.conn_id,
            )  # fmt: skip
            await self.audit("session.unwatched")
            await cobrowse.tell_all(self.state, self.site, self.session)

    async def heartbeat(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            if not await self.still_allowed():
                return
            unknown = self.facts_at[0] != self.sent[0]  # shown, but its nodes are not known
            if self.sent[1] == WAITING or unknown:  # ask again (the page may be back)
                await self.ask_for_snapshot()
            await self.state.broker.presence_touch(
                cobrowse.watchers_of(self.site.key, self.session), self.account.email,
                self.account.name.encode(), cobrowse.WATCHING_TTL_MS, owner=self.conn_id,
            )  # fmt: skip

    async def still_allowed(self) -> bool:
        """The agent is still signed in and the session still taken; else the view closes."""
        account = await self.state.store.get_account(self.site.key, self.account.email)
        assignment = await self.state.store.open_assignment(self.site.key, self.session)
        if (
            account is not None
            and account.session_version == self.account.session_version
            and account.role in agents.AGENT_ROLES
            and assignment is not None
            and assignment.state == "accepted"
        ):
            return True
        await self.send(Refused(code="ended", message="this session is closed, or you signed out"))
        await self.ws.close(code=1008, reason="no longer allowed")
        return False

    # --- the mirror --------------------------------------------------------------------------

    async def catch_up(self, epoch: int, offset: int) -> None:
        """Deliver what the agent lacks after (epoch, offset): the gap, else snapshot + tail, else
        ask the page for a snapshot (its first message then starts the mirror)."""
        broker = self.state.broker
        current, _ = await broker.position(self.stream)
        if epoch and epoch == current:
            missing = await broker.history(self.stream, epoch=epoch, after_offset=offset)
            if missing is not None:
                await self.know_nodes_at(epoch, offset)
                self.sent = (epoch, offset)
                await self.send_events(missing)
                if self.facts_at != self.sent:  # the page's nodes are not known: a snapshot tells
                    await self.ask_for_snapshot()
                return
        snapshot = await broker.snapshot(self.stream)
        if snapshot is not None and snapshot.epoch == current:
            tail = await broker.history(self.stream, epoch=current, after_offset=snapshot.offset)
            if tail is not None:
                self.learn(snapshot)
                events = list(self.decoded(snapshot).events)
                for message in tail:
                    self.learn(message)
                    events.extend(self.decoded(message).events)
                last = tail[-1].offset if tail else snapshot.offset
                self.sent = (current, last)
                await self.send(Replay(epoch=current, offset=last, events=events))
                return
        self.sent = (current, WAITING)  # nothing of this epoch can be shown: wait for the next one
        await self.ask_for_snapshot()

    async def ask_for_snapshot(self) -> None:
        view, _ = await cobrowse.view_of(self.state, self.site.key, self.session)
        if view is not None and view.state == "granted":
            await cobrowse.ask_for_snapshot(self.state, self.site, self.session)

    def decoded(self, message: StreamMessage) -> Decoded:
        return self.shown.decoded(message.epoch, message.offset, message.payload)

    def learn(self, message: StreamMessage) -> None:
        """What one stream message says of the page's nodes, taken in stream order; after a
        gap nothing is known until the next snapshot."""
        decoded = self.decoded(message)
        page, changes = decoded.page, decoded.changes
        follows = (message.epoch, message.offset - 1) == self.facts_at
        if changes is None or not (follows or changes.reset):
            self.facts, self.facts_at = NodeFacts(), (0, 0)
            return
        self.facts.apply(changes)
        self.facts_at, self.page = (message.epoch, message.offset), page

    async def know_nodes_at(self, epoch: int, offset: int) -> bool:
        """Whether the facts are (or can be made, from the snapshot and the history) those as
        of (epoch, offset): an agent coming back gets only the gap, and its actions are still
        checked against the whole page."""
        if self.facts_at == (epoch, offset):
            return True
        broker = self.state.broker
        snapshot = await broker.snapshot(self.stream)
        if snapshot is None or snapshot.epoch != epoch or snapshot.offset > offset:
            return False
        tail = await broker.history(self.stream, epoch=epoch, after_offset=snapshot.offset)
        if tail is None:
            return False
        self.learn(snapshot)
        for message in tail:
            if message.offset > offset:
                break
            self.learn(message)
        return self.facts_at == (epoch, offset)

    async def send_events(self, messages: list[StreamMessage]) -> None:
        """Show the next messages (in order, each after the last shown), in one frame; every view
        of the session on this node shown the same run is sent the same frame, encoded once."""
        for message in messages:
            self.learn(message)
            self.sent = (message.epoch, message.offset)
        runs = [self.decoded(m).events for m in messages]
        if not any(runs):
            return

        first, last = messages[0], messages[-1]

        def build() -> bytes:
            events = coalesce([event for run in runs for event in run])
            return encode_agent(Events(epoch=last.epoch, offset=last.offset, events=events))

        await self.send(self.shown.frame(*_place(last), f"events after {first.offset - 1}", build))

    async def read_mirror(self) -> None:
        while True:
            try:
                async for message in self.subscriptions[0]:
                    self.pending.append(message)
                    if len(self.pending) > MAX_PENDING:  # this agent is too slow: start over
                        self.pending.clear()
                        self.resync = True
                    self.wake.set()
                return
            except SubscriptionLagged:
                self.subscriptions[0] = await self.state.broker.subscribe(self.stream)
                self.resync = True
                self.wake.set()

    async def deliver(self) -> None:
        while True:
            await self.wake.wait()
            self.wake.clear()
            batch, self.pending = self.pending, []
            if self.resync:
                self.resync = False
                await self.catch_up(*self.sent)
                continue
            run: list[StreamMessage] = []
            for message in batch:
                epoch, offset = self.sent
                if (message.epoch, message.offset) <= (epoch, offset):
                    continue  # delivered already (by the catch-up)
                if message.epoch == epoch and message.offset == offset + 1:
                    run.append(message)
                    self.sent = (message.epoch, message.offset)
                    continue
                await self.send_events(run)
                run = []
                events = list(self.decoded(message).events)
                if message.offset == 1 and begins_with_snapshot(events):
                    self.learn(message)
                    self.sent = (message.epoch, message.offset)
                    replay = Replay(epoch=message.epoch, offset=message.offset, events=events)
                    build = functools.partial(encode_agent, replay)
                    await self.send(self.shown.frame(*_place(message), "replay", build))
                else:  # a gap: fill it from history (this batch's rest is in there too)
                    await self.catch_up(*self.sent)
                    break
            if run:
                self.sent = (run[0].epoch, run[0].offset - 1)
                await self.send_events(run)

    async def read_news(self, news: Subscription) -> None:
        async for message in news:
            await self.send(message.payload)
            if _ended(message.payload):
                await self.ws.close(code=1000, reason="the session has ended")
                return

    # --- what the agent asks ---------------------------------------------------------------------

    async def receive(self) -> None:
        while True:
            frame = await self.ws.receive()
            if frame["type"] == "websocket.disconnect":
                return
            data = frame.get("bytes")
            try:
                if data is None:
                    raise AgentFrameError("frames must be binary (msgpack)")
                message = decode_agent(data)
            except AgentFrameError as exc:
                await self.send(Refused(code="invalid", message=str(exc)[:300]))
                self.strikes += 1
                if self.strikes > MAX_STRIKES:
                    await self.ws.close(code=1008, reason="too many invalid messages")
                    return
                continue
            if isinstance(message, Join):
                self.resync = False
                await self.catch_up(message.epoch, message.offset)
                continue
            if not await self.still_allowed():
                return
            if isinstance(message, AskView):
                await self.audit("view.asked_again")
                await cobrowse.agent_joins(
                    self.state, self.site, self.session, self.user, self.account.name, again=True
                )
            elif isinstance(message, ControlRequest):
                await self.on_control(message.want)
            elif isinstance(message, Act):
                await self.on_act(message)

    async def on_control(self, want: bool) -> None:
        state, site, session = self.state, self.site, self.session
        token, version = await cobrowse.control_of(state, site.key, session)
        if want:
            view, _ = await cobrowse.view_of(state, site.key, session)
            if view is None or view.state != "granted":
                await self.send(
                    Refused(code="not_sharing", message="the visitor is not sharing the page")
                )
                return
            asked = control.request(token, self.account.email, self.account.name, now_ms())
            if isinstance(asked, control.Refusal):
                await self.send(Refused(code=asked.code, message=asked.message))
                return
            if asked == token:
                return
            if not await cobrowse.set_control(state, site, session, asked, version=version):
                await self.send(Refused(code="control_taken", message="someone else asked first"))
                return
            await self.audit("control.requested")
        else:
            released = control.release(token, self.account.email)
            if isinstance(released, control.Refusal):
                await self.send(Refused(code=released.code, message=released.message))
                return
            if not await cobrowse.drop_control(state, site.key, session, version=version):
                return
            await self.audit("control.released")
        await cobrowse.tell_all(state, site, session)

    async def refuse(self, act: Act, code: str, message: str) -> None:
        """An action not done: the audit log has it, and the agent hears why."""
        await self.audit(f"remote.{act.action}.refused", node=act.node, epoch=act.epoch, code=code)
        await self.send(Refused(code=code, message=message, id=act.id))

    async def on_act(self, act: Act) -> None:
        state, site, session = self.state, self.site, self.session
        token, version = await cobrowse.control_of(state, site.key, session)
        refusal = control.may_act(token, self.account.email, act.action)
        if refusal is not None:
            await self.refuse(act, refusal.code, refusal.message)
            return
        current, _ = await state.broker.position(self.stream)
        if act.epoch != current or self.facts_at[0] != act.epoch:
            await self.refuse(act, "stale", "the page has changed since; try again")
            return
        view, _ = await cobrowse.view_of(state, site.key, session)
        if view is None or view.state != "granted" or not view.tab:
            await self.refuse(act, "page_gone", "the visitor's page is not connected")
            return
        # What this view learnt of the page may lag behind it: the nodes the visitor's node has
        # seen private in this epoch are checked too.
        node = self.facts.node(act.node)
        if act.node in await cobrowse.private_nodes(state, site.key, session, act.epoch) or (
            node is not None and node.private
        ):
            await self.refuse(act, "private", "private fields are never controlled")
            return
        if node is None:
            await self.refuse(act, "unknown_node", "no such element on the page")
            return
        if act.action == "fill" and node.tag not in ("input", "textarea"):
            await self.refuse(act, "not_a_field", "only a text field can be typed into")
            return
        if (
            token is not None
            and act.action in control.NEEDS_CONTROL
            and not await cobrowse.set_control(state, site, session, token, version=version)
        ):  # in use, the grant goes on — unless it changed (taken back) since it was read
            await self.refuse(act, "no_control", "control changed since; ask again")
            return
        await self.audit(
            f"remote.{act.action}", node=act.node, tag=node.tag, epoch=act.epoch,
            **({"length": len(act.value)} if act.action == "fill" else {}),
        )  # fmt: skip
        remote = Remote(
            session=session, id=act.id, action=act.action, node=act.node, page=self.page,
            x=act.x, y=act.y, value=act.value, name=self.account.name,
        )  # fmt: skip
        if not await delivery.to_tab(state, site.key, view.tab, remote, user=view.user):
            # Audited as done above (before it could reach the page); that it reached none is too.
            await self.refuse(act, "page_gone", "the visitor's page is not connected")


def _ended(payload: bytes) -> bool:
    body = msgspec.msgpack.decode(payload)
    return isinstance(body, dict) and body.get("kind") == "status" and body.get("ended") is True


def _place(message: StreamMessage) -> tuple[int, int, bytes]:
    return message.epoch, message.offset, message.payload
