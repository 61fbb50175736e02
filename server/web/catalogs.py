"""What each node knows of its sites — their configuration and which walkthrough versions are
published — the same on every server node.

Each node keeps its sites in memory (``AppState.sites``, from the content folder) and their
catalogs (``AppState.catalogs``, from the store). The node where an admin edits a site's
configuration (origins, keys, processes, thresholds, frustration rules, personae, FAQ) or where
an author publishes (or unpublishes) a version tells every node through the site's broker channel
(``catalog:SITE``): each loads that site's configuration from its content folder (the same folder
on every node, or the same commit of it), or its catalog from the store, again — so visitors on
any node get what was changed, wherever it was changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from typing import TYPE_CHECKING

from server.broker import BrokerError, SubscriptionLagged
from server.content import load_site
from server.publishing import load_catalog

if TYPE_CHECKING:
    from server.knowledge.site import Site
    from server.web.state import AppState

log = logging.getLogger("tandem.catalogs")

#: After the broker could not be reached, listening is tried again this much later.
RETRY_S = 5.0


#: What a node says changed: the published versions, or the site's configuration.
PUBLISHED = b"published"
CONFIGURED = b"configured"


def channel_of(site: str) -> str:
    return f"catalog:{site}"


async def changed(state: AppState, site: str, what: bytes = PUBLISHED) -> None:
    """This node changed what is published of ``site`` (or, ``CONFIGURED``, its configuration):
    every node loads it again."""
    try:
        await state.broker.notify(channel_of(site), what)
    except BrokerError as exc:
        log.warning("could not tell the other nodes that %s changed (%s): %s", site, what, exc)


def use_site(state: AppState, site: Site) -> None:
    """From now on this node works with ``site`` as loaded anew: new connections and the open
    ones (their next support session, their next score), with its signing keys."""
    from server.visitors import load_site_keys

    state.sites[site.key] = site
    state.forget_index(site.key)
    for conn in list(state.connections):
        if conn.site.key == site.key:
            conn.site = site
            conn.index = state.process_index(site.key)
    with contextlib.suppress(Exception):  # a key's secret missing here: the last keys stay
        state.visitors.use_keys(load_site_keys({site.key: site}, os.environ)[site.key])


async def configured(state: AppState, site: Site) -> None:
    """An admin changed ``site``'s configuration on this node: used here now, and every other
    node loads it again from its content folder."""
    use_site(state, site)
    await changed(state, site.key, CONFIGURED)


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
            async for what in listener:
                if what == CONFIGURED:
                    _reload_site(state, site)
                else:
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


def _reload_site(state: AppState, site: str) -> None:
    """Load ``site``'s configuration again from this node's content folder and use it."""
    if site not in state.sites:
        return
    try:
        loaded = load_site(state.settings.content_dir / site)
    except Exception:  # invalid or unreadable here: this node keeps what it has, and says so
        log.exception("loading %s's configuration again failed; the last one stays", site)
        return
    use_site(state, loaded)
