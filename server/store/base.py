"""The store interface every backend implements, and its migrations.

Two kinds of data are kept apart: profiles with their append-only support
data items (low volume, read whole), and — added with the event pipeline —
high-volume event streams written in batches and read by range.
"""

from __future__ import annotations

import abc
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Self

from server.support.profile import Profile, SupportItem
from server.support.run import Run, RunStatus


@dataclass(frozen=True)
class EventRecord:
    """One event to store: a numbered message from a tab (location, focus, …)."""

    site: str
    user_id: str
    tab: str
    cseq: int
    kind: str
    at_ms: int
    received_ms: int
    payload: dict[str, Any]


@dataclass(frozen=True)
class StoredEvent:
    """An event as read back, with its store-wide ``id`` (increasing in commit order)."""

    id: int
    site: str
    user_id: str
    tab: str
    cseq: int
    kind: str
    at_ms: int
    received_ms: int
    payload: dict[str, Any]


class StoreError(RuntimeError):
    """A store operation failed for a reason the caller should report."""


class StoreUnavailable(StoreError):
    """The database cannot be reached."""


class RecordsRefused(StoreError):
    """The database refused the records themselves (their data), not the connection.

    Retrying the same records cannot succeed; records written with them in one
    batch can, on their own.
    """


class VersionConflict(StoreError):
    """A published walkthrough version was changed without raising its version number."""


@dataclass(frozen=True)
class AuditEntry:
    """One line of the append-only audit log."""

    id: int
    site: str
    at_ms: int
    actor: str  # the account's email, or "system"
    action: str  # e.g. session.viewed, queue.viewed, signed_in, sign_in_failed
    target: str = ""  # the support session, account or export concerned
    detail: dict[str, Any] = field(default_factory=dict)


class AccountExists(StoreError):
    """An account with this email already exists on this site."""


@dataclass(frozen=True)
class AccountRecord:
    """A person who runs Tandem for a site: an agent, an author or an admin."""

    site: str
    email: str
    name: str
    role: str  # admin | author | agent
    password_hash: str
    skills: tuple[str, ...] = ()
    capacity: int = 3
    created_ms: int = 0
    presence: str = "offline"  # online | away | offline, as the agent set it
    seen_ms: int = 0  # when the agent's console last asked for news
    idle_since_ms: int = 0  # when their last session ended or they came online
    session_version: int = 0  # raised by signing out or a new password: older sessions end


@dataclass(frozen=True)
class Assignment:
    """A referred support session on its way to an agent: queued, offered, accepted, closed."""

    site: str
    session: str
    user_id: str
    state: str  # queued | offered | accepted | closed
    queued_ms: int
    agent: str = ""  # the account's email, once offered
    needs: tuple[str, ...] = ()  # the skills it needs (the persona's role and skills)
    skipped: tuple[str, ...] = ()  # agents who let the offer lapse
    offered_ms: int = 0
    accepted_ms: int = 0
    closed_ms: int = 0
    revision: int = 0


@dataclass(frozen=True)
class StoredRun:
    site: str
    user_id: str
    tab: str
    run: Run
    revision: int = 0  # raised by every change: ``update_run`` writes only over the one read


@dataclass(frozen=True)
class FaqRecord:
    entry: str
    questions: tuple[str, ...]
    answer: str
    processes: tuple[str, ...] = ()


@dataclass(frozen=True)
class FaqHit:
    entry: str
    score: float


#: How much more an entry about the visitor's current process counts.
PROCESS_BOOST = 1.5
_TOKEN = re.compile(r"\w+", re.UNICODE)


#: Words that say nothing about what is asked (both backends drop them, so they rank alike).
STOP_WORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "can",
        "could",
        "do",
        "does",
        "did",
        "for",
        "from",
        "get",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "me",
        "my",
        "of",
        "on",
        "or",
        "our",
        "please",
        "so",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "this",
        "to",
        "us",
        "was",
        "we",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
    ]
)


def search_terms(query: str, limit: int = 32) -> list[str]:
    """The meaningful words of a question, safe to put in a full-text query (no operators, no quotes)."""
    words = [t.lower() for t in _TOKEN.findall(query)]
    return [w for w in words if w not in STOP_WORDS][:limit]


def rank_hits(
    rows: Sequence[tuple[str, float, Sequence[str], int]],
    terms: int,
    process: str | None,
    limit: int,
) -> list[FaqHit]:
    """Score (entry, relevance, processes, terms matched) rows; best first.

    An entry that matches more of the question's words wins over one that
    matches a few words often (coverage first, the engine's relevance next),
    and an entry about the visitor's current process counts ``PROCESS_BOOST`` times.
    """
    hits = []
    for entry, relevance, processes, matched in rows:
        boost = PROCESS_BOOST if process and process in processes else 1.0
        hits.append(FaqHit(entry, round(matched / max(terms, 1) * (1.0 + relevance) * boost, 9)))
    return sorted(hits, key=lambda h: (-h.score, h.entry))[:limit]


@dataclass(frozen=True)
class WalkthroughVersion:
    """One immutable published version of a walkthrough; ``body`` is its validated content."""

    site: str
    walkthrough: str
    version: int
    process: str
    digest: str
    body: dict[str, Any]
    published_ms: int


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


_MIGRATION_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


def migrations_for(backend: str) -> list[Migration]:
    """The numbered migrations of one backend, in order."""
    folder = resources.files("server.store") / "migrations" / backend
    found = []
    for entry in folder.iterdir():
        match = _MIGRATION_FILE.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise StoreError(f"{backend} migrations are not numbered 1..n without gaps: {versions}")
    return found


class Store(abc.ABC):
    """Durable storage. Open with ``await store.open()`` (or ``async with``), which migrates."""

    backend: str = ""

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @abc.abstractmethod
    async def open(self) -> None:
        """Connect and apply any pending migrations."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Flush and disconnect; safe to call twice."""

    @abc.abstractmethod
    async def ping(self) -> None:
        """Raise ``StoreUnavailable`` unless the database answers."""

    @abc.abstractmethod
    async def schema_version(self) -> int:
        """The number of the last applied migration."""

    @abc.abstractmethod
    async def upsert_profile(
        self, site: str, user_id: str, traits: dict[str, Any], *, now_ms: int
    ) -> None:
        """Create the visitor's profile, or merge ``traits`` into it."""

    @abc.abstractmethod
    async def append_support_item(
        self,
        site: str,
        user_id: str,
        kind: str,
        *,
        at_ms: int,
        payload: dict[str, Any],
        failure: bool = False,
        failure_reason: str | None = None,
    ) -> int:
        """Append one support data item to an existing profile; return its id."""

    @abc.abstractmethod
    async def support_session(
        self, site: str, session: str
    ) -> tuple[str, list[SupportItem]] | None:
        """The visitor and every support data item of one support session, oldest first."""

    @abc.abstractmethod
    async def recent_referrals(
        self, site: str, *, limit: int = 50
    ) -> list[tuple[str, SupportItem]]:
        """The site's latest referrals (support data items with a ``referral``), newest first, with their visitor."""

    @abc.abstractmethod
    async def get_profile(self, site: str, user_id: str) -> Profile | None:
        """The profile with all its support items, oldest first; None when unknown."""

    # --- event streams ---------------------------------------------------------

    @abc.abstractmethod
    async def write_events(self, events: Sequence[EventRecord]) -> None:
        """Store events in a grouped commit; return once committed. (site, tab, cseq) duplicates are ignored.

        One call is all or nothing: its events commit together, or none does
        (``RecordsRefused`` when their data was refused). Calls commit in the
        order they were made, and one call's refused data never fails another's.
        """

    @abc.abstractmethod
    async def last_cseq(self, site: str, tab: str) -> int:
        """The highest cseq stored for a tab, 0 when none."""

    @abc.abstractmethod
    async def read_events(
        self,
        site: str,
        *,
        user_id: str | None = None,
        tab: str | None = None,
        kinds: Sequence[str] | None = None,
        after_id: int = 0,
        limit: int = 1000,
        received_since_ms: int | None = None,
    ) -> list[StoredEvent]:
        """Events in commit order, after ``after_id``, at most ``limit``; only those received
        at or after ``received_since_ms`` when it is given."""

    # --- knowledge base ------------------------------------------------------------

    @abc.abstractmethod
    async def publish_walkthrough(self, version: WalkthroughVersion) -> bool:
        """Store a version (once) and, when it is new, make it the published one (a walkthrough
        never published before too). False when it was already stored: loading the same files
        again changes nothing, not even what an author published or rolled back to since.

        Raises ``VersionConflict`` when this version number is stored with other content.
        """

    @abc.abstractmethod
    async def walkthrough_versions(self, site: str, walkthrough: str) -> list[WalkthroughVersion]:
        """Every stored version of a walkthrough, oldest first."""

    @abc.abstractmethod
    async def walkthrough_index(self, site: str) -> dict[str, int | None]:
        """Every walkthrough of the site and its published version (None: unpublished)."""

    @abc.abstractmethod
    async def set_published(
        self, site: str, walkthrough: str, version: int | None, *, now_ms: int
    ) -> bool:
        """Publish a stored version (a roll back is publishing an older one), or unpublish the
        walkthrough (``None``). False when there is no such walkthrough or version."""

    @abc.abstractmethod
    async def walkthrough_version(
        self, site: str, walkthrough: str, version: int
    ) -> WalkthroughVersion | None:
        """A stored version, published now or not: runs stay pinned to the version they started."""

    @abc.abstractmethod
    async def published_walkthroughs(self, site: str) -> list[WalkthroughVersion]:
        """The published version of every walkthrough of a site, by id."""

    # --- walkthrough runs -------------------------------------------------------------

    @abc.abstractmethod
    async def save_run(self, site: str, user_id: str, tab: str, run: Run) -> None:
        """Create or update a run (its current step, status and completed steps)."""

    @abc.abstractmethod
    async def update_run(self, site: str, tab: str, run: Run, *, revision: int) -> bool:
        """Save a run's new state (from ``tab``) only while it is still at ``revision``.

        False when another change came first: read the run again and decide
        anew. The check and the write are one statement, so this holds between
        processes too.
        """

    @abc.abstractmethod
    async def get_run(self, site: str, run_id: str) -> StoredRun | None: ...

    @abc.abstractmethod
    async def latest_runs(self, site: str, user_id: str, *, limit: int = 20) -> list[StoredRun]:
        """The visitor's most recently updated runs, newest first."""

    @abc.abstractmethod
    async def step_events(self, site: str, walkthrough: str, version: int) -> list[StoredEvent]:
        """Every stored step event of one version of a walkthrough, in order: the funnel's input.

        Versions differ in their steps (a step id may even mean another step),
        so one funnel never mixes them.
        """

    # --- accounts ------------------------------------------------------------------

    @abc.abstractmethod
    async def add_account(self, account: AccountRecord) -> None:
        """Create an account; ``AccountExists`` when the site has one with this email."""

    @abc.abstractmethod
    async def get_account(self, site: str, email: str) -> AccountRecord | None:
        """The site's account with this email (emails are compared lower-cased)."""

    @abc.abstractmethod
    async def set_password(self, site: str, email: str, password_hash: str) -> bool:
        """Replace an account's password hash (a rehash with newer parameters); whether it exists."""

    @abc.abstractmethod
    async def end_sessions(self, site: str, email: str) -> None:
        """End every console session of the account (sign-out, a new password)."""

    @abc.abstractmethod
    async def list_accounts(self, site: str) -> list[AccountRecord]:
        """Every account of the site, by email."""

    @abc.abstractmethod
    async def set_presence(self, site: str, email: str, presence: str, *, now_ms: int) -> None:
        """An agent says they are online, away or offline (coming online starts their idle time)."""

    @abc.abstractmethod
    async def set_agent_profile(
        self, site: str, email: str, *, skills: Sequence[str], capacity: int
    ) -> bool:
        """An admin sets what an agent can help with and how many visitors at once; False when
        there is no such account."""

    @abc.abstractmethod
    async def finished_session(self, site: str, email: str, *, now_ms: int) -> None:
        """The agent closed a session: their idle time starts again (routing's longest-idle rule)."""

    @abc.abstractmethod
    async def seen(self, site: str, email: str, *, now_ms: int) -> None:
        """The agent's console asked for news: they are still there."""

    # --- assignments ----------------------------------------------------------------

    @abc.abstractmethod
    async def add_assignment(self, assignment: Assignment) -> bool:
        """Queue a referred session for an agent; False when it already has an assignment."""

    @abc.abstractmethod
    async def open_assignments(self, site: str) -> list[Assignment]:
        """The site's assignments not closed, oldest first."""

    @abc.abstractmethod
    async def open_assignment(self, site: str, session: str) -> Assignment | None:
        """The session's assignment unless it is closed (or there is none)."""

    @abc.abstractmethod
    async def update_assignment(self, assignment: Assignment, *, revision: int) -> bool:
        """Write ``assignment`` only if it is still at ``revision`` (another node may have moved it)."""

    # --- audit log -----------------------------------------------------------------

    @abc.abstractmethod
    async def append_audit(
        self, site: str, *, at_ms: int, actor: str, action: str, target: str = "",
        detail: dict[str, Any] | None = None,
    ) -> int:  # fmt: skip
        """Append one entry (the log is append-only: the store refuses to change or delete one)."""

    @abc.abstractmethod
    async def read_audit(self, site: str, *, limit: int = 200) -> list[AuditEntry]:
        """The site's latest audit entries, newest first."""

    # --- FAQ search ----------------------------------------------------------------

    @abc.abstractmethod
    async def replace_faq(self, site: str, entries: Sequence[FaqRecord]) -> None:
        """Make ``entries`` the site's FAQ (what its content folder says now)."""

    @abc.abstractmethod
    async def search_faq(
        self, site: str, query: str, *, process: str | None = None, limit: int = 5
    ) -> list[FaqHit]:
        """Entries matching the question, best first; entries about ``process`` rank higher."""

    # --- verifications ---------------------------------------------------------------

    @abc.abstractmethod
    async def add_verification(self, verification: Verification) -> None:
        """Keep what a ``tandem verify`` run found of a walkthrough version."""

    @abc.abstractmethod
    async def latest_verifications(
        self, site: str, walkthrough: str, *, limit: int = 5
    ) -> list[Verification]:
        """The walkthrough's latest verifications, newest first."""

    # --- analytics -----------------------------------------------------------------

    @abc.abstractmethod
    async def support_items_between(
        self, site: str, since_ms: int, until_ms: int
    ) -> list[tuple[str, SupportItem]]:
        """Every support data item of the site stored in [since_ms, until_ms), with its visitor,
        in order."""

    # --- privacy -------------------------------------------------------------------

    @abc.abstractmethod
    async def visitor_pseudonym(self, site: str, user_id: str) -> str:
        """The visitor's pseudonym (made the first time): how the audit log names them."""

    @abc.abstractmethod
    async def export_visitor(self, site: str, user_id: str) -> dict[str, list[dict[str, Any]]]:
        """Everything held about the visitor, table by table (audit entries by their pseudonym)."""

    @abc.abstractmethod
    async def erase_visitor(self, site: str, user_id: str) -> dict[str, int]:
        """Delete everything held about the visitor, in one transaction; rows deleted per table.

        Audit entries stay (the log is append-only) but name the visitor only by a
        pseudonym, whose link to them goes with the rest."""

    @abc.abstractmethod
    async def delete_events_before(self, site: str, before_ms: int) -> int:
        """Retention: delete the site's events received before ``before_ms``; how many."""

    # --- server state ------------------------------------------------------------

    @abc.abstractmethod
    async def server_value(self, key: str, default: str) -> str:
        """The stored value of ``key``; stores ``default`` first when there is none (first writer wins)."""


@dataclass(frozen=True)
class Verification:
    """What one ``tandem verify`` run found of a walkthrough version."""

    site: str
    walkthrough: str
    version: int
    at_ms: int
    base_url: str
    ok: bool
    steps: list[dict[str, Any]]  # step, status, strategy, similarity, detail


#: The tables that hold a visitor's data by (site, user_id), in the order they are erased.
VISITOR_TABLES = ("events", "runs", "support_items", "assignments", "profiles", "pseudonyms")
#: Columns stored as JSON text (SQLite) or jsonb (PostgreSQL): exported as values, not strings.
JSON_COLUMNS = frozenset({"traits", "payload", "completed", "needs", "skipped", "detail"})


def new_pseudonym() -> str:
    import secrets

    return f"v-{secrets.token_hex(8)}"


def run_row(site: str, user_id: str, tab: str, run: Run) -> tuple[Any, ...]:
    """A run as the column values both backends store."""
    return (
        run.id, site, user_id, tab, run.walkthrough, run.version, run.step, run.status.value,
        list(run.completed_steps), run.started_ms, run.updated_ms, run.session,
    )  # fmt: skip


def run_from_row(row: Any, steps: Sequence[str], revision: int = 0) -> StoredRun:
    """Rebuild a run from (id, site, user_id, tab, walkthrough, version, step, status, completed, started, updated, session)."""
    run = Run(
        row[0], row[4], row[5], tuple(steps), row[6], RunStatus(row[7]),
        started_ms=row[9], updated_ms=row[10], completed_steps=tuple(row[8]), session=row[11],
    )  # fmt: skip
    return StoredRun(row[1], row[2], row[3], run, revision)
