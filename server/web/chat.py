"""Chat between a visitor and the agent who took their support session, kept as its transcript.

A chat is open while the session's assignment is accepted. Each line is a
``chat`` support data item of the session (the transcript, with who said it
and when); the visitor's lines come as durable ``chat`` messages over their
tab's socket, the agent's from the console. Typing is a moment's news, kept
in the broker for a few seconds (so the agent's console sees it whichever node
it asks) and never stored. Lines reach the visitor's tabs wherever they are
connected (``server.web.delivery``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from server.knowledge.site import Site
from server.protocol.messages import ChatLine, Typed
from server.store.base import AccountRecord, Assignment
from server.web import delivery

if TYPE_CHECKING:
    from server.web.state import AppState

#: The support data item of one chat line.
CHAT = "chat"
#: "Is typing" is shown this long after the last keystroke reported.
TYPING_FRESH_MS = 4000
MAX_TEXT = 2000


async def open_chat(state: AppState, site: str, session: str) -> Assignment | None:
    """The session's assignment when an agent has taken it (the chat is open), else None."""
    found = await state.store.open_assignment(site, session)
    return found if found is not None and found.state == "accepted" else None


async def visitor_line(
    state: AppState, site: Site, user: str, session: str, text: str, *, now_ms: int, tab: str
) -> str:
    """A line from the visitor: kept in the transcript and shown in their other tabs; what became of it."""
    chat = await open_chat(state, site.key, session)
    if chat is None or chat.user_id != user:
        return "no_open_chat"
    await state.store.append_support_item(
        site.key, user, CHAT, at_ms=now_ms,
        payload={"session": session, "sender": "visitor", "name": "", "text": text, "at_ms": now_ms},
    )  # fmt: skip
    await state.broker.delete(_typing_key(site.key, session))
    echo = ChatLine(session=session, sender="visitor", text=text, at=now_ms)
    await delivery.to_visitor(state, site.key, user, echo, skip_tab=tab)
    return "yes"


async def visitor_typing(
    state: AppState, site: str, user: str, session: str, *, now_ms: int
) -> None:
    """The visitor is typing in their own open chat (the client says so at most every 2 s)."""
    chat = await open_chat(state, site, session)
    if chat is None or chat.user_id != user:
        return
    key = _typing_key(site, session)
    current = await state.broker.get(key)
    await state.broker.compare_and_set(
        key, str(now_ms).encode(), expected_version=current.version if current else 0,
        ttl_ms=TYPING_FRESH_MS,
    )  # fmt: skip


async def agent_line(
    state: AppState, site: Site, session: str, agent: AccountRecord, text: str, *, now_ms: int
) -> bool:
    """A line from the agent who holds the session: kept, and sent to the visitor's tabs."""
    chat = await open_chat(state, site.key, session)
    text = text.strip()[:MAX_TEXT]
    if chat is None or chat.agent != agent.email or not text or "\x00" in text:
        return False
    await state.store.append_support_item(
        site.key, chat.user_id, CHAT, at_ms=now_ms,
        payload={"session": session, "sender": "agent", "name": agent.name, "text": text, "at_ms": now_ms},
    )  # fmt: skip
    line = ChatLine(session=session, sender="agent", name=agent.name, text=text, at=now_ms)
    await delivery.to_visitor(state, site.key, chat.user_id, line)
    return True


async def agent_typing(state: AppState, site: Site, session: str, agent: AccountRecord) -> bool:
    chat = await open_chat(state, site.key, session)
    if chat is None or chat.agent != agent.email:
        return False
    typed = Typed(session=session, name=agent.name)
    await delivery.to_visitor(state, site.key, chat.user_id, typed)
    return True


async def transcript(state: AppState, site: str, session: str, *, now_ms: int) -> dict[str, Any]:
    """The chat so far, and whether the visitor is typing, for the agent's console."""
    found = await state.store.support_session(site, session)
    lines = [i.payload for i in found[1] if i.kind == CHAT] if found else []
    typed = await state.broker.get(_typing_key(site, session))
    return {"lines": lines, "visitor_typing": typed is not None}


def _typing_key(site: str, session: str) -> str:
    """Broker state while the visitor is typing in the session's chat (it expires)."""
    return f"typing:{site}:{session}"
