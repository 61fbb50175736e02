"""Login attempts, limited (pure: the time is passed in).

Failures are counted per key — the account (site and email) and the client
address, separately — in a sliding window; a key with ``max_failures`` in the
window is refused until its oldest failure leaves it. A success clears the
account's count.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass
class LoginLimiter:
    max_failures: int = 5
    window_ms: int = 15 * 60 * 1000
    max_keys: int = 100_000
    failures: dict[str, deque[int]] = field(default_factory=dict)

    def retry_after_ms(self, keys: list[str], now_ms: int) -> int:
        """0 when every key may try now, else how long until all of them may."""
        wait = 0
        for key in keys:
            recent = self._recent(key, now_ms)
            if len(recent) >= self.max_failures:
                wait = max(wait, recent[0] + self.window_ms - now_ms)
        return wait

    def failed(self, keys: list[str], now_ms: int) -> None:
        for key in keys:
            self._recent(key, now_ms).append(now_ms)
        while len(self.failures) > self.max_keys:
            del self.failures[next(iter(self.failures))]

    def succeeded(self, key: str) -> None:
        self.failures.pop(key, None)

    def forgive(self, key: str, at_ms: int) -> None:
        """Take back one failure counted at ``at_ms`` (an attempt counted up front that succeeded)."""
        recent = self.failures.get(key)
        if recent and at_ms in recent:
            recent.remove(at_ms)

    def _recent(self, key: str, now_ms: int) -> deque[int]:
        recent = self.failures.setdefault(key, deque())
        while recent and recent[0] + self.window_ms <= now_ms:
            recent.popleft()
        return recent
