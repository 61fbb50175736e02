"""Encode and decode messages; classify every way a frame can be wrong."""

from __future__ import annotations

import enum
import math
import re
import struct
from typing import Any

import msgspec

from server.protocol.messages import (
    CLIENT_KINDS,
    MAX_ASSEMBLED,
    MAX_FRAME,
    SIZE_LIMITS,
    ClientMessage,
    Message,
    ServerMessage,
    kind_of,
)


class Problem(enum.StrEnum):
    """What was wrong with a frame; each maps to an answer the server gives."""

    MALFORMED = "malformed"  # not msgpack → error message, connection kept
    INVALID = "invalid"  # schema violation → error message naming the field
    UNKNOWN_KIND = "unknown_kind"  # → error message
    TOO_LARGE = "too_large"  # → close 1009
    NOT_BINARY = "not_binary"  # a text frame → error message


class ProtocolError(ValueError):
    """A frame that cannot be accepted. ``field`` names the offending field, if one."""

    def __init__(
        self, problem: Problem, message: str, *, field: str = "", kind: str = "", cseq: int = 0
    ) -> None:
        super().__init__(message)
        self.problem = problem
        self.field = field
        self.kind = kind
        self.cseq = cseq  # the refused message's cseq when it had a usable one: the client drops it


_encoder = msgspec.msgpack.Encoder()
_json_encoder = msgspec.json.Encoder()
_client_decoder: msgspec.msgpack.Decoder[ClientMessage] = msgspec.msgpack.Decoder(ClientMessage)
_server_decoder: msgspec.msgpack.Decoder[ServerMessage] = msgspec.msgpack.Decoder(ServerMessage)
_peek_decoder = msgspec.msgpack.Decoder(dict[str, Any])

_AT = re.compile(r" - at `\$((?:\.[A-Za-z_][\w]*|\[\d+\]|\[\.\.\.\])*)`$")
_UNKNOWN_FIELD = re.compile(r"unknown field `([^`]+)`")
_MISSING_FIELD = re.compile(r"missing required field `([^`]+)`")


def encode(message: Message) -> bytes:
    """The msgpack bytes of a message."""
    return _encoder.encode(message)


def _field_of(error: str) -> str:
    match = _AT.search(error)
    # "[...]" stands for a mapping's value: name the mapping.
    path = match[1].replace("[...]", "").lstrip(".") if match else ""
    for pattern in (_UNKNOWN_FIELD, _MISSING_FIELD):
        named = pattern.search(error)
        if named:
            return f"{path}.{named[1]}" if path else named[1]
    return path


def _explain(error: str) -> str:
    return _AT.sub("", error)


def decode_client(frame: bytes, *, assembled: bool = False) -> ClientMessage:
    """Decode one frame from a client, checking its schema and its kind's size limit.

    ``assembled``: the bytes were reassembled from chunks; they may be up to
    ``MAX_ASSEMBLED`` long, but may not themselves be a chunk.
    """
    cap = MAX_ASSEMBLED if assembled else MAX_FRAME
    if len(frame) > cap:
        raise ProtocolError(Problem.TOO_LARGE, f"frame of {len(frame)} bytes exceeds {cap}")
    try:
        message = _client_decoder.decode(frame)
    except msgspec.ValidationError as exc:  # a subclass of DecodeError: test it first
        raise _classify(frame, str(exc), assembled=assembled) from None
    except msgspec.DecodeError as exc:
        raise ProtocolError(Problem.MALFORMED, f"not a msgpack message: {exc}") from None
    kind = kind_of(message)
    if assembled and kind == "chunk":
        raise ProtocolError(
            Problem.INVALID, "a chunked message cannot contain another chunk", field="kind"
        )
    limit = MAX_ASSEMBLED if assembled else SIZE_LIMITS[kind]
    if len(frame) > limit:
        raise ProtocolError(
            Problem.TOO_LARGE,
            f"{kind} message of {len(frame)} bytes exceeds its limit of {limit}",
            kind=kind,
        )
    refusal = _unstorable(message, "") if _maybe_unstorable(frame, message) else None
    if refusal is not None:
        field, why = refusal
        raise ProtocolError(
            Problem.INVALID,
            why,
            field=field,
            kind=kind,
            cseq=getattr(message, "cseq", 0),
        )
    return message


_FLOATS = ((b"\xcb", ">d", 8), (b"\xca", ">f", 4))  # msgpack float64, float32


def _maybe_unstorable(frame: bytes, message: Message) -> bool:
    """Whether the message might hold a NUL or a non-finite number (then ``_unstorable`` looks
    field by field). In C, not Python: a NUL in any string shows as ``\\u0000`` in the message's
    JSON; a NaN or ±Infinity can only be a msgpack float, whose marker byte is found and read
    (a marker byte inside a string or bytes may give a false alarm: the slow look decides)."""
    try:
        if b"\\u0000" in _json_encoder.encode(message):
            return True
    except (TypeError, msgspec.EncodeError):  # something JSON has no form for: look closely
        return True
    for marker, layout, size in _FLOATS:
        at = frame.find(marker)
        while at != -1:
            chunk = frame[at + 1 : at + 1 + size]
            if len(chunk) == size and not math.isfinite(struct.unpack(layout, chunk)[0]):
                return True
            at = frame.find(marker, at + 1)
    return False


def _unstorable(value: object, path: str) -> tuple[str, str] | None:
    """The first value no store can keep: (field, why), or None.

    A NUL character is refused in every string (PostgreSQL cannot store it in
    text or jsonb), and NaN or ±Infinity in every number (JSON has no such
    values). Fields are named as schema errors name them: a mapping by its
    own name, whatever its key.
    """
    if isinstance(value, str):
        if "\x00" in value:
            return path, f"{path or 'a string'} contains a NUL character"
    elif isinstance(value, float):
        if not math.isfinite(value):
            return path, f"{path or 'a number'} must be a finite number, not {value}"
    elif isinstance(value, msgspec.Struct):
        for name in value.__struct_fields__:
            found = _unstorable(getattr(value, name), f"{path}.{name}" if path else name)
            if found is not None:
                return found
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found = _unstorable(item, f"{path}[{index}]")
            if found is not None:
                return found
    elif isinstance(value, msgspec.msgpack.Ext):
        return path, f"{path or 'a value'} is a msgpack extension, which no store keeps"
    elif isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                return path, f"a key of {path or 'a map'} is not a string"
            if "\x00" in key:
                return path, f"a key of {path} contains a NUL character"
            found = _unstorable(item, path)
            if found is not None:
                field, why = found
                return field, why.replace(path, f"{path}[{key!r}]", 1)
    return None


def _classify(frame: bytes, error: str, *, assembled: bool = False) -> ProtocolError:
    field = _field_of(error)
    if field == "kind":
        try:
            kind = _peek_decoder.decode(frame).get("kind")
        except msgspec.MsgspecError:
            kind = None
        if kind is None:
            return ProtocolError(Problem.INVALID, "a message needs a kind", field="kind")
        known = ", ".join(sorted(CLIENT_KINDS))
        return ProtocolError(
            Problem.UNKNOWN_KIND,
            f"unknown kind {kind!r}; this server accepts {known}",
            field="kind",
        )
    kind, cseq = "", 0
    try:
        peeked = _peek_decoder.decode(frame)
        named = peeked.get("kind")
        kind = named if isinstance(named, str) else ""
        number = peeked.get("cseq")
        cseq = (
            number if isinstance(number, int) and not isinstance(number, bool) and number > 0 else 0
        )
    except msgspec.MsgspecError:
        pass
    limit = SIZE_LIMITS.get(kind)
    if limit is not None and len(frame) > limit and not assembled:
        # Too big is the answer even when the oversized field also breaks its schema.
        return ProtocolError(
            Problem.TOO_LARGE,
            f"{kind} message of {len(frame)} bytes exceeds its limit of {limit}",
            kind=kind,
        )
    return ProtocolError(Problem.INVALID, _explain(error), field=field, kind=kind, cseq=cseq)


def decode_server(frame: bytes) -> ServerMessage:
    """Decode one frame from the server (for tests and tools)."""
    return _server_decoder.decode(frame)
