"""The console's live socket: what an agent's session page and the server say (docs/cobrowse.md).

One binary msgpack map per frame, tagged by ``kind`` like the tab protocol.
The agent joins with the stream position it already has (0, 0 the first
time); the server answers with the snapshot and the tail since it
(``replay``), or only what is missing (``events``), then streams.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from server.protocol.messages import KiB

#: Largest frame an agent may send.
MAX_AGENT_FRAME = 4 * KiB


class AgentMessage(
    msgspec.Struct, tag_field="kind", forbid_unknown_fields=True, omit_defaults=True
):
    pass


# --- agent → server ------------------------------------------------------------------


class Join(AgentMessage, tag="join", kw_only=True):
    """Start (or resume) watching; ``epoch``/``offset``: the last stream message already shown."""

    epoch: Annotated[int, msgspec.Meta(ge=0)] = 0
    offset: Annotated[int, msgspec.Meta(ge=0)] = 0


class ControlRequest(AgentMessage, tag="control", kw_only=True):
    """Ask the visitor for control (``want``) or give it back."""

    want: bool


class Act(AgentMessage, tag="act", kw_only=True):
    """Do something on the visitor's page: on a node of the mirror's ``epoch``, at a point in it."""

    id: Annotated[int, msgspec.Meta(ge=1, le=2**31)]
    action: Literal["click", "fill", "highlight"]
    node: Annotated[int, msgspec.Meta(ge=1, le=2**31)]
    epoch: Annotated[int, msgspec.Meta(ge=1)]
    x: Annotated[float, msgspec.Meta(ge=0, le=1)] = 0.5
    y: Annotated[float, msgspec.Meta(ge=0, le=1)] = 0.5
    value: Annotated[str, msgspec.Meta(max_length=2000)] = ""


class AskView(AgentMessage, tag="ask_view", kw_only=True):
    """Ask the visitor again to see the page (after they said no)."""


AgentClientMessage = Join | ControlRequest | Act | AskView


# --- server → agent ------------------------------------------------------------------


class Replay(AgentMessage, tag="replay", kw_only=True):
    """Start the mirror over: the latest full snapshot and every event since, ending at ``offset``."""

    epoch: int
    offset: int
    events: list[dict[str, Any]]


class Events(AgentMessage, tag="events", kw_only=True):
    """The next events of the mirror, up to ``offset``."""

    epoch: int
    offset: int
    events: list[dict[str, Any]]


class Status(AgentMessage, tag="status", kw_only=True):
    """Where the co-browse session stands, for the agents."""

    view: Literal["", "asked", "granted", "declined"] = ""
    watching: list[str] = msgspec.field(default_factory=list)  # names of the agents watching
    control: Literal["", "requested", "granted"] = ""
    controller: str = ""  # the email of the agent who asked for or holds control
    controller_name: str = ""
    step: dict[str, Any] = msgspec.field(default_factory=dict)  # the walkthrough step reached
    waiting_for_page: bool = False  # no snapshot yet: the page has been asked for one
    ended: bool = False


class Result(AgentMessage, tag="result", kw_only=True):
    """What became of an action."""

    id: int
    ok: bool
    reason: str = ""


class Refused(AgentMessage, tag="refused", kw_only=True):
    code: str
    message: str
    id: int = 0  # the action refused, if one


AgentServerMessage = Replay | Events | Status | Result | Refused

_encoder = msgspec.msgpack.Encoder()
_decoder: msgspec.msgpack.Decoder[AgentClientMessage] = msgspec.msgpack.Decoder(AgentClientMessage)


class AgentFrameError(ValueError):
    """A frame from the console that cannot be accepted."""


def decode_agent(frame: bytes) -> AgentClientMessage:
    if len(frame) > MAX_AGENT_FRAME:
        raise AgentFrameError(f"frame of {len(frame)} bytes exceeds {MAX_AGENT_FRAME}")
    try:
        return _decoder.decode(frame)
    except msgspec.DecodeError as exc:  # ValidationError included
        raise AgentFrameError(str(exc)) from None


def encode_agent(message: AgentServerMessage) -> bytes:
    return _encoder.encode(message)
