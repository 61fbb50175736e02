"""Chunk reassembly limits and the abuse meter."""

from __future__ import annotations

import pytest

from server.protocol import ProtocolError, decode_client, encode
from server.protocol.chunks import ChunkAssembler, split
from server.protocol.codec import Problem
from server.protocol.messages import Chunk, Location
from server.protocol.rules import AbuseMeter, unsupported_version_reason


def test_a_split_message_reassembles_and_decodes() -> None:
    message = Location(cseq=9, at=1, url="https://a.example/" + "x" * 2000, title="t")
    data = encode(message)
    parts = split(data, message_id="m1", part_size=500)
    assert len(parts) == 5
    assembler = ChunkAssembler()
    results = [assembler.add(p) for p in parts]
    assert results[:-1] == [None] * 4
    whole = results[-1]
    assert whole == data
    assert decode_client(whole, assembled=True) == message


def test_assembled_bytes_may_exceed_one_frame_but_not_the_assembled_limit() -> None:
    assembler = ChunkAssembler(max_bytes=1000)
    assembler.add(Chunk(id="a", index=0, total=3, data=b"x" * 600))
    with pytest.raises(ProtocolError) as caught:
        assembler.add(Chunk(id="a", index=1, total=3, data=b"x" * 600))
    assert caught.value.problem is Problem.TOO_LARGE


@pytest.mark.parametrize(
    ("chunks", "field"),
    [
        ([Chunk(id="a", index=1, total=2, data=b"")], "index"),
        (
            [Chunk(id="a", index=0, total=3, data=b""), Chunk(id="a", index=2, total=3, data=b"")],
            "index",
        ),
        (
            [Chunk(id="a", index=0, total=3, data=b""), Chunk(id="a", index=1, total=4, data=b"")],
            "total",
        ),
    ],
    ids=["starts-late", "skips-a-part", "changes-total"],
)
def test_out_of_order_chunks_are_refused(chunks: list[Chunk], field: str) -> None:
    assembler = ChunkAssembler()
    *accepted, refused = chunks
    for chunk in accepted:
        assembler.add(chunk)
    with pytest.raises(ProtocolError) as caught:
        assembler.add(refused)
    assert caught.value.field == field


def test_only_a_few_chunked_messages_may_be_in_flight() -> None:
    assembler = ChunkAssembler(max_open=2)
    assembler.add(Chunk(id="a", index=0, total=2, data=b""))
    assembler.add(Chunk(id="b", index=0, total=2, data=b""))
    with pytest.raises(ProtocolError, match="in flight"):
        assembler.add(Chunk(id="c", index=0, total=2, data=b""))


def test_a_chunk_cannot_carry_a_chunk() -> None:
    inner = encode(Chunk(id="x", index=0, total=1, data=b"y"))
    with pytest.raises(ProtocolError, match="cannot contain another chunk"):
        decode_client(inner, assembled=True)


def test_abuse_meter_counts_within_its_window() -> None:
    meter = AbuseMeter(limit=3, window_ms=1000)
    assert [meter.strike(t) for t in (0, 100, 200)] == [False, False, False]
    assert meter.strike(300) is True
    fresh = AbuseMeter(limit=3, window_ms=1000)
    assert not any(fresh.strike(t) for t in (0, 600, 1200, 1800, 2400))  # spread out: never abusive


def test_unsupported_version_reason_lists_versions() -> None:
    assert (
        unsupported_version_reason(3, (1, 2)) == "unsupported protocol version 3; supported: 1, 2"
    )
