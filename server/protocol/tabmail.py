"""What one server node sends another for a visitor's tab (pure): the envelope on a tab's channel.

Every node listens, through the broker, to the channel of each tab whose
WebSocket it holds (``tab:SITE:TAB``). A node that has something for a page
whose tab is held elsewhere sends it there, in one of these:

- ``Send``: deliver ``frame`` (an encoded server → client message) to the page,
  if the tab's connection is still ``user``'s (empty: whoever's it is);
- ``Close``: close the tab's connection with ``code`` and ``reason`` (the
  visitor's data was erased), dropping what it had not stored yet;
- ``Taken``: a newer connection of the tab said hello on some node; any other
  connection of the tab that is older closes as ``tab_taken``. Which is older
  is decided by ``seq``, a number the broker issued at each hello (strictly
  increasing for a tab, whichever node asked), never by a node's clock: two
  nodes whose clocks disagree still agree on which connection is the newer.

Never seen by browsers; nodes of one deployment only (the broker's key prefix
keeps deployments apart).
"""

from __future__ import annotations

import msgspec


class Send(msgspec.Struct, tag="send", kw_only=True, omit_defaults=True):
    frame: bytes
    user: str = ""


class Close(msgspec.Struct, tag="close", kw_only=True, omit_defaults=True):
    code: int
    reason: str
    user: str = ""


class Taken(msgspec.Struct, tag="taken", kw_only=True, omit_defaults=True):
    conn: str
    seq: int  # the broker's number for the connection's hello: the higher, the newer


Mail = Send | Close | Taken

_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(Mail)


class MailInvalid(ValueError):
    """Bytes on a tab's channel that are not one of these."""


def encode_mail(mail: Mail) -> bytes:
    return _encoder.encode(mail)


def decode_mail(raw: bytes) -> Mail:
    try:
        mail: Mail = _decoder.decode(raw)
    except msgspec.DecodeError as exc:
        raise MailInvalid(str(exc)) from None
    return mail


def channel_of(site: str, tab: str) -> str:
    """The broker channel of one tab of one site."""
    return f"tab:{site}:{tab}"


def addressed_to(mail: Send | Close, user: str | None) -> bool:
    """Whether a connection whose visitor is ``user`` takes the mail (sent for whoever is there, or
    for that very visitor: a tab id never carries one visitor's message to another)."""
    return not mail.user or mail.user == user


def newer(mail: Taken, conn: str, seq: int) -> bool:
    """Whether the connection that sent ``Taken`` is newer than connection ``conn`` (numbered
    ``seq`` by the broker at its hello): then that one closes. The broker never issues one number
    twice for a tab; should two ever be equal, the connection id decides, one way only."""
    return mail.conn != conn and (mail.seq, mail.conn) > (seq, conn)
