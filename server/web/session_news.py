"""What a visitor tells support about one of their sessions, over their tab's socket.

"Did this help?" (``feedback``), the rating of the person who helped
(``rating``, CSAT) and the process's goal seen on the page (``goal``): each
is recorded on the session and, where it changes the session's score, scores
it again (``scoring``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from server.protocol.messages import Feedback, Goal, Rating
from server.support.help import SUPPORT_SESSION
from server.web.scoring import FEEDBACK_KEY

if TYPE_CHECKING:
    from server.web.tab_socket import TabConnection


async def feedback(conn: TabConnection, message: Feedback, *, now_ms: int) -> str:
    """Record "Did this help?" on the visitor's own session and score it again."""
    profile = await conn.state.store.get_profile(conn.site.key, conn.user or "")
    if profile is None or not any(
        i.payload.get("session") == message.session for i in profile.items
    ):
        return "unknown_session"
    await conn.state.store.append_support_item(
        conn.site.key, conn.user or "", SUPPORT_SESSION, at_ms=now_ms,
        payload={"session": message.session, FEEDBACK_KEY: {"helped": message.helped, "at_ms": now_ms}},
        failure=not message.helped, failure_reason=None if message.helped else "user_said_no",
    )  # fmt: skip
    conn.state.scoring.schedule(
        conn.state, conn.site, conn.user or "", message.session, delay_s=0, tab=conn.live
    )
    return "yes"


async def rating(conn: TabConnection, message: Rating, *, now_ms: int) -> str:
    """The visitor rates the person who helped them (CSAT), on a session a person closed."""
    profile = await conn.state.store.get_profile(conn.site.key, conn.user or "")
    about = (
        [i.payload for i in profile.items if i.payload.get("session") == message.session]
        if profile
        else []
    )
    if not any("agent_outcome" in p for p in about):
        return "not_closed_by_a_person"
    if any("csat" in p for p in about):
        return "already_rated"  # one rating a session
    await conn.state.store.append_support_item(
        conn.site.key, conn.user or "", SUPPORT_SESSION, at_ms=now_ms,
        payload={"session": message.session, "csat": {"score": message.score, "at_ms": now_ms}},
    )  # fmt: skip
    pseudonym = await conn.state.store.visitor_pseudonym(conn.site.key, conn.user or "")
    await conn.state.store.append_audit(
        conn.site.key, at_ms=now_ms, actor=f"visitor:{pseudonym}", action="session.rated",
        target=message.session, detail={"score": message.score},
    )  # fmt: skip
    return "yes"


async def goal_seen(conn: TabConnection, message: Goal) -> None:
    """The goal showed: score the session of the run again once the event is stored."""
    stored = await conn.state.store.get_run(conn.site.key, message.run)
    if stored is not None and stored.user_id == conn.user and stored.run.session:
        conn.state.scoring.schedule(
            conn.state, conn.site, conn.user, stored.run.session, delay_s=1.0, tab=conn.live
        )
