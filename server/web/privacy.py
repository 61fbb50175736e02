"""A visitor's rights and the site's retention: export everything held about a visitor, erase
it, and delete events older than the site keeps them (``privacy.event_retention_days``).

Each is recorded in the audit log, naming the visitor only by their pseudonym — which an
erasure deletes along with everything else, so what remains points to no one.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from server.store.base import Store
    from server.web.state import AppState

log = logging.getLogger("tandem.privacy")

DAY_MS = 24 * 3600 * 1000
#: How often the server applies the sites' retention.
RETENTION_EVERY_S = 3600


def now_ms() -> int:
    return time.time_ns() // 1_000_000


async def export_visitor(store: Store, site: str, user: str, *, actor: str) -> dict[str, Any]:
    """Everything held about the visitor, as one JSON-ready document; audited."""
    tables = await store.export_visitor(site, user)
    known = tables.get("pseudonyms") or [{"pseudonym": "unknown"}]  # none made just to say so
    await store.append_audit(
        site, at_ms=now_ms(), actor=actor, action="visitor.exported",
        target=f"visitor:{known[0]['pseudonym']}",
        detail={"rows": {t: len(rows) for t, rows in tables.items()}},
    )  # fmt: skip
    return {"site": site, "user": user, "exported_ms": now_ms(), "tables": tables}


async def erase_visitor(store: Store, site: str, user: str, *, actor: str) -> dict[str, int]:
    """Delete everything held about the visitor; audited under the pseudonym that goes with it."""
    pseudonym = await store.visitor_pseudonym(site, user)
    deleted = await store.erase_visitor(site, user)
    # A batch of their events handed to the store just before their tabs closed may commit
    # after that: a second pass, a moment later, takes it too.
    await asyncio.sleep(0.3)
    for table, count in (await store.erase_visitor(site, user)).items():
        deleted[table] = deleted.get(table, 0) + count
    await store.append_audit(
        site, at_ms=now_ms(), actor=actor, action="visitor.erased", target=f"visitor:{pseudonym}",
        detail={"rows": deleted},
    )  # fmt: skip
    return deleted


#: Why an erased visitor's connections close (1008: the page stops until it is loaded again).
ERASED = "erased: this visitor's data was erased"
#: For this long after an erasure the visitor's pages are not taken back in: a page saying hello
#: on another node while the erasure ran is not in the live tabs the erasure closes yet.
ERASED_FOR_MS = 60_000


def _erased_key(site: str, user: str) -> str:
    return f"erased:{site}:{user}"


async def mark_erased(state: AppState, site: str, user: str) -> None:
    """Say, in the broker, that the visitor is being erased (for ``ERASED_FOR_MS``)."""
    key = _erased_key(site, user)
    for _ in range(5):
        current = await state.broker.get(key)
        written = await state.broker.compare_and_set(
            key, b"1", expected_version=current.version if current else 0, ttl_ms=ERASED_FOR_MS
        )
        if written is not None:
            return
    # Written by another erasure of the same visitor at the same moment: it is marked.


async def erased_lately(state: AppState, site: str, user: str) -> bool:
    """Whether the visitor was erased within ``ERASED_FOR_MS`` (on any node)."""
    return await state.broker.get(_erased_key(site, user)) is not None


async def forget_live(state: AppState, site: str, user: str) -> None:
    """What the servers hold of a visitor being erased: their co-browse ends, their open tabs'
    connections close (1008) with what they had not stored yet dropped — on whichever node —
    and their live tabs go.

    The visitor is marked erased first, then their live tabs are read: a tab of theirs saying
    hello meanwhile (not live yet, so not among them) sees the mark when it first reports itself
    live — after writing its entry — and closes, removing it (``TabConnection.touch_live``); and
    a hello after the mark is refused. Whichever comes first, no tab of theirs stays open.
    """
    from server.web import cobrowse, delivery

    await mark_erased(state, site, user)
    found = await state.broker.get(f"cbactive:{site}:{user}")
    if found is not None:
        await cobrowse.end(state, state.sites[site], found.value.decode())
    await delivery.close_visitor(state, site, user, code=1008, reason=ERASED)
    for tab in await state.live.tabs(site, user):
        await state.live.leave(site, user, tab.tab, conn=None)


async def apply_retention(store: Store, retention: dict[str, int], *, now: int) -> dict[str, int]:
    """Delete each site's events older than it keeps them (site → days); events deleted per site."""
    deleted: dict[str, int] = {}
    for site, days in retention.items():
        before = now - days * DAY_MS
        count = await store.delete_events_before(site, before)
        deleted[site] = count
        if not count:
            continue  # nothing to say: the log is append-only, an hourly "nothing" would fill it
        await store.append_audit(
            site, at_ms=now, actor="system", action="retention.applied",
            detail={"events_deleted": count, "days": days, "before_ms": before},
        )  # fmt: skip
    return deleted


async def retention_loop(state: AppState) -> None:
    """Apply the sites' retention now and every hour, for as long as the server runs."""
    retention = {
        key: site.config.privacy.event_retention_days
        for key, site in state.sites.items()
        if site.config.privacy.event_retention_days
    }
    if not retention:
        return
    while True:
        try:
            deleted = await apply_retention(state.store, retention, now=now_ms())
            if any(deleted.values()):
                log.info("retention: events deleted %s", deleted)
        except Exception:  # the store is away: the next round tries again
            log.exception("applying the retention failed")
        await asyncio.sleep(RETENTION_EVERY_S)
