"""The signed webhook channel: a referral's handoff packet, POSTed to the site's URL.

Each request carries

- ``Tandem-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>``:
  the receiver recomputes it over the raw body and refuses a timestamp outside
  its replay window (``verify`` does both, in constant time);
- ``Tandem-Delivery: <id>``: the same on every retry of one packet, so a
  receiver can drop duplicates;
- ``Content-Type: application/json``: the packet (``tandem schema handoff``).

A delivery is retried with exponential backoff (1 s, 2 s, 4 s, …) on network
errors, 408, 429 and 5xx answers, up to ``max_attempts``; any other answer is
final — a redirect too: it is never followed. ``sign`` and ``verify`` are pure; ``deliver`` does the I/O.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

log = logging.getLogger("tandem.channels.webhook")

SIGNATURE_HEADER = "Tandem-Signature"
DELIVERY_HEADER = "Tandem-Delivery"
#: A signature older (or newer) than this is refused: a captured request cannot be replayed later.
REPLAY_WINDOW_S = 300
RETRY_STATUSES = frozenset({408, 429})


def sign(secret: bytes, body: bytes, timestamp: int) -> str:
    """The ``Tandem-Signature`` header value for ``body`` sent at ``timestamp`` (unix seconds)."""
    digest = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(
    secret: bytes, header: str, body: bytes, *, now_s: int, window_s: int = REPLAY_WINDOW_S
) -> bool:
    """Whether ``header`` signs ``body`` with ``secret`` and was made within ``window_s`` of ``now_s``."""
    parts: dict[str, list[str]] = {}
    for item in header.split(","):
        name, _, value = item.strip().partition("=")
        parts.setdefault(name, []).append(value)
    try:
        timestamp = int(parts.get("t", [""])[0])
    except ValueError:
        return False
    if abs(now_s - timestamp) > window_s:
        return False
    expected = sign(secret, body, timestamp).partition(",v1=")[2].encode()
    # Any of the v1 values may match (a sender rotating secrets sends two); compared as bytes,
    # so that a header with any characters in it is refused, never an error.
    return any(
        hmac.compare_digest(expected, given.encode("utf-8", "surrogatepass"))
        for given in parts.get("v1", [])
    )


@dataclass(frozen=True)
class Delivery:
    delivered: bool
    attempts: int
    status: int | None  # the last HTTP status, None when the last attempt got no answer
    error: str = ""


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer, not an instruction: following one would re-send the signed
    packet elsewhere (or drop its body), so it is reported as the final status."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


def _post(url: str, body: bytes, headers: dict[str, str], timeout_s: float) -> int:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with _OPENER.open(request, timeout=timeout_s) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


async def deliver(
    url: str,
    secret: bytes,
    body: bytes,
    delivery_id: str,
    *,
    max_attempts: int = 5,
    timeout_s: float = 10.0,
    first_delay_s: float = 1.0,
    clock: Callable[[], float],
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> Delivery:
    """POST ``body`` signed, retrying what may succeed later; the outcome of the last attempt."""
    status: int | None = None
    error = ""
    for attempt in range(1, max_attempts + 1):
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Tandem-Webhook/1",
            DELIVERY_HEADER: delivery_id,
            SIGNATURE_HEADER: sign(secret, body, int(clock())),
        }
        try:
            status = await asyncio.to_thread(_post, url, body, headers, timeout_s)
            error = ""
        except OSError as exc:  # refused, reset, timed out, unresolvable
            status, error = None, str(exc) or type(exc).__name__
        if status is not None and 200 <= status < 300:
            return Delivery(True, attempt, status)
        if status is not None and status < 500 and status not in RETRY_STATUSES:
            break  # the receiver refused this packet: sending it again changes nothing
        if attempt < max_attempts:
            log.warning(
                "webhook %s attempt %d failed (%s); retrying", delivery_id, attempt, error or status
            )
            await sleep(first_delay_s * 2 ** (attempt - 1))
    log.error("webhook %s not delivered to %s: %s", delivery_id, url, error or status)
    return Delivery(False, attempt, status, error)
