"""What nodes send each other for a visitor's tab (server/protocol/tabmail.py): the envelope, who
takes it, and which of two connections of one tab is the newer."""

from __future__ import annotations

import pytest

from server.protocol import decode_server, encode
from server.protocol.messages import ChatLine
from server.protocol.tabmail import (
    Close,
    MailInvalid,
    Send,
    Taken,
    addressed_to,
    channel_of,
    decode_mail,
    encode_mail,
    newer,
)


def test_mail_goes_over_the_wire_and_back() -> None:
    line = ChatLine(session="s-1", sender="agent", text="Hello", at=1, name="Ada")
    for mail in (
        Send(frame=encode(line), user="u-1"),
        Send(frame=b"\x00\xff"),
        Close(code=1008, reason="erased: gone", user="u-1"),
        Taken(conn="c-2", seq=41),
    ):
        assert decode_mail(encode_mail(mail)) == mail
    sent = decode_mail(encode_mail(Send(frame=encode(line))))
    assert isinstance(sent, Send) and decode_server(sent.frame) == line


@pytest.mark.parametrize("raw", [b"", b"\x01", b"\x81\xa4kind\xa4what", b"\x80"])
def test_unreadable_mail_is_refused(raw: bytes) -> None:
    with pytest.raises(MailInvalid):
        decode_mail(raw)


def test_mail_for_a_visitor_reaches_only_that_visitors_connection() -> None:
    assert addressed_to(Send(frame=b"", user="u-1"), "u-1")
    assert not addressed_to(Send(frame=b"", user="u-1"), "u-2")
    assert not addressed_to(Close(code=1008, reason="r", user="u-1"), None)
    assert addressed_to(Send(frame=b""), None)  # for whoever holds the tab


def test_of_two_connections_of_a_tab_exactly_one_is_newer() -> None:
    """By the broker's numbers for their hellos, never by a clock."""
    later = Taken(conn="b", seq=8)
    assert newer(later, "a", 7)
    assert not newer(Taken(conn="a", seq=7), "b", 8)
    # The same number (never issued twice, but still): the connection id decides, one way only.
    assert newer(Taken(conn="b", seq=7), "a", 7)
    assert not newer(Taken(conn="a", seq=7), "b", 7)
    assert not newer(Taken(conn="a", seq=9), "a", 7)  # its own word


def test_each_tab_of_each_site_has_its_own_channel() -> None:
    assert channel_of("demo", "t-1") == "tab:demo:t-1"
    assert channel_of("demo", "t-1") != channel_of("shop", "t-1")
