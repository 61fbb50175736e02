"""Messages for a visitor's pages, from whichever server node, to wherever their tabs are connected.

A tab's WebSocket is held by one node; the agent who answers, the admin API
that pushes help, or the erasure that closes the visitor's tabs may be on
another. Every message for a page goes through here: delivered at once when
the tab's connection on this node is the one that serves the tab, otherwise
sent on the tab's broker channel (``server.protocol.tabmail``), which the node
holding the tab listens to (``listen``). With the in-process broker every tab
is on this node.

Which connection serves a tab is decided by the broker, not by this node: the
one holding the tab's live entry, or a newer one (by the number the broker
gave each connection at its hello, ``server.live.serves``). An older
connection still open here — a half-open socket a newer connection elsewhere
replaced — is never given the page's messages.

What reaches nobody (the tab went away, its node died) is not kept: a page
that comes back learns where things stand at its hello (the co-browse state)
or from the store (the chat transcript, its runs).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from typing import TYPE_CHECKING

from server.broker import BrokerError, Listener, backoff
from server.live import TabState, serves
from server.protocol import decode_server, encode
from server.protocol.messages import ServerMessage
from server.protocol.tabmail import (
    Close,
    MailInvalid,
    Send,
    Taken,
    addressed_to,
    channel_of,
    decode_mail,
    encode_mail,
    newer,
)

if TYPE_CHECKING:
    from server.web.state import AppState
    from server.web.tab_socket import TabConnection

log = logging.getLogger("tandem.delivery")

#: A tab whose broker channel was lost tries to listen again for this long before it closes.
RELISTEN_FOR_S = 30.0


async def _here(state: AppState, site: str, tab: str, user: str | None) -> TabConnection | None:
    """The tab's connection on this node, when it is the one serving the tab (it holds the tab's
    live entry, or is newer than whoever does); None otherwise — the channel then reaches the one
    that does, wherever it is."""
    conn: TabConnection | None = state.tabs.get((site, tab))
    if conn is None or conn.taken:
        return None
    owner = user or conn.user
    if owner is None:  # a connection with no visitor yet has no live entry: nobody else serves it
        return conn
    try:
        entry = await state.live.entry(site, owner, tab)
    except BrokerError as exc:
        log.warning("the broker's live tabs are out of reach: %s", exc)
        return None
    return conn if serves(entry, conn.conn_id, conn.seq) else None


async def _notify(state: AppState, site: str, tab: str, mail: Send | Close | Taken) -> bool:
    """Send to the node holding the tab; whether any node listens to it (never raises)."""
    try:
        with state.metrics.timed_broker("notify"):
            return await state.broker.notify(channel_of(site, tab), encode_mail(mail)) > 0
    except BrokerError as exc:
        log.warning("could not reach tab %s through the broker: %s", tab, exc)
        return False


async def to_tab(
    state: AppState, site: str, tab: str, message: ServerMessage, *, user: str | None = None
) -> bool:
    """Deliver ``message`` to the page of ``tab`` (only while it is ``user``'s, when given).

    True when its connection took it here, or some node holding the tab was
    sent it; False when the tab is connected nowhere (or to another visitor
    here). Never raises.
    """
    conn = await _here(state, site, tab, user)
    if conn is not None:
        return (user is None or conn.user == user) and await conn.deliver(message)
    return await _notify(state, site, tab, Send(frame=encode(message), user=user or ""))


async def to_visitor(
    state: AppState, site: str, user: str, message: ServerMessage, *, skip_tab: str = ""
) -> int:
    """Deliver ``message`` to every open tab of the visitor (but ``skip_tab``); how many took it.

    The tabs on this node directly; the others the broker's live tabs know of
    through their channels.
    """
    live = {t.tab: t for t in await _live_tabs(state, site, user)}
    delivered: set[str] = {skip_tab}
    count = 0
    here: list[TabConnection] = [
        conn
        for (at, tab), conn in list(state.tabs.items())
        if at == site and tab not in delivered and conn.user == user and not conn.taken
    ]
    for conn in here:
        if serves(live.get(conn.tab), conn.conn_id, conn.seq):
            delivered.add(conn.tab)
            count += await conn.deliver(message)
    elsewhere = [tab for tab in live if tab not in delivered]
    if elsewhere:
        mail = Send(frame=encode(message), user=user)
        for tab in elsewhere:
            count += await _notify(state, site, tab, mail)
    return count


async def close_visitor(state: AppState, site: str, user: str, *, code: int, reason: str) -> None:
    """Close every connection of the visitor's tabs (what they had not stored yet is dropped)."""
    here: set[str] = set()
    for conn in [c for c in list(state.connections) if c.site.key == site and c.user == user]:
        here.add(conn.tab)
        await conn.shut(code, reason)
    for live in await _live_tabs(state, site, user):
        if live.tab not in here:
            await _notify(state, site, live.tab, Close(code=code, reason=reason, user=user))


async def _live_tabs(state: AppState, site: str, user: str) -> list[TabState]:
    try:
        return list(await state.live.tabs(site, user))
    except BrokerError as exc:
        log.warning("the broker's live tabs are out of reach: %s", exc)
        return []


# --- the node holding a tab ------------------------------------------------------------------


async def listen(conn: TabConnection) -> None:
    """Listen to the tab's channel (``conn.mailbox``), then tell any older connection of the tab,
    on any node, that this one took it (it closes as ``tab_taken``).

    What comes on the channel is handed to the connection as it arrives (it is the listener's
    ``Receiver``: no queue and no task per tab while nothing comes), and waits in its inbox
    until the page was welcomed. The listener is the connection's as soon as it exists, so
    that the connection's end closes it whenever the hello is cancelled (a newer connection of
    the tab, the server stopping).
    """
    conn.mailbox = await conn.state.broker.listen(channel_of(conn.site.key, conn.tab), conn)
    await _notify(conn.state, conn.site.key, conn.tab, Taken(conn=conn.conn_id, seq=conn.seq))


async def listen_again(conn: TabConnection) -> Listener:
    """The tab's channel was lost (the broker's pub/sub connection, or an inbox too full): listen
    again, report the tab live and tell the page where its co-browse stands, retrying what failed
    with jittered backoff for up to ``RELISTEN_FOR_S`` — every tab of the node lost its channel at
    the same moment, and they should neither give up at the first failure nor all come back at
    once. The old listener (``conn.mailbox``) is closed only once the new one listens, so that
    the tab's node is never out of its route meanwhile (a word sent then — an erasure's close —
    would reach nobody). ``BrokerError`` when the broker stays out of reach; ``Close``
    (``tab_taken``) when a newer connection of the tab said hello meanwhile (its word was lost
    with the channel)."""
    from server.web import cobrowse

    loop = asyncio.get_running_loop()
    deadline = loop.time() + RELISTEN_FOR_S
    listener: Listener | None = None
    attempt = 0
    while True:
        if conn.ending:  # its end cancelled this, and some await swallowed that
            raise asyncio.CancelledError()
        try:
            if listener is None:
                listener = await conn.state.broker.listen(channel_of(conn.site.key, conn.tab), conn)
                old, conn.mailbox = conn.mailbox, listener
                if old is not None and old is not listener:
                    with contextlib.suppress(Exception):
                        await old.close()
                if conn.ending:  # the connection was left meanwhile: its end closed the old one
                    with contextlib.suppress(Exception):
                        await listener.close()
                    raise asyncio.CancelledError()
            await conn.touch_live()
            await cobrowse.on_hello(conn, snapshot=False)
            return listener
        except BrokerError as exc:
            wait = backoff.delay(attempt, random.random())
            if loop.time() + wait > deadline:
                raise
            log.info("tab %s: back on the broker failed (%s); again in %.2f s", conn.tab, exc, wait)
            await asyncio.sleep(wait)
            attempt += 1


async def read_mail(conn: TabConnection) -> None:
    """Act on what other nodes sent the tab (``conn.inbox``), in order, until nothing waits.

    A channel that was lost (``conn.lagging``: the broker's connection, or
    an inbox too full) is listened to again once what came before the loss
    was acted on (``listen_again``, which closes the old listener once the new
    one listens; ``BrokerError`` when it cannot). What was
    sent meanwhile is gone: a newer connection of the tab may have said hello
    elsewhere, so the tab is reported live again (it closes as ``tab_taken``
    when it was taken), and the page hears where its co-browse stands again.
    """
    while True:
        while conn.inbox:
            raw = conn.inbox.popleft()
            await on_mail(conn, raw)
        conn.inbox = None
        if not conn.lagging:
            conn.courier = None  # in the same step as finding nothing: the next mail starts one
            return
        conn.lagging = False
        log.warning("tab %s: its broker channel lagged; listening again", conn.tab)
        await listen_again(conn)


async def on_mail(conn: TabConnection, raw: bytes) -> None:
    try:
        mail = decode_mail(raw)
    except MailInvalid as exc:
        log.error("tab %s: unreadable mail on its channel: %s", conn.tab, exc)
        return
    if isinstance(mail, Taken):
        if newer(mail, conn.conn_id, conn.seq):
            conn.take()
        return
    if conn.taken or not addressed_to(mail, conn.user):
        return
    if isinstance(mail, Close):
        await conn.shut(mail.code, mail.reason)
        return
    try:
        message = decode_server(mail.frame)
    except Exception as exc:  # a node of another version: nothing this page could use
        log.error("tab %s: unreadable message for its page: %s", conn.tab, exc)
        return
    await conn.deliver(message)
