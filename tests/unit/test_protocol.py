"""The wire protocol: every kind round-trips, every rejection is classified, docs and vectors agree."""

from __future__ import annotations

import json
import re
from typing import Any

import msgspec
import pytest

from server.protocol import ProtocolError, decode_client, decode_server, encode
from server.protocol.codec import Problem
from server.protocol.messages import CLIENT_KINDS, MAX_FRAME, SERVER_KINDS, SIZE_LIMITS, Location
from tests.conftest import REPO
from tests.golden import vectors

pack = msgspec.msgpack.encode
TAB = "t3Kq9vXbLw2mZp8R"
GOOD_LOCATION: dict[str, Any] = {
    "kind": "location",
    "cseq": 1,
    "at": 1_795_000_000_000,
    "url": "https://a.example/x",
}


@pytest.mark.parametrize(("name", "message"), vectors.VECTORS, ids=[n for n, _ in vectors.VECTORS])
def test_every_vector_round_trips(name: str, message: Any) -> None:
    data = encode(message)
    decoded = decode_client(data) if type(message) in CLIENT_KINDS.values() else decode_server(data)
    assert decoded == message
    assert encode(decoded) == data


def test_golden_vectors_file_is_current() -> None:
    assert vectors.FILE.read_text(encoding="utf-8") == vectors.render(), (
        "regenerate with: python -m tests.golden.vectors"
    )


def test_golden_vectors_cover_every_kind() -> None:
    kinds = {v["kind"] for v in json.loads(vectors.FILE.read_text())}
    assert kinds == set(CLIENT_KINDS) | set(SERVER_KINDS)


@pytest.mark.parametrize("entry", json.loads(vectors.FILE.read_text()), ids=lambda e: e["name"])
def test_golden_bytes_decode_and_re_encode_identically(entry: dict[str, str]) -> None:
    data = bytes.fromhex(entry["hex"])
    decoded = decode_client(data) if entry["kind"] in CLIENT_KINDS else decode_server(data)
    assert encode(decoded) == data


def test_defaults_are_left_out_on_the_wire() -> None:
    message = Location(cseq=1, at=2, url="u")
    assert msgspec.msgpack.decode(encode(message)) == {
        "kind": "location",
        "cseq": 1,
        "at": 2,
        "url": "u",
    }


REJECTIONS: list[tuple[str, dict[str, Any], Problem, str]] = [
    ("no kind", {"cseq": 1}, Problem.INVALID, "kind"),
    ("unknown kind", {"kind": "teleport"}, Problem.UNKNOWN_KIND, "kind"),
    ("kind not a string", {"kind": 7}, Problem.UNKNOWN_KIND, "kind"),
    ("unknown field", {**GOOD_LOCATION, "colour": "red"}, Problem.INVALID, "colour"),
    ("missing field", {"kind": "location", "cseq": 1, "at": 1}, Problem.INVALID, "url"),
    ("cseq zero", {**GOOD_LOCATION, "cseq": 0}, Problem.INVALID, "cseq"),
    ("cseq negative", {**GOOD_LOCATION, "cseq": -4}, Problem.INVALID, "cseq"),
    ("at as text", {**GOOD_LOCATION, "at": "now"}, Problem.INVALID, "at"),
    ("empty url", {**GOOD_LOCATION, "url": ""}, Problem.INVALID, "url"),
    ("url too long", {**GOOD_LOCATION, "url": "h" * 4097}, Problem.INVALID, "url"),
    ("title too long", {**GOOD_LOCATION, "title": "t" * 513}, Problem.INVALID, "title"),
    ("nav unknown", {**GOOD_LOCATION, "nav": "teleport"}, Problem.INVALID, "nav"),
    (
        "marker not a slug",
        {**GOOD_LOCATION, "markers": ["ok", "Not OK"]},
        Problem.INVALID,
        "markers[1]",
    ),
    (
        "too many markers",
        {**GOOD_LOCATION, "markers": [f"m{i}" for i in range(17)]},
        Problem.INVALID,
        "markers",
    ),
    (
        "hello tab too short",
        {"kind": "hello", "v": 1, "site": "demo", "tab": "abc"},
        Problem.INVALID,
        "tab",
    ),
    (
        "hello site not a slug",
        {"kind": "hello", "v": 1, "site": "Demo Site", "tab": TAB},
        Problem.INVALID,
        "site",
    ),
    (
        "hello identity without user",
        {"kind": "hello", "v": 1, "site": "demo", "tab": TAB, "identity": {"token": "t"}},
        Problem.INVALID,
        "identity.user",
    ),
    (
        "hello anonymous id malformed",
        {
            "kind": "hello",
            "v": 1,
            "site": "demo",
            "tab": TAB,
            "anonymous": {"anon": "x", "sig": "s" * 20},
        },
        Problem.INVALID,
        "anonymous.anon",
    ),
    (
        "identify empty token",
        {"kind": "identify", "user": "u", "token": ""},
        Problem.INVALID,
        "token",
    ),
    (
        "identify nested trait",
        {"kind": "identify", "user": "u", "token": "t", "traits": {"a": {"b": 1}}},
        Problem.INVALID,
        "traits",
    ),
    (
        "identify too many traits",
        {"kind": "identify", "user": "u", "token": "t", "traits": {f"k{i}": i for i in range(65)}},
        Problem.INVALID,
        "traits",
    ),
    (
        "focus not boolean",
        {"kind": "focus", "cseq": 1, "at": 1, "focused": "yes", "visible": True},
        Problem.INVALID,
        "focused",
    ),
    (
        "chunk total zero",
        {"kind": "chunk", "id": "c", "index": 0, "total": 0, "data": b""},
        Problem.INVALID,
        "total",
    ),
    (
        "chunk data as text",
        {"kind": "chunk", "id": "c", "index": 0, "total": 1, "data": "abc"},
        Problem.INVALID,
        "data",
    ),
    ("not a map", [1, 2, 3], Problem.INVALID, ""),  # type: ignore[list-item]
    # Values no store can keep: NUL in any string, NaN or ±Infinity in any number.
    ("NUL in a title", {**GOOD_LOCATION, "title": "a\x00b"}, Problem.INVALID, "title"),
    ("NUL in a url", {**GOOD_LOCATION, "url": "https://a.example/\x00"}, Problem.INVALID, "url"),
    ("NUL in a referrer", {**GOOD_LOCATION, "referrer": "\x00"}, Problem.INVALID, "referrer"),
    (
        "NUL in a question",
        {"kind": "help", "req": 1, "question": "how\x00?"},
        Problem.INVALID,
        "question",
    ),
    (
        "NUL in the identity's user",
        {
            "kind": "hello",
            "v": 1,
            "site": "demo",
            "tab": TAB,
            "identity": {"user": "u\x00", "token": "t"},
        },
        Problem.INVALID,
        "identity.user",
    ),
    (
        "NUL in a trait",
        {"kind": "identify", "user": "u", "token": "t", "traits": {"name": "A\x00"}},
        Problem.INVALID,
        "traits",
    ),
    (
        "NUL in a trait's name",
        {"kind": "identify", "user": "u", "token": "t", "traits": {"na\x00me": "A"}},
        Problem.INVALID,
        "traits",
    ),
    (
        "NaN trait",
        {"kind": "identify", "user": "u", "token": "t", "traits": {"score": float("nan")}},
        Problem.INVALID,
        "traits",
    ),
    (
        "infinite trait",
        {"kind": "identify", "user": "u", "token": "t", "traits": {"a": 1, "b": float("-inf")}},
        Problem.INVALID,
        "traits",
    ),
    (
        "NaN similarity",
        {
            "kind": "step",
            "cseq": 1,
            "at": 1,
            "run": "run-abcdefgh",
            "step": "a",
            "event": "shown",
            "similarity": float("nan"),
        },
        Problem.INVALID,
        "similarity",
    ),
]


@pytest.mark.parametrize(
    ("case", "data", "problem", "field"), REJECTIONS, ids=[r[0] for r in REJECTIONS]
)
def test_each_rejection_names_its_problem_and_field(
    case: str, data: Any, problem: Problem, field: str
) -> None:
    with pytest.raises(ProtocolError) as caught:
        decode_client(pack(data))
    assert caught.value.problem is problem
    assert caught.value.field == field


def test_bytes_that_are_not_msgpack_are_malformed() -> None:
    for junk in (b"\xc1", b"", b"\x83\xa4kind"):
        with pytest.raises(ProtocolError) as caught:
            decode_client(junk)
        assert caught.value.problem is Problem.MALFORMED


@pytest.mark.parametrize("kind", sorted(SIZE_LIMITS))
def test_each_kind_has_a_size_limit(kind: str) -> None:
    assert 0 < SIZE_LIMITS[kind] <= MAX_FRAME


def test_a_message_over_its_kinds_limit_is_too_large_even_if_also_invalid() -> None:
    big = {
        **GOOD_LOCATION,
        "referrer": "r" * 4000,
        "title": "t" * 500,
        "url": "u" * 4000,
        "markers": ["m"] * 16,
    }
    decode_client(pack(big))  # within 16 KiB
    focus = {
        "kind": "focus",
        "cseq": 1,
        "at": 1,
        "focused": True,
        "visible": True,
        "pad": "x" * 300,
    }
    with pytest.raises(ProtocolError) as caught:
        decode_client(pack(focus))
    assert caught.value.problem is Problem.TOO_LARGE
    assert "exceeds its limit of 256" in str(caught.value)
    with pytest.raises(ProtocolError) as whole:
        decode_client(b"\x00" * (MAX_FRAME + 1))
    assert whole.value.problem is Problem.TOO_LARGE


def test_every_kind_and_error_code_is_documented() -> None:
    doc = (REPO / "docs" / "protocol.md").read_text()
    for kind in [*CLIENT_KINDS, *SERVER_KINDS]:
        assert re.search(rf"^\| `{kind}` \|", doc, re.M), (
            f"kind {kind} is not documented in docs/protocol.md"
        )
    source = (REPO / "server" / "web" / "tab_socket.py").read_text()
    codes = {p.value for p in Problem if p is not Problem.TOO_LARGE} | set(
        re.findall(r'code="([a-z_]+)"', source)
    )
    for code in codes:
        assert f"`{code}`" in doc, f"error code {code} is not documented in docs/protocol.md"
    for close in re.findall(r"Close\((\d{4})", source):
        assert f"| {close} |" in doc, f"close code {close} is not documented"


def test_a_refused_numbered_message_carries_its_cseq_so_the_client_can_drop_it() -> None:
    with pytest.raises(ProtocolError) as caught:
        decode_client(pack({**GOOD_LOCATION, "cseq": 12, "nav": "teleport"}))
    assert (caught.value.field, caught.value.cseq) == ("nav", 12)
    with pytest.raises(ProtocolError) as no_number:
        decode_client(pack({**GOOD_LOCATION, "cseq": "twelve"}))
    assert no_number.value.cseq == 0


def test_a_value_no_store_can_keep_is_refused_with_the_message_s_cseq() -> None:
    with pytest.raises(ProtocolError) as nul:
        decode_client(pack({**GOOD_LOCATION, "cseq": 7, "title": "Invoices\x00"}))
    assert (nul.value.problem, nul.value.field, nul.value.cseq) == (Problem.INVALID, "title", 7)
    assert "NUL" in str(nul.value)
    with pytest.raises(ProtocolError) as nan:
        decode_client(
            pack({"kind": "identify", "user": "u", "token": "t", "traits": {"score": float("inf")}})
        )
    assert (nan.value.field, str(nan.value)) == (
        "traits",
        "traits['score'] must be a finite number, not inf",
    )
    # Finite numbers and ordinary text are fine.
    decode_client(pack({"kind": "identify", "user": "u", "token": "t", "traits": {"score": 1e308}}))


def test_an_extension_or_a_key_that_is_not_a_string_anywhere_in_a_mirror_is_refused() -> None:
    for nested in ({"x": msgspec.msgpack.Ext(1, b"ab")}, {"k": {True: 1}}, {"k": [{None: 1}]}):
        frame = msgspec.msgpack.encode(
            {"kind": "mirror", "session": "s", "page": 1,
             "events": [{"type": 3, "data": {"source": 0, "nested": nested}, "timestamp": 1}]}
        )  # fmt: skip
        with pytest.raises(ProtocolError) as refused:
            decode_client(frame)
        assert refused.value.problem is Problem.INVALID  # an error answered, not a crash
