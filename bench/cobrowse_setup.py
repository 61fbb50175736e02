"""Setting co-browse sessions up for the benchmarks: on a real ``tandem serve`` (the console's
accounts, signed-in consoles, a visitor referred to an agent who accepts, both agents joining
and the visitor sharing a snapshot) and on a bare relay (``bench.bare``); the frames a visitor
sends (a full snapshot, numbered mirror batches)."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import yaml
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Origin

from bench.servers import DEMO_ORIGIN, REPO, SIGNING_KEY, Served, store_url
from server.protocol import decode_server, encode
from server.protocol.agent import Join
from server.protocol.messages import (
    Cobrowse,
    Consent,
    Hello,
    Help,
    HelpAnswer,
    Mirror,
    MirrorEvent,
    TokenIdentity,
    Welcome,
)

AGENTS = 2
PASSWORD = "bench password, not for production"
TEXT_NODE = 6  # the snapshot's text node whose text each batch changes


@dataclass
class Session:
    """One co-browse session as the load generator plays it."""

    visitor: ClientConnection
    agents: list[ClientConnection]
    session: str


def seqs(frame: bytes | str) -> list[int]:
    """The batch numbers of the events in a frame (``mirror``, ``events`` or ``replay``)."""
    body = msgspec.msgpack.decode(frame) if isinstance(frame, bytes) else None
    found = []
    for event in body.get("events", ()) if isinstance(body, dict) else ():
        for text in (event.get("data") or {}).get("texts", ()):
            value = text.get("value", "") if isinstance(text, dict) else ""
            if value.startswith("#"):
                found.append(int(value[1:]))
    return found


def batch(session: str, seq: int) -> bytes:
    """A visitor's mirror batch: one text change (numbered) on the page of ``snapshot()``."""
    data = {"source": 0, "texts": [{"id": TEXT_NODE, "value": f"#{seq}"}], "attributes": [],
            "removes": [], "adds": []}  # fmt: skip
    event = MirrorEvent(type=3, data=data, timestamp=time.time() * 1000)
    return encode(Mirror(session=session, page=1, events=[event]))


def snapshot() -> list[MirrorEvent]:
    """rrweb's Meta + FullSnapshot of a small page (an invoice heading, a paragraph, a button)."""

    def el(id_: int, tag: str, *children: dict[str, Any]) -> dict[str, Any]:
        return {"type": 2, "id": id_, "tagName": tag, "attributes": {}, "childNodes": list(children)}  # fmt: skip

    def text(id_: int, value: str) -> dict[str, Any]:
        return {"type": 3, "id": id_, "textContent": value}

    body = el(4, "body", el(5, "h1", text(TEXT_NODE, "Invoice")), el(7, "p", text(8, "Due soon")),
              el(9, "button", text(10, "Pay")))  # fmt: skip
    document = {"type": 0, "id": 1, "childNodes": [el(2, "html", el(3, "head"), body)]}
    now = time.time() * 1000
    return [
        msgspec.convert({"type": 4, "data": {"href": "https://app.acme.test/invoices/7", "width": 1280, "height": 800}, "timestamp": now}, MirrorEvent),
        msgspec.convert({"type": 2, "data": {"node": document, "initialOffset": {"left": 0, "top": 0}}, "timestamp": now}, MirrorEvent),
    ]  # fmt: skip


async def bare_sessions(server: Served, count: int) -> list[Session]:
    """Sessions on a bare relay: two agents registered (told ``ready``), then the visitor."""

    async def one(i: int) -> Session:
        agents = []
        for _ in range(AGENTS):
            ws = await connect(f"{server.ws_url}/relay/s{i}/agent", compression=None, max_size=None)
            await asyncio.wait_for(ws.recv(), 10)  # ready
            agents.append(ws)
        visitor = await connect(
            f"{server.ws_url}/relay/s{i}/visitor", compression=None, max_size=None
        )
        return Session(visitor, agents, f"sess-bench-{i:06d}")

    return await _gather_limited([functools.partial(one, i) for i in range(count)], 20)


def _skills() -> tuple[str, ...]:
    """Every skill and persona role of the demo site: the agent can take any session."""
    demo = REPO / "walkthroughs" / "demo"
    skills = yaml.safe_load((demo / "skills.yaml").read_text()).get("skills", [])
    personae = yaml.safe_load((demo / "personae.yaml").read_text()).get("personae", [])
    return tuple(sorted({s["id"] for s in skills} | {p["role"] for p in personae if "role" in p}))


async def add_accounts(folder: Path, sessions: int) -> None:
    """The agent who takes every session (capacity for all of them) and an admin who watches."""
    await add_accounts_to(store_url(folder), sessions)


async def add_accounts_to(url: str, sessions: int) -> None:
    """``add_accounts`` in the store at ``url``."""
    from server.console.passwords import hash_password
    from server.store import open_store
    from server.store.base import AccountRecord

    hashed = hash_password(PASSWORD)
    now = int(time.time() * 1000)
    async with open_store(url) as store:
        await store.add_account(AccountRecord(
            "demo", "ada@bench.test", "Ada", "agent", hashed, _skills(), sessions + 10, now,
        ))  # fmt: skip
        await store.add_account(AccountRecord("demo", "bob@bench.test", "Bob", "admin", hashed, (), 1, now))  # fmt: skip


class Console:
    """One signed-in console account (cookies and the form token)."""

    def __init__(self, server: Served) -> None:
        import httpx2

        self.server = server
        self.http = httpx2.AsyncClient(base_url=server.url, follow_redirects=False, timeout=30)
        self.csrf = ""

    async def sign_in(self, email: str) -> None:
        """Sign in to the console with the benchmark's password."""
        page = await self.http.get("/console/login")
        token = _csrf(page.text)
        answer = await self.http.post(
            "/console/login",
            data={"csrf": token, "site": "demo", "email": email, "password": PASSWORD},
        )
        if answer.status_code != 303:
            raise RuntimeError(f"{email} could not sign in: {answer.status_code}")
        self.csrf = _csrf((await self.http.get("/console/demo/")).text)

    async def go_online(self) -> None:
        """Say the agent is online (so referrals are offered to them)."""
        answer = await self.http.post(
            "/console/demo/presence", data={"csrf": self.csrf, "presence": "online"}
        )
        if answer.status_code != 303:
            raise RuntimeError(f"could not go online: {answer.status_code}")

    async def accept(self, session: str) -> None:
        """Accept the session offered to this agent."""
        answer = await self.http.post(
            f"/console/demo/sessions/{session}/accept", data={"csrf": self.csrf}
        )
        if answer.status_code != 303:
            raise RuntimeError(f"could not accept {session}: {answer.status_code}")

    async def live(self, session: str) -> ClientConnection:
        """Open the console's live socket of ``session`` (the console's own origin, its cookies)."""
        cookie = "; ".join(f"{k}={v}" for k, v in self.http.cookies.items())
        return await connect(
            f"{self.server.ws_url}/console/demo/sessions/{session}/live",
            origin=Origin(self.server.url),
            additional_headers={"Cookie": cookie}, compression=None, max_size=None,
            open_timeout=60,
        )  # fmt: skip

    async def close(self) -> None:
        await self.http.aclose()


def _csrf(html: str) -> str:
    import re

    found = re.search(r'name="csrf" value="([^"]+)"', html)
    if not found:
        raise RuntimeError("no form token on the console's page")
    return found.group(1)


async def until(ws: ClientConnection, wanted: Callable[[Any], bool], within: float = 30) -> Any:
    """The next server message on a visitor's socket for which ``wanted`` holds."""
    deadline = time.monotonic() + within
    while True:
        frame = await asyncio.wait_for(ws.recv(), max(0.1, deadline - time.monotonic()))
        if isinstance(frame, bytes):
            message = decode_server(frame)
            if wanted(message):
                return message


async def _agent_until(ws: ClientConnection, kind: str, within: float = 30) -> dict[str, Any]:
    """The next message of ``kind`` on an agent's live socket."""
    deadline = time.monotonic() + within
    while True:
        frame = await asyncio.wait_for(ws.recv(), max(0.1, deadline - time.monotonic()))
        body = msgspec.msgpack.decode(frame) if isinstance(frame, bytes) else {}
        if isinstance(body, dict) and body.get("kind") == kind:
            return body


async def referred(server: Served, ada: Console, i: int) -> tuple[ClientConnection, str]:
    """A visitor's tab asks for a person and the agent accepts: (the tab's socket, the session)."""
    from server.identity.tokens import sign_visitor_token

    user = f"u-bench-{i:06d}"
    token = sign_visitor_token(user, site="demo", kid="demo-1", secret=SIGNING_KEY,
                               now=int(time.time()))  # fmt: skip
    visitor = await connect(
        f"{server.ws_url}/ws?site=demo", origin=Origin(DEMO_ORIGIN), compression=None, max_size=None
    )
    await visitor.send(encode(Hello(v=1, site="demo", tab=f"bench-tab-{i:06d}",
                                    identity=TokenIdentity(user=user, token=token))))  # fmt: skip
    await until(visitor, lambda m: isinstance(m, Welcome))
    await visitor.send(encode(Help(req=1, question="a person please", person=True)))
    answer: HelpAnswer = await until(visitor, lambda m: isinstance(m, HelpAnswer))
    if answer.offer != "person" or answer.channel != "live_agent":
        raise RuntimeError(
            f"session {i}: no agent was offered it ({answer.offer}, {answer.channel})"
        )
    await ada.accept(answer.session)
    return visitor, answer.session


async def shared(visitor: ClientConnection, session: str, ada: Console, bob: Console) -> Session:
    """Both agents join the session's live view, the visitor agrees and sends the snapshot; once
    both agents were shown it."""
    agents = [await ada.live(session), await bob.live(session)]
    for ws in agents:
        await ws.send(msgspec.msgpack.encode(Join()))
    await until(visitor, lambda m: isinstance(m, Cobrowse) and m.ask == "view")
    await visitor.send(encode(Consent(session=session, what="view", granted=True)))
    await until(visitor, lambda m: isinstance(m, Cobrowse) and m.record)
    await visitor.send(encode(Mirror(session=session, page=1, full=True, events=snapshot())))
    for ws in agents:
        await _agent_until(ws, "replay")
    return Session(visitor, agents, session)


async def tandem_sessions(server: Served, count: int) -> tuple[list[Session], list[Console]]:
    """``count`` co-browse sessions: referred one by one (as visitors come), then shared."""
    ada, bob = Console(server), Console(server)
    await ada.sign_in("ada@bench.test")
    await bob.sign_in("bob@bench.test")
    await ada.go_online()

    async def keep_online() -> None:  # an agent whose console is quiet for 90 s is offline
        while True:
            await asyncio.sleep(30)
            await ada.go_online()

    online = asyncio.create_task(keep_online())
    try:
        taken = [await referred(server, ada, i) for i in range(count)]
    finally:
        online.cancel()
    made = await _gather_limited(
        [functools.partial(shared, visitor, session, ada, bob) for visitor, session in taken], 20
    )
    return made, [ada, bob]


async def _gather_limited(
    makers: list[Callable[[], Awaitable[Session]]], at_once: int
) -> list[Session]:
    """Run the makers, at most ``at_once`` at a time; their sessions in order."""
    gate = asyncio.Semaphore(at_once)

    async def one(make: Callable[[], Awaitable[Session]]) -> Session:
        async with gate:
            return await make()

    return list(await asyncio.gather(*(one(m) for m in makers)))


async def close(sessions: list[Session], consoles: list[Console]) -> None:
    """Close every socket and console client of the sessions."""
    sockets = [ws for s in sessions for ws in (s.visitor, *s.agents)]
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    for console in consoles:
        await console.close()
