"""Per-connection rules that need no I/O: the connection's phase and the abuse meter."""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass, field

ABUSE_LIMIT = 20
ABUSE_WINDOW_MS = 10_000


class Phase(enum.Enum):
    AWAITING_HELLO = "awaiting_hello"
    OPEN = "open"


@dataclass
class AbuseMeter:
    """Counts refused messages; more than ``limit`` within ``window_ms`` means the peer is abusive."""

    limit: int = ABUSE_LIMIT
    window_ms: int = ABUSE_WINDOW_MS
    _strikes: deque[int] = field(default_factory=deque)

    def strike(self, now_ms: int) -> bool:
        """Record one refused message at ``now_ms``; True when the limit is exceeded."""
        self._strikes.append(now_ms)
        while self._strikes and self._strikes[0] <= now_ms - self.window_ms:
            self._strikes.popleft()
        return len(self._strikes) > self.limit


def unsupported_version_reason(version: int, supported: tuple[int, ...]) -> str:
    """The close reason for a ``hello`` with a protocol version this server does not speak."""
    return f"unsupported protocol version {version}; supported: {', '.join(map(str, supported))}"
