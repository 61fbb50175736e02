"""Real server processes ("nodes") on one Redis and one PostgreSQL: any node serves anyone,
and a node that dies takes nothing acknowledged with it.

A visitor's tab is connected to node A, the agent's console to node B. The agent takes the
visitor's support session and co-browses: the mirror reaches the agent on B, chat goes both ways,
the consent questions, a walkthrough pushed and the agent's actions reach the page on A. Then A
is killed (SIGKILL: no goodbye): the page connects again, to a third node, C, with its tab id and
what it still has to send, while the agent stays on B, and the session goes on across nodes
again — the page is asked for a fresh snapshot, the agent sees it and acts on it, the chat
continues — with every message A acknowledged stored.

Each run has a PostgreSQL schema and a Redis key prefix of its own. Under ``CI=true`` an
unreachable PostgreSQL or Redis fails this test instead of skipping it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest
from websockets.asyncio.client import connect
from websockets.typing import Origin

from server.console.passwords import hash_password
from server.protocol.agent import (
    Act,
    ControlRequest,
    Events,
    Join,
    Refused,
    Replay,
    Result,
    Status,
)
from server.protocol.messages import (
    Ack,
    Chat,
    ChatLine,
    Cobrowse,
    Consent,
    Hello,
    Help,
    HelpAnswer,
    Location,
    Mirror,
    Remote,
    RemoteDone,
    RunMessage,
    TokenIdentity,
    Typing,
    Welcome,
)
from server.store import open_store
from server.store.base import AccountRecord
from tests.conftest import REPO, _drop_schema, free_port
from tests.integration.live_server import (
    ADMIN_TOKEN,
    DEMO_KEY,
    DEMO_ORIGIN,
    TabClient,
    demo_token,
)
from tests.integration.test_agent_routing import SKILLS
from tests.integration.test_broker import purge, with_prefix
from tests.integration.test_cobrowse import AgentClient, input_event, page_snapshot
from tests.integration.test_console import PASSWORD, sign_in

pytestmark = pytest.mark.anyio
TANDEM = str(Path(sys.executable).parent / "tandem")
TAB = "tab-cluster-1"
VISITOR = "u-grace"
#: Generous: two servers on a busy two-CPU machine.
WITHIN = 30.0


@dataclass
class Node:
    name: str
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://")


@dataclass(frozen=True)
class Cluster:
    store_url: str
    broker_url: str
    tmp: Path

    def start(self, name: str) -> Node:
        """A ``tandem serve`` process, once it answers (blocking: run it in a thread)."""
        port = free_port()
        log = self.tmp / f"node-{name}.log"
        env = {
            **os.environ,
            "TANDEM_BROKER_URL": self.broker_url,
            "TANDEM_SECRET": "cluster-test-secret",  # the nodes share one (the store is new)
            "TANDEM_DEMO_SIGNING_KEY": DEMO_KEY,
            "TANDEM_ADMIN_TOKEN": ADMIN_TOKEN,
            "TANDEM_LOG_LEVEL": "warning",
        }
        process = subprocess.Popen(
            [TANDEM, "serve", "--port", str(port), "--store", self.store_url],
            cwd=REPO, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise AssertionError(f"node {name} stopped:\n{log.read_text()}")
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=2):
                    return Node(name, url, process, log)
            except OSError:
                time.sleep(0.1)
        process.kill()
        raise AssertionError(f"node {name} did not start:\n{log.read_text()}")


def stop(node: Node) -> None:
    """Stop a node that is still running (blocking)."""
    if node.process.poll() is None:
        node.process.send_signal(signal.SIGTERM)
        try:
            node.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            node.process.kill()
            node.process.wait(timeout=10)


@pytest.fixture
def cluster(postgres_dsn: str, redis_url: str, tmp_path: Path) -> Iterator[Cluster]:
    """PostgreSQL (a schema of its own) and Redis (a key prefix of its own) for the nodes; the
    fixtures fail under CI=true when either is unreachable."""
    schema = f"tandem_cluster_{uuid.uuid4().hex[:12]}"
    prefix = f"test-cluster-{uuid.uuid4().hex}:"
    try:
        yield Cluster(f"{postgres_dsn}?schema={schema}", with_prefix(redis_url, prefix), tmp_path)
    finally:
        _drop_schema(postgres_dsn, schema)
        asyncio.run(purge(redis_url, prefix))


@contextlib.asynccontextmanager
async def running(cluster: Cluster, name: str) -> AsyncIterator[Node]:
    node = await asyncio.to_thread(cluster.start, name)
    try:
        yield node
    finally:
        await asyncio.to_thread(stop, node)


@contextlib.asynccontextmanager
async def visitor_tab(node: Node) -> AsyncIterator[TabClient]:
    async with connect(
        f"{node.ws_url}/ws?site=demo", origin=Origin(DEMO_ORIGIN), max_size=None
    ) as ws:
        yield TabClient(ws)


@contextlib.asynccontextmanager
async def agent_view(
    node: Node, http: httpx2.AsyncClient, session: str
) -> AsyncIterator[AgentClient]:
    cookie = "; ".join(f"{k}={v}" for k, v in http.cookies.items())
    async with connect(
        f"{node.ws_url}/console/demo/sessions/{session}/live",
        origin=Origin(node.url),
        additional_headers={"Cookie": cookie},
        max_size=None,
    ) as ws:
        yield AgentClient(ws)


async def console_csrf(http: httpx2.AsyncClient) -> str:
    import re

    page = await http.get("/console/demo/")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token, page.text
    return token.group(1)


class Page:
    """The visitor's page as tandem.js keeps it: a tab id, numbered messages, an outbox."""

    def __init__(self) -> None:
        self.cseq = 0
        self.outbox: dict[int, Location | Chat] = {}
        self.acked = 0

    def number(self, make: Any) -> Location | Chat:
        self.cseq += 1
        message: Location | Chat = make(self.cseq)
        self.outbox[self.cseq] = message
        return message

    def acknowledged(self, upto: int) -> None:
        self.acked = max(self.acked, upto)
        for cseq in [c for c in self.outbox if c <= upto]:
            del self.outbox[cseq]

    async def say_hello(self, tab: TabClient) -> Welcome:
        await tab.send(
            Hello(
                v=1, site="demo", tab=TAB,
                identity=TokenIdentity(user=VISITOR, token=demo_token(VISITOR)),
            )
        )  # fmt: skip
        welcome: Welcome = await tab.recv_until(Welcome, within=WITHIN)
        self.acknowledged(welcome.ack)
        for cseq in sorted(self.outbox):  # what was not acknowledged is sent again
            await tab.send(self.outbox[cseq])
        return welcome

    async def until(self, tab: TabClient, kind: Any, check: Any = None) -> Any:
        """The next message of ``kind`` (that passes ``check``), keeping track of acks."""
        while True:
            message = await tab.recv(within=WITHIN)
            if isinstance(message, Ack):
                self.acknowledged(message.upto)
            if isinstance(message, kind) and (check is None or check(message)):
                return message

    async def all_acknowledged(self, tab: TabClient) -> None:
        while self.outbox:
            await self.until(tab, Ack)

    async def acks_until_quiet(self, tab: TabClient, quiet: float = 3.0) -> None:
        """Read what the node sends until everything is acknowledged, or nothing more comes for
        ``quiet`` seconds: ``acked`` is then all the node acknowledged that reached the page."""
        with contextlib.suppress(TimeoutError):
            while self.outbox:
                await asyncio.wait_for(self.until(tab, Ack), quiet)


def location(n: int) -> Any:
    return lambda cseq: Location(
        cseq=cseq, at=int(time.time() * 1000), url=f"http://127.0.0.1:8001/team?visit={n}"
    )


async def until_agent(agent: AgentClient, kind: Any, check: Any = None) -> Any:
    while True:
        message = await agent.recv_until(kind, within=WITHIN)
        if check is None or check(message):
            return message


async def test_a_visitor_on_one_node_and_an_agent_on_another_and_the_visitors_node_dies(
    cluster: Cluster,
) -> None:
    page = Page()
    async with (
        running(cluster, "a") as a,
        running(cluster, "b") as b,
        running(cluster, "c") as c,
        httpx2.AsyncClient(base_url=b.url, follow_redirects=False) as http,
    ):
        async with open_store(cluster.store_url) as store:
            await store.add_account(
                AccountRecord(
                    "demo", "ada@acme.test", "Ada", "agent", hash_password(PASSWORD), SKILLS, 2, 1
                )
            )
        await sign_in(http, "demo", "ada@acme.test")
        csrf = await console_csrf(http)
        online = await http.post(
            "/console/demo/presence", data={"csrf": csrf, "presence": "online"}
        )
        assert online.status_code == 303

        on_a = contextlib.AsyncExitStack()  # the tab's socket to node A
        async with contextlib.AsyncExitStack() as on_b, contextlib.AsyncExitStack() as on_c, on_a:
            tab = await on_a.enter_async_context(visitor_tab(a))
            # --- the visitor on A asks for a person; the agent on B takes the session ------------
            await page.say_hello(tab)
            for n in range(5):
                await tab.send(page.number(location(n)))
            await tab.send(Help(req=1, question="a person please", person=True))
            session = (await page.until(tab, HelpAnswer)).session
            accepted = await http.post(
                f"/console/demo/sessions/{session}/accept", data={"csrf": csrf}
            )
            assert accepted.status_code == 303, accepted.text
            told = await page.until(tab, HelpAnswer, lambda m: m.chat)  # from B to A
            assert "Ada" in told.text

            ada = await on_b.enter_async_context(agent_view(b, http, session))
            await ada.send(Join())
            await until_agent(ada, Status)
            # The consent question, asked on B, reaches the page on A.
            asked = await page.until(tab, Cobrowse, lambda m: m.ask == "view")
            assert asked.asker == "Ada"
            await tab.send(Consent(session=session, what="view", granted=True))
            await page.until(tab, Cobrowse, lambda m: m.record)
            await tab.send(Mirror(session=session, page=1, full=True, events=page_snapshot()))
            replay = await until_agent(ada, Replay)  # the mirror, from A to B
            assert "Send invite" in str(replay.events)
            await tab.send(Mirror(session=session, page=1, events=[input_event(10, "x")]))
            assert (await until_agent(ada, Events)).offset == 2

            # Chat both ways.
            await tab.send(page.number(chat(session, "Hello?")))
            await page.all_acknowledged(tab)
            assert await transcript(http, session) == ["Hello?"]
            said = await http.post(
                f"/console/demo/sessions/{session}/chat",
                data={"csrf": csrf, "text": "Hi, I am here"},
            )
            assert said.status_code == 204
            heard = await page.until(tab, ChatLine)
            assert (heard.sender, heard.name, heard.text) == ("agent", "Ada", "Hi, I am here")
            await tab.send(Typing(session=session))  # on A; the agent's console asks B
            assert await visitor_typing(http, session)

            # A walkthrough the agent starts on B plays on A.
            pushed = await http.post(
                f"/console/demo/sessions/{session}/push",
                data={"csrf": csrf, "walkthrough": "invite-teammate"},
            )
            assert pushed.status_code == 303, pushed.text
            run = await page.until(tab, RunMessage)
            assert (run.req, run.walkthrough) == (0, "invite-teammate")

            # Control: asked on B, answered on A; the action is checked on B and done on A.
            await ada.send(ControlRequest(want=True))
            await page.until(tab, Cobrowse, lambda m: m.ask == "control")
            await tab.send(Consent(session=session, what="control", granted=True))
            await page.until(tab, Cobrowse, lambda m: m.control == "Ada")
            await ada.send(Act(id=1, action="click", node=12, epoch=replay.epoch))
            click = await page.until(tab, Remote)
            assert (click.id, click.action, click.node, click.page) == (1, "click", 12, 1)
            await tab.send(RemoteDone(session=session, id=1, ok=True))
            assert (await until_agent(ada, Result)).ok
            # A private field is refused on B, from what the stream says of the page's nodes.
            await ada.send(Act(id=2, action="fill", node=9, epoch=replay.epoch, value="x"))
            assert (await until_agent(ada, Refused)).code == "private"

            # What the page sends just before its node dies: acknowledged (every ack A sends is
            # read, until it is quiet), then more that A had no time to acknowledge.
            await page.all_acknowledged(tab)
            before = page.acked
            for n in range(5, 25):
                await tab.send(page.number(location(n)))
            await page.acks_until_quiet(tab)
            acked_on_a = page.acked
            assert acked_on_a > before, "A acknowledged none of them: the test shows nothing"
            for n in range(25, 30):
                await tab.send(page.number(location(n)))

            # --- node A dies ----------------------------------------------------------------------
            a.process.kill()
            await asyncio.to_thread(a.process.wait, 30)
            with contextlib.suppress(Exception):
                await on_a.aclose()  # the tab's socket to A is gone; the agent's view on B stays

            # The page connects again — to C, not the agent's node — with its tab id and outbox.
            tab = await on_c.enter_async_context(visitor_tab(c))
            welcome = await page.say_hello(tab)
            assert welcome.ack >= acked_on_a, "an acknowledged message was lost"
            # The co-browse goes on: a fresh snapshot, shown to the agent, acted on.
            fresh = await page.until(tab, Cobrowse, lambda m: m.record and m.snapshot)
            assert fresh.agents == ["Ada"] and fresh.control == "Ada"
            await tab.send(Mirror(session=session, page=1, full=True, events=page_snapshot()))
            again = await until_agent(ada, Replay, lambda m: m.epoch > replay.epoch)
            await ada.send(Act(id=3, action="fill", node=10, epoch=again.epoch, value="Hi"))
            fill = await page.until(tab, Remote)
            assert (fill.id, fill.action, fill.value) == (3, "fill", "Hi")
            await tab.send(Mirror(session=session, page=1, events=[input_event(10, "y")]))
            seen = await until_agent(ada, Events, lambda m: m.epoch == again.epoch)

            # The chat goes on.
            await http.post(
                f"/console/demo/sessions/{session}/chat", data={"csrf": csrf, "text": "Still here"}
            )
            assert (await page.until(tab, ChatLine)).text == "Still here"
            await tab.send(page.number(chat(session, "Thanks")))
            await page.all_acknowledged(tab)
            assert await transcript(http, session) == [
                "Hello?",
                "Hi, I am here",
                "Still here",
                "Thanks",
            ]

            # An agent whose socket dropped comes back with its position: only the gap.
            await tab.send(Mirror(session=session, page=1, events=[input_event(10, "z")]))
            async with agent_view(b, http, session) as back:
                await back.send(Join(epoch=seen.epoch, offset=seen.offset))
                gap = await until_agent(back, Events)
                assert (gap.epoch, gap.offset) == (seen.epoch, seen.offset + 1)
                # Its actions are checked against the whole page, though it got only the gap.
                await back.send(Act(id=4, action="highlight", node=12, epoch=seen.epoch))
                assert (await page.until(tab, Remote)).id == 4
                await back.send(Act(id=5, action="click", node=9, epoch=seen.epoch))
                assert (await until_agent(back, Refused)).code == "private"

    # Every message of the tab is stored once: nothing acknowledged was lost, nothing doubled.
    async with open_store(cluster.store_url) as store:
        events = await store.read_events("demo", tab=TAB, limit=1000)
    assert sorted(e.cseq for e in events) == list(range(1, page.cseq + 1))


def chat(session: str, text: str) -> Any:
    return lambda cseq: Chat(cseq=cseq, at=int(time.time() * 1000), session=session, text=text)


async def visitor_typing(http: httpx2.AsyncClient, session: str) -> bool:
    """Whether the agent's console shows the visitor typing, within the deadline."""
    deadline = time.monotonic() + WITHIN
    while time.monotonic() < deadline:
        if (await http.get(f"/console/demo/sessions/{session}/chat.json")).json()["visitor_typing"]:
            return True
        await asyncio.sleep(0.1)
    return False


async def transcript(http: httpx2.AsyncClient, session: str) -> list[str]:
    lines = (await http.get(f"/console/demo/sessions/{session}/chat.json")).json()["lines"]
    return [line["text"] for line in lines]


# --- two nodes in this process: what else crosses from one node to another ------------------------
