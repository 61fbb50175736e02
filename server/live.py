"""Live location of every tab of every visitor, kept in the broker.

Each live tab is a presence member of the group ``tabs:{site}:{user}`` whose
data is its ``TabState``; it expires unless its connection touches it, so a
tab whose server died disappears on its own. The member is held by the
connection that reports it (``TabState.conn``): a newer connection of the tab
takes it over, and an older one can then neither refresh nor remove it.
"""

from __future__ import annotations

import msgspec

from server.broker import Broker

TAB_TTL_MS = 45_000


class TabState(msgspec.Struct, kw_only=True, omit_defaults=True):
    """What the server knows of one live tab."""

    tab: str
    conn: str = ""  # the connection that reports it: a newer connection of the same tab replaces it
    url: str = ""
    title: str = ""
    process: str | None = None
    nav: str = ""
    focused: bool = False
    visible: bool = True
    connected_ms: int = 0
    updated_ms: int = 0
    focus_ms: int = 0  # when it last gained focus
    # The walkthrough step its page reached: walkthrough, step, event (agents co-browsing see it).
    step: dict[str, str] = msgspec.field(default_factory=dict)


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(TabState)


def _group(site: str, user: str) -> str:
    return f"tabs:{site}:{user}"


class LiveTabs:
    def __init__(self, broker: Broker, *, ttl_ms: int = TAB_TTL_MS) -> None:
        self.broker = broker
        self.ttl_ms = ttl_ms

    async def put(self, site: str, user: str, state: TabState, *, take: bool = False) -> bool:
        """Report the tab as its connection ``state.conn`` sees it; False when another connection holds it.

        ``take``: this connection is the tab's newest and takes the entry over
        from any other. Otherwise only the connection holding the entry (or
        any, when there is none) writes it.
        """
        return await self.broker.presence_touch(
            _group(site, user),
            state.tab,
            _encoder.encode(state),
            self.ttl_ms,
            owner=state.conn,
            take=take,
        )

    async def leave(self, site: str, user: str, tab: str, *, conn: str | None = None) -> None:
        """Remove the tab; with ``conn``, only while that connection is still the one reporting it."""
        await self.broker.presence_leave(_group(site, user), tab, owner=conn)

    async def tabs(self, site: str, user: str) -> list[TabState]:
        members = await self.broker.presence(_group(site, user))
        return sorted(
            (_decoder.decode(data) for data in members.values()), key=lambda s: s.connected_ms
        )


def focused_tab(tabs: list[TabState]) -> str | None:
    """The tab with focus: of those focused, the one that gained it last."""
    focused = [t for t in tabs if t.focused]
    return max(focused, key=lambda t: t.focus_ms).tab if focused else None
