"""Live location of every tab of every visitor, kept in the broker.

Each live tab is a presence member of the group ``tabs:{site}:{user}`` whose
data is its ``TabState``; it expires unless its connection touches it, so a
tab whose server died disappears on its own. The member is held by the
connection that reports it (``TabState.conn``): a newer connection of the tab
takes it over, and an older one can then neither refresh nor remove it.

Which connection of a tab is the newer is decided by a number the broker
issues at each hello (``LiveTabs.number``): the version of a compare-and-set
write of the tab's key, which only grows, whichever node asks and whatever
its clock says. It is carried in the entry (``TabState.seq``) and in what
nodes tell each other of the tab (``server.protocol.tabmail``).
"""

from __future__ import annotations

import msgspec

from server.broker import Broker, BrokerError

TAB_TTL_MS = 45_000
#: The key a tab's hellos are numbered with lives this long (the number itself keeps growing).
NUMBERED_FOR_MS = 60_000
#: Hellos of one tab at the same moment: each tries this often to get its number.
NUMBER_ATTEMPTS = 20


class TabState(msgspec.Struct, kw_only=True, omit_defaults=True):
    """What the server knows of one live tab."""

    tab: str
    conn: str = ""  # the connection that reports it: a newer connection of the same tab replaces it
    seq: int = 0  # that connection's number from the broker (0: unnumbered, older than any)
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


def _numbering(site: str, tab: str) -> str:
    return f"tabseq:{site}:{tab}"


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

    async def number(self, site: str, tab: str) -> int:
        """A number for a new connection of ``tab``, higher than any issued for it before.

        It is the version of a compare-and-set write of the tab's key: versions
        only grow (across deletes and expiry too), and of two writes racing
        one wins and the other reads again, so no number is issued twice.
        """
        key = _numbering(site, tab)
        for _ in range(NUMBER_ATTEMPTS):
            current = await self.broker.get(key)
            version = await self.broker.compare_and_set(
                key, b"", expected_version=current.version if current else 0,
                ttl_ms=NUMBERED_FOR_MS,
            )  # fmt: skip
            if version is not None:
                return version
        raise BrokerError(f"no number for a connection of tab {tab} (too many at once)")

    async def entry(self, site: str, user: str, tab: str) -> TabState | None:
        """The tab's live entry, if it has one."""
        return entry_of(await self.tabs(site, user), tab)

    async def leave(self, site: str, user: str, tab: str, *, conn: str | None = None) -> None:
        """Remove the tab; with ``conn``, only while that connection is still the one reporting it."""
        await self.broker.presence_leave(_group(site, user), tab, owner=conn)

    async def tabs(self, site: str, user: str) -> list[TabState]:
        members = await self.broker.presence(_group(site, user))
        return sorted(
            (_decoder.decode(data) for data in members.values()), key=lambda s: s.connected_ms
        )


def entry_of(tabs: list[TabState], tab: str) -> TabState | None:
    return next((t for t in tabs if t.tab == tab), None)


def serves(entry: TabState | None, conn: str, seq: int) -> bool:
    """Whether connection ``conn`` (numbered ``seq``) is the one to give its tab's messages to,
    given the tab's live entry: it holds the entry, or is newer than whoever does, or nobody
    does. An older connection that a newer one replaced (maybe a half-open socket on another
    node) is never it, whatever the clocks say."""
    return entry is None or entry.conn == conn or entry.seq < seq


def supersedes(entry: TabState | None, seq: int) -> bool:
    """Whether a connection numbered ``seq`` may take its tab's live entry over from whoever
    holds it (``entry``): only from an older one."""
    return entry is None or entry.seq < seq


def focused_tab(tabs: list[TabState]) -> str | None:
    """The tab with focus: of those focused, the one that gained it last."""
    focused = [t for t in tabs if t.focused]
    return max(focused, key=lambda t: t.focus_ms).tab if focused else None
