"""What the running server holds: settings, content, store, broker and live connections."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from server.broker import Broker
from server.console.limits import LoginLimiter
from server.knowledge.catalog import Catalog
from server.knowledge.location import ProcessIndex
from server.knowledge.site import Site
from server.live import LiveTabs
from server.metrics import Metrics
from server.settings import Settings
from server.store import Store
from server.support.routing import WaitEstimator
from server.visitors import Visitors
from server.web.frustration import Watches
from server.web.heartbeats import Heartbeats
from server.web.scoring import Scoring


@dataclass
class AppState:
    settings: Settings
    sites: dict[str, Site]
    store: Store
    broker: Broker
    live: LiveTabs
    visitors: Visitors
    catalogs: dict[str, Catalog] = field(default_factory=dict)
    # The tabs' connections on this node (messages for pages go through server.web.delivery).
    connections: set[Any] = field(default_factory=set)
    tabs: dict[tuple[str, str], Any] = field(default_factory=dict)  # (site, tab) → its connection
    beats: Heartbeats = field(default_factory=Heartbeats)  # one timer for every tab's heartbeat
    frustration: Watches = field(default_factory=Watches)
    scoring: Scoring = field(default_factory=Scoring)
    secret: bytes = b""  # signs console sessions (the server's secret)
    login_limiter: LoginLimiter = field(default_factory=LoginLimiter)
    # Per site: how long visitors waited for an agent (the estimate the next ones are told).
    waits: dict[str, WaitEstimator] = field(default_factory=dict)
    dispatching: dict[str, asyncio.Lock] = field(
        default_factory=dict
    )  # per site: one dispatch at a time
    metrics: Metrics = field(default_factory=Metrics)
    publishing: dict[str, asyncio.Lock] = field(
        default_factory=dict
    )  # per site: one publish at a time
    watchers: set[Any] = field(default_factory=set)  # agents' live views open on this node
    # (site, session) → when its page was last asked for a fresh mirror snapshot.
    snapshot_asked: dict[tuple[str, str], int] = field(default_factory=dict)
    _indexes: dict[str, ProcessIndex] = field(default_factory=dict)

    def forget_index(self, site: str) -> None:
        """The site's processes changed: its index is built again when next needed."""
        self._indexes.pop(site, None)

    def process_index(self, site: str) -> ProcessIndex:
        index = self._indexes.get(site)
        if index is None:
            index = self._indexes[site] = ProcessIndex(self.sites[site])
        return index
