"""Message kinds: one declared schema each, and a size limit each.

Every message is a msgpack map whose first key is ``kind``. Fields equal to
their default are left out on the wire. Unknown fields are refused: a client
that needs new fields negotiates a newer protocol version in ``hello``.

Numbering: data messages from a tab carry ``cseq`` (1, 2, 3… per tab, kept
across page loads); the server answers ``ack`` with ``upto`` = the highest
cseq that is durably stored, and drops duplicates by (tab, cseq).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

PROTOCOL_VERSION = 1
SUPPORTED_VERSIONS: tuple[int, ...] = (1,)

KiB = 1024

Slug = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
TabId = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]{8,64}$")]
UserId = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
Cseq = Annotated[int, msgspec.Meta(ge=1, le=2**53)]
EpochMs = Annotated[int, msgspec.Meta(ge=0, le=2**53)]
Url = Annotated[str, msgspec.Meta(min_length=1, max_length=4096)]
TraitValue = str | int | float | bool | None
Traits = Annotated[dict[str, TraitValue], msgspec.Meta(max_length=64)]


class Message(
    msgspec.Struct,
    tag_field="kind",
    forbid_unknown_fields=True,
    omit_defaults=True,
    kw_only=True,
):
    """Base of every message; ``kind`` is the tag."""


# --- identity -----------------------------------------------------------------


class TokenIdentity(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True, kw_only=True):
    """A visitor the site's backend vouches for: a signed token (JWT, HS256)."""

    user: UserId
    token: Annotated[str, msgspec.Meta(min_length=1, max_length=4 * KiB)]


class AnonymousIdentity(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """An anonymous id the server issued earlier, with the server's signature."""

    anon: Annotated[str, msgspec.Meta(pattern=r"^anon-[A-Za-z0-9_-]{16,64}$")]
    sig: Annotated[str, msgspec.Meta(min_length=16, max_length=128)]


# --- client → server ------------------------------------------------------------


class Hello(Message, tag="hello"):
    """First message of every connection. Unsupported ``v`` → close 1002."""

    v: int
    site: Slug
    tab: TabId
    client: Annotated[str, msgspec.Meta(max_length=32)] = ""
    identity: TokenIdentity | None = None
    anonymous: AnonymousIdentity | None = None


class Identify(Message, tag="identify"):
    """``Tandem.identify()``: who the visitor is, vouched for by the site's token."""

    user: UserId
    token: Annotated[str, msgspec.Meta(min_length=1, max_length=4 * KiB)]
    traits: Traits = msgspec.field(default_factory=dict)


class Location(Message, tag="location"):
    """Where the tab is: sent on load, on every SPA route change and after a reconnect."""

    cseq: Cseq
    at: EpochMs
    url: Url
    title: Annotated[str, msgspec.Meta(max_length=512)] = ""
    nav: Literal["load", "push", "replace", "pop", "hash"] = "load"
    markers: Annotated[list[Slug], msgspec.Meta(max_length=16)] = msgspec.field(
        default_factory=list
    )
    referrer: Annotated[str, msgspec.Meta(max_length=4096)] = ""


class Focus(Message, tag="focus"):
    """The tab gained or lost focus, or became visible or hidden."""

    cseq: Cseq
    at: EpochMs
    focused: bool
    visible: bool


class Chunk(Message, tag="chunk"):
    """One part of a message too large for one frame; ``data`` parts concatenate to its msgpack."""

    id: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]{1,32}$")]
    index: Annotated[int, msgspec.Meta(ge=0)]
    total: Annotated[int, msgspec.Meta(ge=1, le=512)]
    data: Annotated[bytes, msgspec.Meta(max_length=64 * KiB)]


RunId = Annotated[str, msgspec.Meta(pattern=r"^run-[A-Za-z0-9_-]{8,64}$")]
ReqId = Annotated[int, msgspec.Meta(ge=1, le=2**31)]


class Launcher(Message, tag="launcher"):
    """What walkthroughs can start here? Answered by ``offers`` with the same ``req``."""

    req: ReqId


class Start(Message, tag="start"):
    """Start a walkthrough in this tab. Answered by ``run`` (or an error) with the same ``req``."""

    req: ReqId
    walkthrough: Slug
    session: Annotated[str, msgspec.Meta(max_length=64)] = ""  # the help answer that offered it


class Resume(Message, tag="resume"):
    """Continue a run after a reload or navigation. Answered by ``run`` with its current step."""

    req: ReqId
    run: RunId


class Step(Message, tag="step"):
    """What happened to a step of a run; stored, and it moves the run."""

    cseq: Cseq
    at: EpochMs
    run: RunId
    step: Slug
    event: Literal["shown", "completed", "skipped", "failed", "reversed", "abandoned"]
    reason: Annotated[str, msgspec.Meta(max_length=64)] = ""
    strategy: Annotated[str, msgspec.Meta(max_length=32)] = ""
    similarity: Annotated[float, msgspec.Meta(ge=0, le=1)] | None = None
    goto: Slug | None = None


class Signal(Message, tag="signal"):
    """What the visitor did on the page that may show frustration: a click (with what it caused) or an uncaught error.

    A click is reported once its effect is known (at most ``effect window`` later):
    ``effect_ms`` is the time from the click to the first DOM change, URL change or
    network request it caused, absent when none came. Positions are whole viewport pixels;
    ``selector`` describes the control (never its text or value).
    """

    cseq: Cseq
    at: EpochMs
    signal: Literal["click", "error"]
    x: Annotated[int, msgspec.Meta(ge=-1_000_000, le=1_000_000)] = 0
    y: Annotated[int, msgspec.Meta(ge=-1_000_000, le=1_000_000)] = 0
    target: Literal["button", "link", "text_field", "stepper", "other"] = "other"
    selector: Annotated[str, msgspec.Meta(max_length=256)] = ""
    effect_ms: Annotated[int, msgspec.Meta(ge=0, le=3_600_000)] | None = None
    message: Annotated[str, msgspec.Meta(max_length=300)] = ""


class Goal(Message, tag="goal"):
    """The page shows the process's goal during or just after a run: its goal element, or the site reported its goal event."""

    cseq: Cseq
    at: EpochMs
    run: RunId
    process: Slug
    how: Literal["element", "event"]
    detail: Annotated[str, msgspec.Meta(max_length=256)] = ""  # the selector or the event name


class Feedback(Message, tag="feedback"):
    """The visitor's answer to "Did this help?" about one of their support sessions."""

    cseq: Cseq
    at: EpochMs
    session: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    helped: bool


class Rating(Message, tag="rating"):
    """The visitor rates the help a person gave them in a support session (CSAT, 1 to 5)."""

    cseq: Cseq
    at: EpochMs
    session: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    score: Annotated[int, msgspec.Meta(ge=1, le=5)]


SessionId = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


class Chat(Message, tag="chat"):
    """The visitor writes to the person helping them in a support session; kept as its transcript."""

    cseq: Cseq
    at: EpochMs
    session: SessionId
    text: Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]


class Typing(Message, tag="typing"):
    """The visitor is typing a chat message (not stored: a moment's news)."""

    session: SessionId


class Help(Message, tag="help"):
    """The visitor asks for help (the widget, ``Tandem.help(question)``). Answered by ``help_answer``."""

    req: ReqId
    question: Annotated[str, msgspec.Meta(max_length=500)] = ""
    person: bool = False  # the visitor asks for a person: referred at once


class MirrorEvent(msgspec.Struct, omit_defaults=True, kw_only=True):
    """One rrweb event as the page recorded it (masked in the page; re-checked by the server)."""

    type: Annotated[int, msgspec.Meta(ge=0, le=6)]
    data: dict[str, Any] = msgspec.field(default_factory=dict)
    timestamp: Annotated[float, msgspec.Meta(ge=0)] = 0


class Mirror(Message, tag="mirror"):
    """The live mirror of the page, sent only while an agent may see it (docs/cobrowse.md).

    ``page`` numbers the recorder's runs in this tab: a new page load or a fresh
    snapshot starts a new run, whose first message is ``full`` (rrweb's Meta +
    FullSnapshot, as one unit; large ones arrive in chunks).
    """

    session: SessionId
    page: Annotated[int, msgspec.Meta(ge=1, le=2**31)]
    events: Annotated[list[MirrorEvent], msgspec.Meta(max_length=10_000)]
    full: bool = False


class Consent(Message, tag="consent"):
    """The visitor's answer: may agents see the page (``view``), may one click and type (``control``).

    ``granted=false`` also withdraws what was granted (Stop sharing, Esc)."""

    session: SessionId
    what: Literal["view", "control"]
    granted: bool


class RemoteDone(Message, tag="remote_done"):
    """What became of an agent's action on the page."""

    session: SessionId
    id: Annotated[int, msgspec.Meta(ge=1, le=2**31)]
    ok: bool
    reason: Annotated[str, msgspec.Meta(max_length=64)] = ""


ClientMessage = (
    Hello
    | Identify
    | Location
    | Focus
    | Chunk
    | Launcher
    | Start
    | Resume
    | Step
    | Signal
    | Goal
    | Feedback
    | Rating
    | Chat
    | Typing
    | Help
    | Mirror
    | Consent
    | RemoteDone
)
#: Numbered, durably stored, acknowledged.
DataMessage = Location | Focus | Step | Signal | Goal | Feedback | Rating | Chat


# --- server → client ------------------------------------------------------------


class Welcome(Message, tag="welcome"):
    """Answer to ``hello``. ``ack``: the last cseq of this tab already stored."""

    v: int
    tab: TabId
    ack: Annotated[int, msgspec.Meta(ge=0)]
    user: str = ""
    anonymous: AnonymousIdentity | None = None
    needs_identity: bool = False
    max_frame: int = 0


class Ack(Message, tag="ack"):
    """Everything up to and including ``upto`` is durably stored: drop it from the outbox."""

    upto: Annotated[int, msgspec.Meta(ge=0)]


class Identified(Message, tag="identified"):
    """The visitor's identity was verified (or, where allowed, left anonymous)."""

    user: str
    anonymous: bool = False


class Error(Message, tag="error"):
    """A message was refused; the connection stays open. ``field`` names what was wrong."""

    code: str
    message: str
    field: str = ""
    cseq: int = 0
    req: int = 0  # the request (launcher, start, resume, help) it answers


class Offer(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True, kw_only=True):
    walkthrough: str
    title: str
    version: int


class Offers(Message, tag="offers"):
    """The walkthroughs that can start at the tab's location, and an unfinished run to continue."""

    req: int
    walkthroughs: list[Offer] = msgspec.field(default_factory=list)
    resume: str = ""  # the id of the visitor's active run of one of these, if any


class RunMessage(Message, tag="run"):
    """A run to play: its pinned version, rendered for this visitor, and the step to show."""

    req: int
    run: str
    walkthrough: str
    version: int
    title: str
    step: str
    status: str
    steps: list[dict[str, Any]]
    persona: dict[str, str] = msgspec.field(default_factory=dict)  # who guides it: id, name, avatar
    session: str = ""  # the support session that offered it: "Did this help?" is asked about it
    goal: dict[str, str] = msgspec.field(
        default_factory=dict
    )  # the process's goal: url, element or event


class HelpAnswer(Message, tag="help_answer"):
    """What automated support offers: who answers, what, and why (the session's id to explain it)."""

    req: int
    session: str
    offer: Literal["walkthrough", "resume", "faq", "person"]
    persona: dict[str, str] = msgspec.field(default_factory=dict)  # id, name, avatar
    text: str = ""  # the persona's line for this offer
    walkthrough: str = ""
    title: str = ""
    step: str = ""
    run: str = ""  # resume: the run to continue
    faq: list[dict[str, str]] = msgspec.field(default_factory=list)  # id, question, answer
    # A person: where the referral went (live_agent, chat, email, callback, queue) and, while the
    # visitor waits for an agent, their place in line and the estimated wait.
    channel: str = ""
    queue: dict[str, int] = msgspec.field(default_factory=dict)  # position, wait_ms
    rate: bool = False  # a person closed the session: ask the visitor to rate it (``rating``)
    chat: bool = False  # a person took the session: the chat with them is open


class ChatLine(Message, tag="chat_line"):
    """A line of a support session's chat, from the agent or echoed from the visitor's other tabs."""

    session: str
    sender: Literal["agent", "visitor"]
    text: str
    at: int
    name: str = ""


class Typed(Message, tag="typed"):
    """The agent is typing in the support session's chat."""

    session: str
    name: str = ""


class Cobrowse(Message, tag="cobrowse"):
    """Where the co-browse session stands, for the visitor's page: who is there, what is asked of it."""

    session: str
    agents: list[str] = msgspec.field(default_factory=list)  # the names of the agents watching now
    ask: Literal["", "view", "control"] = ""  # a question for the visitor (a dialog)
    asker: str = ""  # who asks
    answer_within_ms: int = 0  # unanswered by then counts as declined
    record: bool = False  # send the mirror (the visitor agreed, or the site does not ask first)
    snapshot: bool = False  # send a fresh full snapshot (a gap the server cannot fill)
    control: str = ""  # the name of the agent who may click and type now, if any
    ended: bool = False  # the co-browse session is over: stop, hide the banner


class Remote(Message, tag="remote"):
    """An agent's action for the page to perform: on a node of the mirror, at a point inside it."""

    session: str
    id: int
    action: Literal["click", "fill", "highlight"]
    node: int
    page: int  # the recorder run the node id belongs to
    x: float = 0.5  # where in the element, as fractions of its width and height
    y: float = 0.5
    value: str = ""
    name: str = ""  # the agent's name


ServerMessage = (
    Welcome
    | Ack
    | Identified
    | Error
    | Offers
    | RunMessage
    | HelpAnswer
    | ChatLine
    | Typed
    | Cobrowse
    | Remote
)

CLIENT_KINDS: dict[str, type[Message]] = {
    "hello": Hello, "identify": Identify, "location": Location, "focus": Focus, "chunk": Chunk,
    "launcher": Launcher, "start": Start, "resume": Resume, "step": Step, "signal": Signal, "goal": Goal,
    "feedback": Feedback, "rating": Rating, "chat": Chat, "typing": Typing, "help": Help,
    "mirror": Mirror, "consent": Consent, "remote_done": RemoteDone,
}  # fmt: skip
SERVER_KINDS: dict[str, type[Message]] = {
    "welcome": Welcome, "ack": Ack, "identified": Identified, "error": Error, "offers": Offers, "run": RunMessage,
    "help_answer": HelpAnswer, "chat_line": ChatLine, "typed": Typed, "cobrowse": Cobrowse,
    "remote": Remote,
}  # fmt: skip

#: Largest encoded size of each kind, in bytes. A larger frame closes the connection with 1009.
SIZE_LIMITS: dict[str, int] = {
    "hello": 8 * KiB,
    "identify": 8 * KiB,
    "location": 16 * KiB,
    "focus": 256,
    "chunk": 65 * KiB,
    "launcher": 64,
    "start": 256,
    "resume": 256,
    "step": 1 * KiB,
    "signal": 1 * KiB,
    "goal": 512,
    "feedback": 256,
    "rating": 256,
    "chat": 9 * KiB,
    "typing": 128,
    "help": 1 * KiB,
    "mirror": 64 * KiB,  # larger (a full snapshot) arrives in chunks
    "consent": 256,
    "remote_done": 256,
}
#: Largest message reassembled from chunks.
MAX_ASSEMBLED = 8 * 1024 * KiB
#: Largest frame the WebSocket layer accepts at all.
MAX_FRAME = max(SIZE_LIMITS.values())


def kind_of(message: Message) -> str:
    """The ``kind`` tag of a message."""
    tag = type(message).__struct_config__.tag
    assert isinstance(tag, str)
    return tag
