"""The co-browse session's shell (docs/cobrowse.md): the visitor's consent, the mirror's stream,
the control token, and the agents' actions on the page.

What lives where: the mirror's events go through the broker's stream for the
session (each full snapshot starts a new epoch and is kept in its snapshot
slot, so an agent who joins or comes back gets snapshot + tail without the
page recording anew); what agents need to know (who watches, control, the
walkthrough step, results of actions) goes through a second stream, the
session's news; the visitor's consent and the control token are broker state
changed by compare-and-set; the walkthrough step the page reached is in its
live tab's entry. So any node serves the agents, whichever node holds the
visitor's tab: the page is reached through ``server.web.delivery``, and the
mirror's stream says what is known of the page's nodes, which is what agents'
actions are checked against (``server.console.live``), along with the nodes
seen private in the stream's current epoch, kept in broker state by the
visitor's node before it streams the batch that says so (so an agent whose
view lags behind the page is still refused a node that became private).
The pure parts are ``server.cobrowse`` (re-check, control, relay, nodes).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any, Literal

import msgspec

from server.broker import BrokerError
from server.cobrowse import control
from server.cobrowse.nodes import PrivateNodes, merge_private, private_ids, private_in
from server.cobrowse.relay import begins_with_snapshot, restamp
from server.cobrowse.scrub import MirrorScrubber
from server.knowledge.site import Site
from server.protocol.agent import AgentServerMessage, Result, Status, encode_agent
from server.protocol.messages import Cobrowse, Consent, Error, Mirror, RemoteDone
from server.web import delivery

if TYPE_CHECKING:
    from server.web.state import AppState
    from server.web.tab_socket import TabConnection

log = logging.getLogger("tandem.cobrowse")

#: How long an agent counts as watching after their console's socket last said so.
WATCHING_TTL_MS = 30_000
#: A page asked for a fresh snapshot is not asked again for this long (several agents joining).
SNAPSHOT_ASKED_WITHIN_MS = 5_000
#: The visitor's consent and the "this visitor is in a co-browse" mark are forgotten after this
#: long, like a session an agent took and never closed (``agents.ACCEPTED_FOR_AT_MOST_MS``).
VIEW_TTL_MS = 12 * 3600 * 1000
#: A question unanswered within its time counts as declined after this much more (the page
#: declines by itself on time; this is for a page that went away meanwhile).
ANSWER_GRACE_MS = 5_000


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def stream_of(site: str, session: str) -> str:
    return f"cb:{site}:{session}"


def news_of(site: str, session: str) -> str:
    return f"cbnews:{site}:{session}"


def _view_key(site: str, session: str) -> str:
    return f"cbview:{site}:{session}"


def _control_key(site: str, session: str) -> str:
    return f"cbctl:{site}:{session}"


def _active_key(site: str, user: str) -> str:
    return f"cbactive:{site}:{user}"


def watchers_of(site: str, session: str) -> str:
    return f"cbwatch:{site}:{session}"


def _private_key(site: str, session: str) -> str:
    return f"cbprivate:{site}:{session}"


class View(msgspec.Struct, frozen=True, kw_only=True):
    """Whether the visitor lets agents see the page, and which tab is shown."""

    state: Literal["asked", "granted", "declined"]
    user: str
    tab: str
    asked_ms: int = 0


class Mirroring(msgspec.Struct, kw_only=True):
    """What a tab's connection knows of its own mirror: the recorder run and the re-check's nodes."""

    session: str = ""
    page: int = 0
    floor_ms: float = 0
    scrubber: MirrorScrubber = msgspec.field(default_factory=MirrorScrubber)
    epoch: int = 0  # the stream's epoch its full snapshot started
    private: set[int] = msgspec.field(default_factory=set)  # nodes recorded private in that epoch


# --- broker state ------------------------------------------------------------------------


async def view_of(state: AppState, site: str, session: str) -> tuple[View | None, int]:
    found = await state.broker.get(_view_key(site, session))
    if found is None:
        return None, 0
    return msgspec.msgpack.decode(found.value, type=View), found.version


async def set_view(state: AppState, site: str, session: str, view: View, *, version: int) -> bool:
    """Write the view by compare-and-set; the visitor's "in a co-browse" mark follows it."""
    written = await state.broker.compare_and_set(
        _view_key(site, session), msgspec.msgpack.encode(view), expected_version=version,
        ttl_ms=VIEW_TTL_MS,
    )  # fmt: skip
    if written is None:
        return False
    active = _active_key(site, view.user)
    current = await state.broker.get(active)
    if view.state == "declined":
        if current is not None and current.value == session.encode():
            await state.broker.delete(active, expected_version=current.version)
    else:
        await state.broker.compare_and_set(
            active, session.encode(), expected_version=current.version if current else 0,
            ttl_ms=VIEW_TTL_MS,
        )  # fmt: skip
    return True


def answered_in_time(view: View, site: Site, now: int) -> View:
    """The view as it stands now: a question left unanswered too long counts as declined."""
    late = now - view.asked_ms > site.config.cobrowse.answer_within_ms + ANSWER_GRACE_MS
    if view.state == "asked" and late:
        return View(state="declined", user=view.user, tab=view.tab, asked_ms=view.asked_ms)
    return view


async def control_of(state: AppState, site: str, session: str) -> tuple[control.Token | None, int]:
    found = await state.broker.get(_control_key(site, session))
    if found is None:
        return None, 0
    return control.from_bytes(found.value), found.version


async def set_control(
    state: AppState, site: Site, session: str, token: control.Token, *, version: int
) -> bool:
    ttl = control.ttl_ms(
        token,
        answer_within_ms=site.config.cobrowse.answer_within_ms,
        control_for_ms=site.config.cobrowse.control_for_ms,
    )
    written = await state.broker.compare_and_set(
        _control_key(site.key, session), control.to_bytes(token), expected_version=version,
        ttl_ms=ttl,
    )  # fmt: skip
    return written is not None


async def drop_control(state: AppState, site: str, session: str, *, version: int | None) -> bool:
    """Nobody has control (``version``: only if it is still that token; None: whatever it is)."""
    return await state.broker.delete(_control_key(site, session), expected_version=version)


async def record_private(
    state: AppState, site: str, session: str, epoch: int, ids: frozenset[int]
) -> None:
    """Keep ``ids`` among the nodes seen private in ``epoch`` of the session's stream."""
    key = _private_key(site, session)
    for _ in range(10):
        found = await state.broker.get(key)
        stored = PrivateNodes.from_bytes(found.value) if found else None
        merged = merge_private(stored, epoch, ids)
        if merged is None:
            return
        written = await state.broker.compare_and_set(
            key, merged.to_bytes(), expected_version=found.version if found else 0,
            ttl_ms=VIEW_TTL_MS,
        )  # fmt: skip
        if written is not None:
            return
    raise BrokerError(f"could not record the private nodes of session {session}")


async def private_nodes(state: AppState, site: str, session: str, epoch: int) -> frozenset[int]:
    """The nodes the visitor's node has seen private in ``epoch`` of the session's stream."""
    found = await state.broker.get(_private_key(site, session))
    return private_in(PrivateNodes.from_bytes(found.value) if found else None, epoch)


async def watching(state: AppState, site: str, session: str) -> dict[str, str]:
    """The agents watching now: email → name."""
    members = await state.broker.presence(watchers_of(site, session))
    return {email: data.decode() for email, data in members.items()}


async def step_of(state: AppState, site: str, view: View | None) -> dict[str, str]:
    """The walkthrough step the page the agents see reached (its live tab's entry says)."""
    if view is None or not view.tab:
        return {}
    tabs = await state.live.tabs(site, view.user)
    return next((dict(t.step) for t in tabs if t.tab == view.tab), {})


async def audit(
    state: AppState, site: str, actor: str, action: str, session: str, **detail: Any
) -> None:
    await state.store.append_audit(
        site, at_ms=now_ms(), actor=actor, action=action, target=session, detail=detail
    )


# --- telling everyone where things stand --------------------------------------------------------


async def status_of(state: AppState, site: str, session: str) -> Status:
    view, _ = await view_of(state, site, session)
    if view is not None:
        view = answered_in_time(view, state.sites[site], now_ms())
    token, _ = await control_of(state, site, session)
    names = await watching(state, site, session)
    step = await step_of(state, site, view)
    snapshot = await state.broker.snapshot(stream_of(site, session))
    return Status(
        view=view.state if view else "",
        watching=sorted(names.values()),
        control=token.phase.value if token else "",
        controller=token.agent if token else "",
        controller_name=token.name if token else "",
        step=step,
        waiting_for_page=view is not None and view.state == "granted" and snapshot is None,
    )


async def publish_news(
    state: AppState, site: str, session: str, message: AgentServerMessage
) -> None:
    await state.broker.publish(news_of(site, session), encode_agent(message))


async def tell_all(state: AppState, site: Site, session: str, *, snapshot: bool = False) -> None:
    """Everyone hears the session's state: the agents (news) and the page (``cobrowse``)."""
    await publish_news(state, site.key, session, await status_of(state, site.key, session))
    await tell_page(state, site, session, snapshot=snapshot)


async def tell_page(state: AppState, site: Site, session: str, *, snapshot: bool = False) -> None:
    view, _ = await view_of(state, site.key, session)
    if view is None or not view.tab:
        return
    message = await page_message(state, site, session, view, snapshot=snapshot)
    await delivery.to_tab(state, site.key, view.tab, message, user=view.user)


async def page_message(
    state: AppState, site: Site, session: str, view: View, *, snapshot: bool = False
) -> Cobrowse:
    view = answered_in_time(view, site, now_ms())
    token, _ = await control_of(state, site.key, session)
    names = sorted((await watching(state, site.key, session)).values())
    asking_control = token is not None and token.phase is control.Phase.REQUESTED
    ask: Literal["", "view", "control"] = ""
    if view.state == "asked":
        ask = "view"
    elif asking_control and view.state == "granted":
        ask = "control"
    return Cobrowse(
        session=session,
        agents=names,
        ask=ask,
        asker=(token.name if token and ask == "control" else names[0] if names else ""),
        answer_within_ms=site.config.cobrowse.answer_within_ms if ask else 0,
        record=view.state == "granted",
        snapshot=snapshot and view.state == "granted",
        control=token.name if token and token.phase is control.Phase.GRANTED else "",
    )


# --- the agents' side ------------------------------------------------------------------------------


async def agent_joins(
    state: AppState, site: Site, session: str, user: str, name: str, *, again: bool = False
) -> None:
    """An agent opens the session's live view: the visitor is asked (or told) first.

    A visitor who said no is not asked again on every join, only when an agent
    asks again (``again``). With no tab open, the question waits for the
    visitor's next page to say hello."""
    view, version = await view_of(state, site.key, session)
    if view is not None:
        view = answered_in_time(view, site, now_ms())
    if view is None or (again and view.state == "declined"):
        from server.web.help import where_is

        place = await where_is(state, site.key, user, None)
        fresh = View(
            state="asked" if site.config.cobrowse.ask_before_viewing else "granted",
            user=user, tab=place.tab if place else "", asked_ms=now_ms(),
        )  # fmt: skip
        if await set_view(state, site.key, session, fresh, version=version):
            await audit(
                state, site.key, "system", "view.asked" if fresh.state == "asked" else "view.started",
                session, agent=name, tab=fresh.tab,
            )  # fmt: skip
    await tell_all(state, site, session)


async def ask_for_snapshot(state: AppState, site: Site, session: str) -> None:
    """The page sends a fresh full snapshot (a new epoch): once, however many agents ask at once."""
    key = (site.key, session)
    if now_ms() - state.snapshot_asked.get(key, 0) < SNAPSHOT_ASKED_WITHIN_MS:
        return
    state.snapshot_asked[key] = now_ms()
    await tell_page(state, site, session, snapshot=True)


async def end(state: AppState, site: Site, session: str) -> None:
    """The co-browse session is over (closed or expired): the page stops, the banner goes, the
    agents' views close, and what the broker kept of the page is dropped."""
    view, _ = await view_of(state, site.key, session)
    await drop_control(state, site.key, session, version=None)
    await state.broker.delete(_private_key(site.key, session))
    if view is not None:
        await state.broker.delete(_view_key(site.key, session))
        active = await state.broker.get(_active_key(site.key, view.user))
        if active is not None and active.value == session.encode():  # not a later session's
            await state.broker.delete(
                _active_key(site.key, view.user), expected_version=active.version
            )
    if view is not None and view.tab:  # its connection stops mirroring, wherever it is
        ended = Cobrowse(session=session, ended=True)
        await delivery.to_tab(state, site.key, view.tab, ended, user=view.user)
    await publish_news(state, site.key, session, Status(ended=True))  # the agents' views close
    state.snapshot_asked.pop((site.key, session), None)
    await state.broker.drop_stream(stream_of(site.key, session))
    await state.broker.drop_stream(news_of(site.key, session))


# --- the visitor's side ----------------------------------------------------------------------------


async def on_hello(conn: TabConnection, *, snapshot: bool = True) -> None:
    """A tab says hello (a new page, a reconnect): it goes on with the co-browse it was in,
    from a fresh snapshot (what the agents saw of it before is gone). Also when its broker
    channel lagged (``snapshot`` False): it hears again where things stand."""
    if conn.user is None:
        return
    found = await conn.state.broker.get(_active_key(conn.site.key, conn.user))
    if found is None:
        return
    session = found.value.decode()
    view, version = await view_of(conn.state, conn.site.key, session)
    if view is None or view.user != conn.user:
        return
    if view.state == "asked" and not view.tab:  # asked while no tab was open: this one answers
        claimed = View(state="asked", user=view.user, tab=conn.tab, asked_ms=now_ms())
        if not await set_view(conn.state, conn.site.key, session, claimed, version=version):
            return
        view = claimed
    if view.tab != conn.tab:
        return
    await conn.deliver(await page_message(conn.state, conn.site, session, view, snapshot=snapshot))


async def on_consent(conn: TabConnection, message: Consent) -> None:
    state, site, session = conn.state, conn.site, message.session
    view, version = await view_of(state, site.key, session)
    if view is None or view.user != conn.user:
        await conn.send(
            Error(code="no_cobrowse", message="no agent is with this visitor in that session")
        )
        return
    actor = f"visitor:{await state.store.visitor_pseudonym(site.key, view.user)}"
    if message.what == "view":
        current = answered_in_time(view, site, now_ms())
        if message.granted and current.state == "asked":  # a yes only to a question standing
            granted = View(state="granted", user=view.user, tab=conn.tab, asked_ms=view.asked_ms)
            if await set_view(state, site.key, session, granted, version=version):
                await audit(state, site.key, actor, "view.granted", session, tab=conn.tab)
        elif not message.granted and view.state != "declined":
            declined = View(state="declined", user=view.user, tab=view.tab, asked_ms=view.asked_ms)
            if await set_view(state, site.key, session, declined, version=version):
                what = "view.stopped" if view.state == "granted" else "view.declined"
                await audit(state, site.key, actor, what, session, tab=conn.tab)
                await drop_control(state, site.key, session, version=None)
                conn.mirroring = None
        await tell_all(state, site, session)
        return
    token, token_version = await control_of(state, site.key, session)
    if not message.granted:
        # Whatever changed since (an action renewing the grant), the visitor's no wins.
        if token is not None and await drop_control(state, site.key, session, version=None):
            what = "control.revoked" if token.phase is control.Phase.GRANTED else "control.declined"
            await audit(state, site.key, actor, what, session, agent=token.agent)
    else:
        answered = control.answer(token, True, now_ms())
        if isinstance(answered, control.Refusal) or answered is None:
            await conn.send(
                Error(
                    code=answered.code if answered else "not_asked",
                    message="no agent asked for control",
                )
            )
        elif await set_control(state, site, session, answered, version=token_version):
            await audit(state, site.key, actor, "control.granted", session, agent=answered.agent)
    await tell_all(state, site, session)


async def on_mirror(conn: TabConnection, message: Mirror) -> None:
    """Re-check the page's mirror events, put them on the server's clock, and stream them."""
    state, site = conn.state, conn.site
    view, _ = await view_of(state, site.key, message.session)
    if view is None or view.state != "granted" or view.tab != conn.tab or view.user != conn.user:
        conn.mirroring = None
        await conn.send(Cobrowse(session=message.session, ended=view is None))
        return
    events = [msgspec.to_builtins(e) for e in message.events]
    mirroring = conn.mirroring
    if message.full:
        if not begins_with_snapshot(events):
            await conn.refuse(
                Error(
                    code="invalid",
                    message="a full mirror begins with Meta and FullSnapshot",
                    field="events",
                )
            )
            return
        mirroring = conn.mirroring = Mirroring(session=message.session, page=message.page)
        state.snapshot_asked.pop((site.key, message.session), None)
    elif (
        mirroring is None or mirroring.page != message.page or mirroring.session != message.session
    ):
        # The tail of a recorder run this connection did not see begin (the page came back
        # on a new connection): the agents can only go on from a fresh snapshot.
        await ask_for_snapshot(state, site, message.session)
        return
    safe, stripped = mirroring.scrubber.scrub(events)
    if stripped:
        log.warning(
            "mirror of tab %s: %d values or attributes removed by the re-check", conn.tab, stripped
        )
    safe, mirroring.floor_ms = restamp(safe, now_ms=now_ms(), floor_ms=mirroring.floor_ms)
    # What the re-check learnt of the page's nodes goes along: actions are checked against it.
    changes = mirroring.scrubber.take_changes()
    private = private_ids(changes) - mirroring.private
    payload = msgspec.msgpack.encode(
        {"page": message.page, "events": safe, "nodes": changes.to_wire()}
    )
    stream = stream_of(site.key, message.session)
    if private and not message.full:  # kept before any agent can see the batch that says so
        await record_private(state, site.key, message.session, mirroring.epoch, private)
        mirroring.private |= private
    with state.metrics.timed_broker("publish"):
        published = await state.broker.publish(stream, payload, new_epoch=message.full)
    if message.full:
        # A new epoch: its agents learn the snapshot's private nodes from the snapshot itself,
        # before they can act on any of its nodes; kept for the batches that follow it.
        mirroring.epoch = published.epoch
        if private:
            await record_private(state, site.key, message.session, published.epoch, private)
            mirroring.private |= private
        await state.broker.set_snapshot(stream, payload)
        await publish_news(
            state, site.key, message.session, await status_of(state, site.key, message.session)
        )


async def on_remote_done(conn: TabConnection, message: RemoteDone) -> None:
    view, _ = await view_of(conn.state, conn.site.key, message.session)
    if view is None or view.user != conn.user or view.tab != conn.tab:
        return  # not this page's co-browse: nothing to tell its agents
    await publish_news(
        conn.state, conn.site.key, message.session,
        Result(id=message.id, ok=message.ok, reason=message.reason),
    )  # fmt: skip


async def step_seen(conn: TabConnection) -> None:
    """The visitor's walkthrough moved (its live tab's entry has the step): agents watching see
    the step reached."""
    if conn.user is None:
        return
    found = await conn.state.broker.get(_active_key(conn.site.key, conn.user))
    if found is not None:
        session = found.value.decode()
        await publish_news(
            conn.state, conn.site.key, session, await status_of(conn.state, conn.site.key, session)
        )
