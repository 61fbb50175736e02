"""The webhook signature: HMAC-SHA256 over "<timestamp>." + body, refused when tampered,
signed with another secret, or outside the replay window; and delivery with retries,
against a real HTTP server."""

from __future__ import annotations

import asyncio
import time

import pytest

from server.channels.webhook import DELIVERY_HEADER, SIGNATURE_HEADER, deliver, sign, verify
from tests.webhook_receiver import webhook_receiver

SECRET = b"whsec-test-secret"
BODY = b'{"session":"sess-1"}'


def test_a_signature_verifies_only_the_body_and_secret_it_was_made_for() -> None:
    header = sign(SECRET, BODY, 1_795_000_000)
    assert header.startswith("t=1795000000,v1=")
    assert verify(SECRET, header, BODY, now_s=1_795_000_000)
    assert not verify(SECRET, header, BODY.replace(b"1", b"2"), now_s=1_795_000_000)
    assert not verify(b"another-secret", header, BODY, now_s=1_795_000_000)
    assert not verify(
        SECRET, header.replace("t=1795000000", "t=1795000001"), BODY, now_s=1_795_000_000
    )
    assert not verify(SECRET, "garbage", BODY, now_s=1_795_000_000)
    assert not verify(SECRET, "t=1795000000,v1=é\udcff", BODY, now_s=1_795_000_000)
    assert not verify(SECRET, "t=x,v1=00", BODY, now_s=1_795_000_000)


@pytest.mark.parametrize(
    ("age_s", "accepted"), [(0, True), (300, True), (301, False), (-300, True), (-301, False)]
)
def test_the_replay_window_is_five_minutes_either_way(age_s: int, accepted: bool) -> None:
    header = sign(SECRET, BODY, 1_795_000_000)
    assert verify(SECRET, header, BODY, now_s=1_795_000_000 + age_s) is accepted


def test_any_of_two_signatures_may_match_while_secrets_rotate() -> None:
    old = sign(b"old-secret", BODY, 1_795_000_000)
    new = sign(SECRET, BODY, 1_795_000_000).partition(",")[2]
    assert verify(SECRET, f"{old},{new}", BODY, now_s=1_795_000_000)


async def _no_wait(_: float) -> None:
    await asyncio.sleep(0)


@pytest.mark.anyio
async def test_a_delivery_is_retried_with_the_same_id_until_the_receiver_takes_it() -> None:
    with webhook_receiver() as receiver:
        receiver.statuses = [503, 429]
        result = await deliver(
            receiver.url, SECRET, BODY, "sess-1", clock=time.time, sleep=_no_wait
        )
        assert (result.delivered, result.attempts, result.status) == (True, 3, 200)
        assert {r.headers[DELIVERY_HEADER] for r in receiver.requests} == {"sess-1"}
        last = receiver.requests[-1]
        assert last.body == BODY and last.headers["Content-Type"] == "application/json"
        assert verify(SECRET, last.headers[SIGNATURE_HEADER], last.body, now_s=int(time.time()))


@pytest.mark.anyio
async def test_a_refused_delivery_is_not_retried_and_an_unreachable_one_gives_up() -> None:
    with webhook_receiver() as receiver:
        receiver.statuses = [400]
        refused = await deliver(
            receiver.url, SECRET, BODY, "sess-2", clock=time.time, sleep=_no_wait
        )
        assert (refused.delivered, refused.attempts, refused.status) == (False, 1, 400)
        dead_url = receiver.url
    gone = await deliver(
        dead_url,
        SECRET,
        BODY,
        "sess-3",
        max_attempts=2,
        timeout_s=2,
        clock=time.time,
        sleep=_no_wait,
    )
    assert (gone.delivered, gone.attempts, gone.status) == (False, 2, None)
    assert gone.error


@pytest.mark.anyio
async def test_a_redirect_is_the_final_answer_and_never_followed() -> None:
    with webhook_receiver() as elsewhere, webhook_receiver() as receiver:
        receiver.statuses = [302]
        receiver.location = elsewhere.url
        result = await deliver(
            receiver.url, SECRET, BODY, "sess-4", clock=time.time, sleep=_no_wait
        )
        assert (result.delivered, result.attempts, result.status) == (False, 1, 302)
        assert elsewhere.requests == []


def test_a_visitor_id_with_line_breaks_cannot_add_email_headers() -> None:
    from server.channels.email import referral_email
    from server.support.handoff import HandoffPacket, Visitor

    packet = HandoffPacket(
        site="demo",
        session="sess-1\r\nBcc: eve@evil.test",
        created_ms=1,
        triggers=["asked_for_human"],
        visitor=Visitor(user="bob\u2028Bcc: eve@evil.test\nX-Evil: 1"),
    )
    message = referral_email(packet, ["support@acme.test"], "tandem@acme.test")
    rendered = message.as_string()
    assert "\nBcc:" not in rendered and "\nX-Evil:" not in rendered
    assert message["Subject"].startswith("[Tandem] bob Bcc: eve@evil.test X-Evil: 1 needs a person")
