"""Reassembling messages sent in chunks (large payloads such as DOM snapshots).

A sender splits a message's msgpack bytes into ``chunk`` frames that share an
``id``, numbered ``index`` 0..``total``-1 and sent in order. The assembler
returns the whole bytes when the last part arrives.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from server.protocol.codec import Problem, ProtocolError
from server.protocol.messages import MAX_ASSEMBLED, Chunk

MAX_OPEN = 4  # partial messages one connection may have in flight


@dataclass
class _Partial:
    total: int
    parts: list[bytes] = field(default_factory=list)
    size: int = 0


@dataclass
class ChunkAssembler:
    """Per-connection reassembly with limits on size and on messages in flight."""

    max_bytes: int = MAX_ASSEMBLED
    max_open: int = MAX_OPEN
    _open: dict[str, _Partial] = field(default_factory=dict)

    def add(self, chunk: Chunk) -> bytes | None:
        """Add one part; return the whole message's bytes when it is complete."""
        partial = self._open.get(chunk.id)
        if partial is None:
            if chunk.index != 0:
                raise ProtocolError(
                    Problem.INVALID,
                    f"chunk {chunk.id} starts at index {chunk.index}, not 0",
                    field="index",
                )
            if len(self._open) >= self.max_open:
                raise ProtocolError(
                    Problem.INVALID,
                    f"more than {self.max_open} chunked messages in flight",
                    field="id",
                )
            partial = self._open[chunk.id] = _Partial(chunk.total)
        if chunk.total != partial.total:
            self._open.pop(chunk.id)
            raise ProtocolError(
                Problem.INVALID, f"chunk {chunk.id} changed its total", field="total"
            )
        if chunk.index != len(partial.parts):
            self._open.pop(chunk.id)
            raise ProtocolError(
                Problem.INVALID,
                f"chunk {chunk.id} part {chunk.index} arrived, expected {len(partial.parts)}",
                field="index",
            )
        partial.size += len(chunk.data)
        if partial.size > self.max_bytes:
            self._open.pop(chunk.id)
            raise ProtocolError(
                Problem.TOO_LARGE, f"chunked message {chunk.id} exceeds {self.max_bytes} bytes"
            )
        partial.parts.append(chunk.data)
        if len(partial.parts) < partial.total:
            return None
        del self._open[chunk.id]
        return b"".join(partial.parts)


def split(payload: bytes, *, message_id: str, part_size: int = 60 * 1024) -> list[Chunk]:
    """Split a message's bytes into chunks (the client does the same in JavaScript)."""
    parts = [payload[i : i + part_size] for i in range(0, len(payload), part_size)] or [b""]
    return [Chunk(id=message_id, index=i, total=len(parts), data=p) for i, p in enumerate(parts)]
