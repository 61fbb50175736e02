"""Which walkthrough versions are published, the same on every server node.

Each node keeps its sites' catalogs in memory (``AppState.catalogs``), loaded
from the store. The node where an author publishes (or unpublishes) a version
tells every node through the site's broker channel (``catalog:SITE``), and
each loads that site's catalog from the store again — so visitors on any node
are offered what was published, wherever it was published.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from server.broker import BrokerError, SubscriptionLagged
from server.publishing import load_catalog

if TYPE_CHECKING:
    from server.web.state import AppState

log = logging.getLogger("tandem.catalogs")

#: After the broker could not be reached, listening is tried again this much later.
RETRY_S = 5.0


def channel_of(site: str) -> str:
    return f"catalog:{site}"


async def changed(state: AppState, site: str) -> None:
    """This node changed what is published of ``site``: every node loads its catalog again."""
    try:
        await state.broker.notify(channel_of(site), b"published")
    except BrokerError as exc:
        log.warning("could not tell the other nodes that %s's catalog changed: %s", site, exc)


async def follow(state: AppState) -> None:
    """Load a site's catalog again whenever a node says it changed, for as long as the server runs."""
    async with asyncio.TaskGroup() as group:
        for site in list(state.sites):
            group.create_task(_follow_site(state, site))


async def _follow_site(state: AppState, site: str) -> None:
    while True:
        try:
            listener = await state.broker.listen(channel_of(site))
        except BrokerError as exc:
            log.warning("cannot follow %s's catalog through the broker: %s", site, exc)
            await asyncio.sleep(RETRY_S)
            continue
        try:
            await _reload(state, site)  # what changed while nobody listened
            async for _ in listener:
                await _reload(state, site)
            return  # the broker closed: the server stops
        except SubscriptionLagged:
            log.warning("%s's catalog channel lagged; listening again", site)
        finally:
            with contextlib.suppress(Exception):
                await listener.close()


async def _reload(state: AppState, site: str) -> None:
    if site not in state.sites:
        return
    try:
        state.catalogs[site] = await load_catalog(state.store, state.sites[site])
    except Exception:  # the store is away: the next change (or restart) loads it
        log.exception("loading %s's catalog again failed", site)
