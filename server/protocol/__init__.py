"""The wire protocol between ``tandem.js`` and the server (pure: no I/O).

Binary WebSocket frames, each one msgpack-encoded message with a ``kind``.
``docs/protocol.md`` documents every kind; a test keeps the two in step.
"""

from server.protocol.codec import (
    ProtocolError,
    decode_client,
    decode_server,
    encode,
)
from server.protocol.messages import PROTOCOL_VERSION, SUPPORTED_VERSIONS

__all__ = [
    "PROTOCOL_VERSION",
    "SUPPORTED_VERSIONS",
    "ProtocolError",
    "decode_client",
    "decode_server",
    "encode",
]
