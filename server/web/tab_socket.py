"""The tab WebSocket endpoint: one connection per open tab of a visitor.

Thin shell around the pure parts: frames are decoded by ``server.protocol``,
identities checked by ``server.identity``, processes resolved by
``server.knowledge``; this module only moves bytes, stores events and keeps
the tab's live state in the broker. Acknowledgements go out strictly after
the store committed, in cseq order. It listens to the tab's broker channel, so
that what other nodes have for the page reaches it (``server.web.delivery``).

An idle tab costs one task: the one receiving its frames (the endpoint's own).
Its events are stored by a task started while some wait, what other nodes send
it is handed over by one started while some waits, its heartbeat is the node's
timer (``server.web.heartbeats``), and anything that must end the connection
from outside its receiver (a newer connection of the tab, a failed write, the
broker closing) stops it (``TabConnection.stop``).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import secrets
import time
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import msgspec
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from server import logs
from server.broker import BrokerError, Listener, Receiver
from server.identity.tokens import TokenRefused
from server.knowledge.location import ProcessIndex, redact_url
from server.knowledge.site import Site
from server.live import TabState, entry_of, supersedes
from server.protocol import (
    PROTOCOL_VERSION,
    SUPPORTED_VERSIONS,
    ProtocolError,
    decode_client,
    encode,
)
from server.protocol.chunks import ChunkAssembler
from server.protocol.codec import Problem
from server.protocol.messages import (
    MAX_FRAME,
    Ack,
    AnonymousIdentity,
    Chat,
    Chunk,
    ClientMessage,
    Cobrowse,
    Consent,
    Error,
    Feedback,
    Focus,
    Goal,
    Hello,
    Help,
    Identified,
    Identify,
    Launcher,
    Location,
    Mirror,
    Rating,
    RemoteDone,
    Resume,
    ServerMessage,
    Signal,
    Start,
    Step,
    Typing,
    Welcome,
    kind_of,
)
from server.protocol.rules import AbuseMeter, Phase, unsupported_version_reason
from server.store.base import EventRecord
from server.web import chat, cobrowse, delivery, frustration, privacy, runs, session_news
from server.web.help import answer_help
from server.web.state import AppState

log = logging.getLogger("tandem.socket")


class Close(Exception):
    """Close the connection with this code and reason."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


#: Why a connection is closed (1008) when a newer connection says hello for the same tab.
TAB_TAKEN = "tab_taken: a newer connection of this tab replaced this one"
#: Messages for the page held until its ``welcome`` is sent (more than this: the oldest go).
HELD_AT_MOST = 64
#: What other nodes sent the page, waiting to be acted on (more: the channel counts as lost).
INBOX_AT_MOST = 10_000
#: A connection's end waits at most this long for its own tasks (cancelled) to end before it
#: leaves the tab (its live entry, its channel): none of them may write either after that.
TASKS_END_WITHIN_S = 5.0


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(eq=False, slots=True)
class TabConnection(Receiver):
    """Everything one connection knows; lives as long as the WebSocket.

    What an idle tab does not use is made when first needed: the abuse meter,
    the chunk assembler, the task storing events, the list and task for what
    other nodes send the page.
    """

    ws: WebSocket
    state: AppState
    site: Site
    index: ProcessIndex
    phase: Phase = Phase.AWAITING_HELLO
    tab: str = ""
    user: str | None = None
    anonymous: bool = False
    durable: int = 0  # highest cseq known to be stored
    received: int = 0  # highest cseq accepted on this connection (stored, being stored or waiting)
    live: TabState | None = None
    live_user: str | None = None  # whose live tabs this connection reports the tab in
    taken: bool = False  # a newer connection took the tab: this one closes (``take``)
    abuse: AbuseMeter | None = None
    chunks: ChunkAssembler | None = None
    conn_id: str = field(default_factory=lambda: secrets.token_urlsafe(9))
    markers: tuple[str, ...] = ()
    # Events accepted but not yet given to the store, in cseq order; ``writer`` stores them.
    unwritten: list[EventRecord] = field(default_factory=list)
    writer: asyncio.Task[None] | None = None  # running while events wait (kept after a failure)
    send_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    mirroring: cobrowse.Mirroring | None = None  # this tab's page is mirrored to agents
    seq: int = 0  # the broker's number for its hello: of two connections of a tab, the higher wins
    mailbox: Listener | None = None  # the tab's broker channel: what other nodes send the page
    # What came on it, in order, until ``courier`` (running while some waits) acts on it; it waits
    # for the page's ``welcome`` (``mail_open``). ``lagging``: the channel was lost meanwhile.
    inbox: deque[bytes] | None = None
    courier: asyncio.Task[None] | None = None
    beating: asyncio.Task[Any] | None = None  # its heartbeat, while one runs
    mail_open: bool = False
    lagging: bool = False
    # Until its ``welcome`` is sent, what is delivered to the page waits here (the page drops
    # anything that comes before ``welcome``), in order; then it is sent, and ``ready`` is set.
    ready: bool = False
    held: list[ServerMessage] = field(default_factory=list)
    # The task receiving the connection's frames, and why it was stopped from elsewhere (``stop``).
    task: asyncio.Task[Any] | None = None
    stopped: BaseException | None = None
    ending: bool = False  # the connection is being left: nothing stops it any more

    # --- ending ---------------------------------------------------------------

    def stop(self, error: BaseException) -> None:
        """End the connection for ``error`` (a ``Close`` says how the socket closes), from any
        task: its receiver is cancelled at its next await, as the first error says."""
        if self.stopped is not None or self.ending:
            return
        self.stopped = error
        if self.task is not None:
            self.task.cancel()

    def take(self) -> None:
        """A newer connection took the tab: this one closes (1008 ``tab_taken``)."""
        self.taken = True
        self.stop(Close(1008, TAB_TAKEN))

    def spawn(self, work: Callable[[], Coroutine[Any, Any, None]]) -> asyncio.Task[None]:
        """Run ``work`` for this connection in a task of its own: what it raises stops the
        connection. Its log lines carry the connection's ids, whoever started it."""

        async def run() -> None:
            logs.bind(request=self.conn_id, site=self.site.key, tab=self.tab)
            try:
                await work()
            except asyncio.CancelledError:
                raise
            except BaseException as exc:
                self.stop(exc)

        return asyncio.get_running_loop().create_task(run(), context=contextvars.Context())

    # --- sending --------------------------------------------------------------

    async def send(self, message: ServerMessage) -> None:
        async with self.send_lock:
            if self.ws.application_state == WebSocketState.CONNECTED:
                await self.ws.send_bytes(encode(message))
                self.state.metrics.messages_out.labels(kind_of(message)).inc()

    async def deliver(self, message: ServerMessage) -> bool:
        """Give the page a message from elsewhere in the server (an agent, the API); False when
        its socket is gone. Never raises. Before the page was welcomed it waits (``held``)."""
        if isinstance(message, Cobrowse) and message.ended:
            self.mirroring = None  # nothing more of the page is streamed
        if not self.ready:
            if len(self.held) >= HELD_AT_MOST:
                del self.held[0]
            self.held.append(message)
            return True
        try:
            await self.send(message)
        except Exception:  # the visitor's socket died under us: their page says hello again
            return False
        return True

    async def welcomed(self) -> None:
        """``welcome`` was sent: what was held for the page goes now, in order, before anything
        delivered later (which waits for it)."""
        while self.held:
            message = self.held.pop(0)
            with contextlib.suppress(Exception):
                await self.send(message)
        self.ready = True  # nothing was held meanwhile: the list is empty, in the same step

    async def shut(self, code: int, reason: str) -> None:
        """Close the connection now, storing nothing more of what it received (an erasure)."""
        self.unwritten.clear()
        self.user = None  # nothing more is accepted from it while it closes
        with contextlib.suppress(Exception):
            await self.ws.close(code=code, reason=reason)

    async def refuse(self, error: ProtocolError | Error) -> None:
        """Answer a refused message with ``error``; close 1008 when the peer keeps doing it."""
        if isinstance(error, ProtocolError):
            if error.problem is Problem.TOO_LARGE:
                raise Close(1009, str(error)[:120])
            error = Error(
                code=error.problem.value, message=str(error), field=error.field, cseq=error.cseq
            )
        self.state.metrics.errors.labels(error.code).inc()
        await self.send(error)
        if self.abuse is None:
            self.abuse = AbuseMeter()
        if self.abuse.strike(now_ms()):
            raise Close(1008, "too many invalid messages")

    # --- receiving ------------------------------------------------------------

    async def on_frame(self, frame: bytes) -> None:
        try:
            message = decode_client(frame)
        except ProtocolError as exc:
            await self.refuse(exc)
            return
        self.state.metrics.messages_in.labels(kind_of(message)).inc()
        if isinstance(message, Chunk):
            if self.chunks is None:
                self.chunks = ChunkAssembler()
            try:
                whole = self.chunks.add(message)
                if whole is None:
                    return
                message = decode_client(whole, assembled=True)
            except ProtocolError as exc:
                await self.refuse(exc)
                return
            self.state.metrics.messages_in.labels(kind_of(message)).inc()
        await self.on_message(message)

    async def on_message(self, message: ClientMessage) -> None:
        if self.taken:
            return  # closing: a newer connection of this tab answers from now on
        if isinstance(message, Hello):
            if self.phase is not Phase.AWAITING_HELLO:
                await self.refuse(Error(code="unexpected", message="hello was already received"))
                return
            await self.on_hello(message)
            return
        if self.phase is Phase.AWAITING_HELLO:
            await self.refuse(Error(code="unexpected", message="the first message must be hello"))
            return
        if isinstance(message, Identify):
            await self.on_identify(message)
        elif isinstance(
            message, Location | Focus | Step | Signal | Goal | Feedback | Rating | Chat
        ):
            await self.on_data(message)
        elif isinstance(message, Mirror | Consent | RemoteDone):
            if self.user is None:
                return
            if isinstance(message, Mirror):
                await cobrowse.on_mirror(self, message)
            elif isinstance(message, Consent):
                await cobrowse.on_consent(self, message)
            else:
                await cobrowse.on_remote_done(self, message)
        elif isinstance(message, Typing):
            if self.user is not None:
                await chat.visitor_typing(
                    self.state, self.site.key, self.user, message.session, now_ms=now_ms()
                )
        elif isinstance(message, Help):
            if self.user is None:
                await self.send(_identity_required(message.req))
                return
            help_answer = await answer_help(
                self.state,
                self.site,
                self.user,
                req=message.req,
                question=message.question,
                person=message.person,
                tab=self.tab,
                now_ms=now_ms(),
            )
            await self.send(help_answer)
        elif isinstance(message, Launcher):
            await self.send(await runs.offers(self, message, now_ms=now_ms()))
        elif isinstance(message, Start | Resume):
            if self.user is None:
                await self.send(_identity_required(message.req))
                return
            answer = await (
                runs.start(self, message, now_ms=now_ms())
                if isinstance(message, Start)
                else runs.resume(self, message, now_ms=now_ms())
            )
            if isinstance(answer, Error):
                await self.refuse(answer)
            else:
                await self.send(answer)

    async def on_hello(self, hello: Hello) -> None:
        if hello.v not in SUPPORTED_VERSIONS:
            raise Close(1002, unsupported_version_reason(hello.v, SUPPORTED_VERSIONS))
        if hello.site != self.site.key:
            raise Close(1008, f"site_mismatch: this connection is for site {self.site.key!r}")
        self.tab = hello.tab
        logs.bind(tab=hello.tab)
        strict = self.site.config.strict_identity
        issued: AnonymousIdentity | None = None
        if hello.identity is not None:
            try:
                await self.identify_with(hello.identity.user, hello.identity.token, {})
            except TokenRefused as exc:
                if strict:
                    raise Close(1008, f"identity_refused: {exc}"[:120]) from None
                await self.send(Error(code="identity_refused", message=str(exc)))
        visitors = self.state.visitors
        if self.user is None and not strict:
            anon = hello.anonymous
            if anon is not None and visitors.anonymous_valid(self.site.key, anon.anon, anon.sig):
                await self.refuse_if_erased(anon.anon)
                self.user = anon.anon
            else:
                anon_id, sig = visitors.new_anonymous(self.site.key)
                issued = AnonymousIdentity(anon=anon_id, sig=sig)
                self.user = anon_id
            self.anonymous = True
            await self.state.store.upsert_profile(self.site.key, self.user, {}, now_ms=now_ms())
        self.seq = await self.state.live.number(self.site.key, self.tab)
        self.take_tab()
        await delivery.listen(self)
        self.durable = await self.state.store.last_cseq(self.site.key, self.tab)
        self.phase = Phase.OPEN
        await self.send(
            Welcome(
                v=PROTOCOL_VERSION,
                tab=self.tab,
                ack=self.durable,
                user=self.user or "",
                anonymous=issued or (hello.anonymous if self.anonymous else None),
                needs_identity=self.user is None,
                max_frame=MAX_FRAME,
            )
        )
        await self.welcomed()
        self.open_mail()  # what other nodes sent meanwhile waited: the page says hello first
        await self.touch_live()
        await cobrowse.on_hello(self)

    def take_tab(self) -> None:
        """Be the one connection of this tab on this node: the older one closes (1008 ``tab_taken``)
        — older by the broker's numbers, whichever said hello first here.

        A tab reconnecting before its old socket died, or a copied tab using the
        same id, would otherwise have two connections both acknowledged while
        one row is stored, and each overwriting or removing the other's live
        entry.
        """
        key = (self.site.key, self.tab)
        other = self.state.tabs.get(key)
        if other is not None and other is not self:
            if other.seq > self.seq:  # a newer one (by the broker's numbers) got here first
                self.take()
                return
            other.take()
        self.state.tabs[key] = self

    async def identify_with(self, user: str, token: str, traits: dict[str, object]) -> None:
        verified = self.state.visitors.verify(
            self.site.key, token, now_s=int(time.time()), user=user
        )
        await self.refuse_if_erased(verified.user_id)
        previous = self.user
        self.user = verified.user_id
        self.anonymous = False
        merged = {**traits, **verified.traits}  # the signed traits win over the page's
        await self.state.store.upsert_profile(self.site.key, self.user, merged, now_ms=now_ms())
        if previous is not None and previous != self.user and self.tab:
            await self.state.live.leave(self.site.key, previous, self.tab, conn=self.conn_id)

    async def refuse_if_erased(self, user: str) -> None:
        """A visitor erased a moment ago is not taken back in (1008 ``erased``) by a page that was
        saying hello while the erasure ran: nothing of them is stored or reported live again."""
        if await privacy.erased_lately(self.state, self.site.key, user):
            raise Close(1008, privacy.ERASED)

    async def on_identify(self, message: Identify) -> None:
        try:
            await self.identify_with(message.user, message.token, dict(message.traits))
        except TokenRefused as exc:
            await self.refuse(Error(code="identity_refused", message=str(exc)))
            return
        await self.send(Identified(user=message.user))
        await self.touch_live()

    async def on_data(
        self, message: Location | Focus | Step | Signal | Goal | Feedback | Rating | Chat
    ) -> None:
        if self.user is None:
            await self.send(
                Error(
                    code="identity_required",
                    message="this site needs a verified visitor first",
                    cseq=message.cseq,
                )
            )
            return
        if message.cseq <= self.durable:
            await self.send(Ack(upto=self.durable))  # a resend of something already stored
            return
        if message.cseq <= self.received:
            return  # a resend of one being stored: its ack follows when it is
        self.received = message.cseq
        received = now_ms()
        if isinstance(message, Location):
            url = redact_url(message.url)
            process = self.index.resolve(url, message.markers)
            payload: dict[str, object] = {
                "url": url, "title": message.title, "nav": message.nav, "markers": list(message.markers),
                "referrer": redact_url(message.referrer) if message.referrer else "", "process": process,
            }  # fmt: skip
            self.live = self._live_state(
                url=url, title=message.title, nav=message.nav, process=process, updated_ms=received
            )
            self.markers = tuple(message.markers)
            kind = "location"
        elif isinstance(message, Step):
            payload = await runs.apply_step(self, message, now_ms=received)
            kind = "step"
            if payload.get("applied") == "yes":
                reached = {"walkthrough": str(payload.get("walkthrough", ""))}
                reached.update(step=message.step, event=message.event)
                self.live = self._live_state(step=reached)
                await self.touch_live()
                await cobrowse.step_seen(self)
        elif isinstance(message, Signal | Goal | Feedback | Rating | Chat):
            payload = msgspec.to_builtins(message)
            kind = str(payload.pop("kind"))
            for name in ("cseq", "at"):
                payload.pop(name, None)
            if isinstance(message, Feedback):
                payload["applied"] = await session_news.feedback(self, message, now_ms=received)
            elif isinstance(message, Rating):
                payload["applied"] = await session_news.rating(self, message, now_ms=received)
            elif isinstance(message, Chat):
                payload["applied"] = await chat.visitor_line(
                    self.state, self.site, self.user, message.session, message.text,
                    now_ms=received, tab=self.tab,
                )  # fmt: skip
            elif isinstance(message, Goal):
                await session_news.goal_seen(self, message)
        else:
            payload = {"focused": message.focused, "visible": message.visible}
            gained = message.focused and not (self.live and self.live.focused)
            self.live = self._live_state(
                focused=message.focused, visible=message.visible, updated_ms=received,
                **({"focus_ms": received} if gained else {}),
            )  # fmt: skip
            kind = "focus"
        record = EventRecord(
            self.site.key, self.user, self.tab, message.cseq, kind, message.at, received, payload
        )
        self.unwritten.append(record)
        if self.writer is None:
            self.writer = self.spawn(self.store_events)
        await self.touch_live()
        observation = frustration.observation_of(kind, message.at, payload)
        if observation is not None:
            await frustration.observe(self.state, self.site, self.user, self.live, observation)

    def _live_state(self, **changes: object) -> TabState:
        base = self.live or TabState(
            tab=self.tab, conn=self.conn_id, seq=self.seq, connected_ms=now_ms()
        )
        values = {f: getattr(base, f) for f in base.__struct_fields__}
        values.update(changes)
        return TabState(**values)

    async def touch_live(self) -> None:
        """Report the tab live; close (1008 ``tab_taken``) when a newer connection took it over.

        The first report for a visitor takes the entry over; later ones refresh
        it only while this connection still holds it, so an older connection,
        here or on another node, never overwrites the newer one's entry. Should
        an older connection have taken it over meanwhile (its first report came
        late), the newer one takes it back: the broker's numbers decide, not the
        order the reports arrived in. The first report for a visitor also makes
        sure they were not erased meanwhile (the erasure may not have seen this
        tab, which was not live yet): then the entry goes and the tab closes.
        """
        if self.user is None or not self.tab or self.taken:
            return
        if self.live is None:
            self.live = self._live_state()
        site, user, live = self.site.key, self.user, self.state.live
        first = self.live_user != user
        with self.state.metrics.timed_broker("presence"):
            kept = await live.put(site, user, self.live, take=first)
            if not kept and supersedes(entry_of(await live.tabs(site, user), self.tab), self.seq):
                kept = await live.put(site, user, self.live, take=True)
        if not kept:
            raise Close(1008, TAB_TAKEN)
        if first and await privacy.erased_lately(self.state, site, user):
            await live.leave(site, user, self.tab, conn=self.conn_id)
            raise Close(1008, privacy.ERASED)
        self.live_user = user

    # --- work started when needed -------------------------------------------------

    async def store_events(self) -> None:
        """Store the tab's events in cseq order, one write at a time; ack each write once committed.
        Runs while events wait (``writer``).

        A write starts only once the one before it committed, and the store
        commits a write whole or not at all: so what is stored of this tab is
        always every accepted event up to some cseq, and ``welcome.ack`` (the
        highest stored) never skips one. Events arriving while a write commits
        go together in the next write, acknowledged by one ``ack``. After a
        failed write nothing more is written (``writer`` stays set): the
        connection closes with 1011 and the client resends what was not
        acknowledged.
        """
        while self.unwritten:
            records, self.unwritten = self.unwritten, []
            try:
                with self.state.metrics.store_write.time():
                    await self.state.store.write_events(records)
            except Exception as exc:  # nothing is acknowledged: the client resends
                log.error("store write failed for tab %s: %s", self.tab, exc)
                raise Close(1011, "store unavailable; retry later") from exc
            self.durable = max(self.durable, records[-1].cseq)
            await self.send(Ack(upto=self.durable))
        self.writer = None  # in the same step as finding nothing more: the next event starts one

    # The tab's channel (``Receiver``): called by the broker, they only note and schedule.

    def heard(self, payload: bytes) -> None:
        if self.inbox is None:
            self.inbox = deque()
        if len(self.inbox) >= INBOX_AT_MOST:  # as a listener that fell behind: listen again
            self.lagging = True
        else:
            self.inbox.append(payload)
        self._fetch_mail()

    def ended(self, lagged: bool) -> None:
        if lagged:
            self.lagging = True
            self._fetch_mail()
        else:  # only a closing broker ends the channel
            self.stop(Close(1012, "server shutting down"))

    def open_mail(self) -> None:
        """The page was welcomed: what other nodes sent it is acted on from now on."""
        self.mail_open = True
        self._fetch_mail()

    def _fetch_mail(self) -> None:
        if (
            self.mail_open
            and self.courier is None
            and not self.ending  # being left: its end waits for no courier started after
            and (self.inbox or self.lagging)
        ):
            self.courier = self.spawn(self.read_mail)

    async def read_mail(self) -> None:
        """Act on what waits in the inbox (``courier``, while some does)."""
        try:
            await delivery.read_mail(self)
        except BrokerError as exc:
            log.error("tab %s: its broker channel is out of reach: %s", self.tab, exc)
            raise Close(1011, "broker unavailable; retry later") from exc

    async def beat(self) -> float | None:
        """Report the tab live (the node's heartbeat timer calls it every third of the entry's time
        to live); seconds until the next beat. A report the broker could not take is tried again
        at the next beat (the entry outlives two missed ones); a tab taken or erased meanwhile
        closes."""
        if self.ending or self.stopped is not None:
            return None
        logs.bind(request=self.conn_id, site=self.site.key, tab=self.tab)
        self.beating = asyncio.current_task()  # the connection's end cancels it
        try:
            await self.touch_live()
        except BrokerError as exc:
            log.warning("tab %s: could not report it live: %s", self.tab, exc)
        except Exception as exc:  # taken, erased: the connection closes
            self.stop(exc)
            return None
        finally:
            self.beating = None
        return self.beat_interval()

    def beat_interval(self) -> float:
        return self.state.live.ttl_ms / 3 / 1000

    async def leave(self) -> None:
        if self.state.tabs.get((self.site.key, self.tab)) is self:
            del self.state.tabs[(self.site.key, self.tab)]
        if self.mailbox is not None:
            with contextlib.suppress(Exception):
                await self.mailbox.close()
        if self.live_user is not None:
            await self.state.live.leave(self.site.key, self.live_user, self.tab, conn=self.conn_id)


def _identity_required(req: int) -> Error:
    return Error(
        code="identity_required", message="this site needs a verified visitor first", req=req
    )


def _origin_allowed(ws: WebSocket, site: Site) -> bool:
    origin = ws.headers.get("origin")
    return origin is not None and origin.rstrip("/") in site.config.allowed_origins


async def tab_socket(ws: WebSocket) -> None:
    state: AppState = ws.app.state.tandem
    site = state.sites.get(ws.query_params.get("site", ""))
    if site is None or not _origin_allowed(ws, site):
        # Closing before accepting refuses the handshake (HTTP 403).
        await ws.close(code=1008)
        return
    await ws.accept()
    conn = TabConnection(ws, state, site, state.process_index(site.key))
    logs.bind(request=conn.conn_id, site=site.key)
    state.connections.add(conn)
    state.beats.add(conn, conn.beat_interval())
    task = conn.task = asyncio.current_task()
    assert task is not None
    error: BaseException | None = None
    try:
        try:
            await _receive(conn)
        except asyncio.CancelledError:
            if conn.stopped is None or task.uncancel() > 0:
                raise  # not (only) stopped: cancelled from outside (the server stopping)
        except Exception as exc:
            error = exc
        if conn.stopped is not None:
            error = conn.stopped
            if task.cancelling():  # stopped while it was ending anyway: that cancel is taken here
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.sleep(0)
                task.uncancel()
        conn.ending = True
        if isinstance(error, Close):
            state.metrics.errors.labels(f"close_{error.code}").inc()
            with contextlib.suppress(RuntimeError):
                await ws.close(code=error.code, reason=error.reason)
        elif error is not None and not isinstance(error, WebSocketDisconnect):
            log.exception("tab connection failed", exc_info=error)
            with contextlib.suppress(RuntimeError):
                await ws.close(code=1011, reason="server error")
    finally:
        conn.ending = True
        state.beats.remove(conn)
        works = [w for w in (conn.writer, conn.courier, conn.beating) if w is not None]
        for work in works:
            work.cancel()
        try:
            # They end before the tab is left: one whose await swallowed the cancel must not
            # listen to the tab's channel or report it live after (``conn.ending`` stops it).
            if works:
                await asyncio.wait(works, timeout=TASKS_END_WITHIN_S)
        finally:
            # Writes already queued still commit (the store drains them); the client
            # resends anything it did not see acknowledged, and duplicates are dropped.
            state.connections.discard(conn)
            with contextlib.suppress(Exception):
                await conn.leave()


async def _receive(conn: TabConnection) -> None:
    """Take the connection's frames until it disconnects or is stopped.

    A stop cancels this at its next await; should some library's await swallow that cancel
    (``asyncio.wait_for`` does on Python 3.11 when what it waits for finishes at that very
    moment), the frame being handled finishes and the loop ends here instead of waiting for
    the next frame.
    """
    while conn.stopped is None:
        message = await conn.ws.receive()
        if message["type"] == "websocket.disconnect":
            return
        data = message.get("bytes")
        if data is None:
            await conn.refuse(ProtocolError(Problem.NOT_BINARY, "frames must be binary (msgpack)"))
            continue
        await conn.on_frame(data)
