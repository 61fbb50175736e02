"""Codec: encode + decode of the wire's common messages (a location, a step, a DOM delta of the
co-browse mirror) with Tandem's codec — msgspec, every field checked against the protocol's
schema — against plain msgpack-python packing and unpacking the same maps, unchecked."""

from __future__ import annotations

from typing import Any

import msgpack  # type: ignore[import-untyped]

from bench.harness import Result, compare, rounds_for, throughput
from server.protocol import decode_client, encode
from server.protocol.messages import Location, Mirror, MirrorEvent, Step

SAMPLE_URL = "https://app.acme.test/billing/payment-methods/new?plan=business"


def messages() -> list[Any]:
    adds = [
        {"parentId": 40 + i, "nextId": None,
         "node": {"type": 2, "id": 500 + i, "tagName": "li", "attributes": {"class": "row"},
                  "childNodes": [{"type": 3, "id": 900 + i, "textContent": f"Invoice #{1000 + i}"}]}}
        for i in range(20)
    ]  # fmt: skip
    delta = MirrorEvent(type=3, data={"source": 0, "adds": adds, "removes": [], "texts": [], "attributes": []},
                        timestamp=1_795_000_000_123.0)  # fmt: skip
    return [
        Location(cseq=7, at=1_795_000_000_000, url=SAMPLE_URL, title="Add a card", markers=["add-payment-method"]),
        Step(cseq=8, at=1_795_000_000_500, run="run-Zq3xK8mN4pR7sT1v", step="card-number", event="shown",
             strategy="testid", similarity=0.97),
        Mirror(session="sess-Q2x8mN4pR7sT1vW3", page=1, events=[delta]),
    ]  # fmt: skip


def run(seconds: float = 0.3) -> Result:
    typed = messages()
    frames = [encode(m) for m in typed]
    plain = [msgpack.unpackb(f) for f in frames]

    def tandem() -> int:
        for m in typed:
            decode_client(encode(m))
        return len(typed)

    def baseline() -> int:
        for m in plain:
            msgpack.unpackb(msgpack.packb(m))
        return len(plain)

    return compare(
        "codec: encode + decode", lambda: throughput(tandem, seconds=seconds),
        "msgpack-python, unchecked", lambda: throughput(baseline, seconds=seconds),
        unit="msgs/s", rounds=rounds_for(7), note="location, step, 20-node DOM delta",
    )  # fmt: skip
