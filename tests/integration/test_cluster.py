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
    Launcher,
    Location,
    Mirror,
    Offers,
    Remote,
    RemoteDone,
    RunMessage,
    TokenIdentity,
    Typing,
    Welcome,
)
from server.settings import Settings
from server.store import open_store
from server.store.base import AccountRecord
from server.web.tab_socket import TAB_TAKEN
from tests.conftest import REPO, _drop_schema, free_port
from tests.integration.live_server import (
    ADMIN_TOKEN,
    DEMO_KEY,
    DEMO_ORIGIN,
    LiveServer,
    TabClient,
    content_dir,
    demo_token,
    live_server,
    tab_client,
)
from tests.integration.test_agent_routing import SKILLS
from tests.integration.test_broker import eventually, purge, with_prefix
from tests.integration.test_cobrowse import AgentClient, input_event, page_snapshot
from tests.integration.test_console import PASSWORD, csrf_of, sign_in

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


@contextlib.asynccontextmanager
async def two_nodes(cluster: Cluster) -> AsyncIterator[tuple[LiveServer, LiveServer]]:
    settings = Settings(
        store_url=cluster.store_url, broker_url=cluster.broker_url, secret="cluster-test-secret",
        content_dir=content_dir(cluster.tmp), admin_token=ADMIN_TOKEN,
    )  # fmt: skip
    async with live_server(settings) as a, live_server(settings) as b:
        yield a, b


async def greet(tab: TabClient, user: str, tab_id: str) -> None:
    identity = TokenIdentity(user=user, token=demo_token(user))
    await tab.send(Hello(v=1, site="demo", tab=tab_id, identity=identity))
    await tab.recv_until(Welcome, within=WITHIN)


async def test_the_api_of_one_node_pushes_help_to_a_tab_on_another(cluster: Cluster) -> None:
    async with two_nodes(cluster) as (a, b), tab_client(a) as tab:
        await greet(tab, "u-pushed", "tab-pushed")
        await tab.send(Location(cseq=1, at=1, url=f"{DEMO_ORIGIN}/team"))
        await tab.recv_until(Ack, within=WITHIN)
        async with httpx2.AsyncClient(
            base_url=b.url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
        ) as http:
            answered = await http.post(
                "/api/sites/demo/help", json={"user_id": "u-pushed", "question": "invite"}
            )
        assert answered.status_code == 200
        assert answered.json()["delivered_to"] == "tab-pushed"
        pushed = await tab.recv_until(HelpAnswer, within=WITHIN)
        assert pushed.session == answered.json()["session"]


async def test_erasing_a_visitor_on_one_node_closes_their_tabs_on_another(
    cluster: Cluster,
) -> None:
    async with two_nodes(cluster) as (a, b), tab_client(a) as tab:
        await greet(tab, "u-erased", "tab-erased")
        async with httpx2.AsyncClient(
            base_url=b.url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
        ) as http:
            assert (await http.delete("/api/users/demo/u-erased")).status_code == 200
        code, reason = await tab.closed(within=WITHIN)
        assert (code, reason.split(":")[0]) == (1008, "erased")
        assert await b.state.live.tabs("demo", "u-erased") == []


async def test_a_tab_that_connects_to_another_node_closes_its_older_connection_at_once(
    cluster: Cluster,
) -> None:
    """Told through the tab's channel, not only when the older connection next reports the tab
    (every 15 s): the deadline here is shorter than that."""
    async with two_nodes(cluster) as (a, b), tab_client(a) as older:
        await greet(older, "u-moving", "tab-moving")
        async with tab_client(b) as newer:
            await greet(newer, "u-moving", "tab-moving")
            code, reason = await older.closed(within=10)
            assert (code, reason) == (1008, TAB_TAKEN)
            await newer.send(Location(cseq=1, at=1, url=f"{DEMO_ORIGIN}/team"))
            assert isinstance(await newer.recv_until(Ack, within=WITHIN), Ack)
            # The newer connection holds the tab; the older one's leaving did not remove it.
            live = await a.state.live.tabs("demo", "u-moving")
            assert [(t.tab, t.url) for t in live] == [("tab-moving", f"{DEMO_ORIGIN}/team")]


async def test_what_an_author_publishes_on_one_node_is_offered_on_every_node(
    cluster: Cluster,
) -> None:
    async with two_nodes(cluster) as (a, b):
        await b.state.store.add_account(
            AccountRecord(
                "demo", "ann@acme.test", "Ann", "author", hash_password(PASSWORD), (), 2, 1
            )
        )

        def offered(node: LiveServer) -> bool:
            catalog = node.state.catalogs["demo"]
            return any(p.walkthrough.id == "invite-teammate" for p in catalog.published)

        assert offered(a) and offered(b)
        async with httpx2.AsyncClient(base_url=b.url, follow_redirects=False) as ann:
            await sign_in(ann, "demo", "ann@acme.test")
            csrf = await csrf_of(ann, "/console/demo/walkthroughs")
            unpublished = await ann.post(
                "/console/demo/walkthroughs/invite-teammate/publish",
                data={"version": "none", "csrf": csrf},
            )
            assert unpublished.status_code == 303
        assert not offered(b)

        async def withdrawn_on_a() -> bool:
            return not offered(a)

        await eventually(withdrawn_on_a, within=WITHIN)


async def test_what_an_admin_changes_on_one_node_is_in_use_on_every_node(cluster: Cluster) -> None:
    """The nodes share the content folder: an origin added, a threshold and a persona changed on
    B are what A uses next, without a restart."""
    from websockets.exceptions import InvalidStatus

    async with two_nodes(cluster) as (a, b):
        await b.state.store.add_account(
            AccountRecord("demo", "boss@acme.test", "Boss", "admin", hash_password(PASSWORD), (), 2, 1)
        )  # fmt: skip
        with pytest.raises(InvalidStatus):  # not an allowed origin yet, on either node
            async with tab_client(a, origin="https://app.acme.test"):
                pass
        async with httpx2.AsyncClient(base_url=b.url, follow_redirects=False) as boss:
            await sign_in(boss, "demo", "boss@acme.test")
            csrf = await csrf_of(boss, "/console/demo/admin")
            added = await boss.post(
                "/console/demo/admin/site/origins/add",
                data={"csrf": csrf, "origin": "https://app.acme.test"},
            )
            assert added.status_code == 303, added.text
            weighted = await boss.post(
                "/console/demo/admin/frustration",
                data={"csrf": csrf, "what": "threshold", "value": "7.5"},
            )
            assert weighted.status_code == 303, weighted.text

        async def changed_on_a() -> bool:
            config = a.state.sites["demo"].config
            return (
                "https://app.acme.test" in config.allowed_origins
                and config.frustration.threshold == 7.5
            )

        await eventually(changed_on_a, within=WITHIN)
        async with tab_client(a, origin="https://app.acme.test") as tab:  # A lets it in now
            await tab.send(Hello(v=1, site="demo", tab="tab-new-origin"))
            await tab.recv_until(Welcome, within=WITHIN)


async def test_of_two_connections_of_a_tab_the_newer_wins_whatever_the_nodes_clocks_say(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Node A's clock runs a minute ahead of node B's while the tab's first connection says hello
    on A; the tab then connects again, to B. The broker's numbers decide which is the newer: A's
    connection closes at once, and what A has for the tab reaches the page on B, not the
    half-open socket A still holds."""
    from server.live import serves
    from server.web import delivery, tab_socket

    async with two_nodes(cluster) as (a, b), tab_client(a) as older:
        real_now_ms = tab_socket.now_ms
        monkeypatch.setattr(tab_socket, "now_ms", lambda: real_now_ms() + 60_000)
        await greet(older, "u-skewed", "tab-skewed")
        monkeypatch.setattr(tab_socket, "now_ms", real_now_ms)
        async with tab_client(b) as newer:
            await greet(newer, "u-skewed", "tab-skewed")
            on_b = b.state.tabs[("demo", "tab-skewed")]

            async def held_by_the_newer() -> bool:
                entry = await a.state.live.entry("demo", "u-skewed", "tab-skewed")
                return entry is not None and entry.conn == on_b.conn_id

            await eventually(held_by_the_newer, within=WITHIN)
            on_a = a.state.tabs.get(("demo", "tab-skewed"))
            if on_a is not None:  # still there (not closed yet): it must not serve the tab
                entry = await a.state.live.entry("demo", "u-skewed", "tab-skewed")
                assert not serves(entry, on_a.conn_id, on_a.seq)
            line = ChatLine(session="s-skewed", sender="agent", name="Ada", text="to B", at=1)
            assert await delivery.to_tab(a.state, "demo", "tab-skewed", line, user="u-skewed")
            assert await newer.recv_until(ChatLine, within=WITHIN) == line
            code, reason = await older.closed(within=10)  # not left to its next report (15 s)
            assert (code, reason) == (1008, TAB_TAKEN)


async def test_a_page_saying_hello_just_after_its_visitor_was_erased_is_refused(
    cluster: Cluster,
) -> None:
    """The erasure on B found no tab of the visitor; a page of theirs that says hello on A a
    moment later (it was on its way) is not taken back in: nothing of them is live or stored."""
    async with two_nodes(cluster) as (a, b):
        async with httpx2.AsyncClient(
            base_url=b.url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
        ) as http:
            assert (await http.delete("/api/users/demo/u-late")).status_code == 200
        async with tab_client(a) as tab:
            identity = TokenIdentity(user="u-late", token=demo_token("u-late"))
            await tab.send(Hello(v=1, site="demo", tab="tab-late", identity=identity))
            code, reason = await tab.closed(within=WITHIN)
        assert (code, reason.split(":")[0]) == (1008, "erased")
        assert await a.state.live.tabs("demo", "u-late") == []
        assert await a.state.store.get_profile("demo", "u-late") is None


async def test_a_page_midway_through_its_hello_when_its_visitor_is_erased_closes(
    cluster: Cluster,
) -> None:
    """The page's hello on A has passed the erasure check but is not live yet (held here: its
    profile write waits for a lock this test holds in PostgreSQL) when B erases the visitor, whose
    live tabs are then none. Once let go, the page reports itself live, sees the erasure, removes
    its entry again and closes."""
    import asyncpg

    from server.store.postgres.connection import split_schema
    from server.web import privacy

    dsn, schema = split_schema(cluster.store_url)
    async with two_nodes(cluster) as (a, b):
        db = await asyncpg.connect(dsn)
        try:
            holding = db.transaction()
            await holding.start()
            await db.execute(f'LOCK TABLE "{schema}".profiles IN SHARE MODE')
            async with tab_client(a) as tab:
                identity = TokenIdentity(user="u-midway", token=demo_token("u-midway"))
                await tab.send(Hello(v=1, site="demo", tab="tab-midway", identity=identity))

                async def waiting_for_the_lock() -> bool:
                    waiting = await db.fetchval(
                        "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = $1::regclass",
                        f'"{schema}".profiles',
                    )
                    return bool(waiting)

                await eventually(waiting_for_the_lock, within=WITHIN)
                await privacy.forget_live(b.state, "demo", "u-midway")
                assert await b.state.live.tabs("demo", "u-midway") == []  # it was not live yet
                await holding.rollback()
                code, reason = await tab.closed(within=WITHIN)
            assert (code, reason.split(":")[0]) == (1008, "erased")
            assert await a.state.live.tabs("demo", "u-midway") == []
        finally:
            await db.close()


# --- the Redis pub/sub connection of a node is lost for a moment ------------------------------------


class Outage:
    """A TCP relay between a node and Redis that can fail for a while: its connections are cut,
    and the new ones turned away (accepted and closed at once) until it is over."""

    def __init__(self, redis_url: str) -> None:
        from urllib.parse import urlsplit

        parts = urlsplit(redis_url)
        self.target = (parts.hostname or "127.0.0.1", parts.port or 6379)
        self.redis_url = redis_url
        self.down = False
        self.turned_away = 0
        self.links: set[asyncio.StreamWriter] = set()
        self.tasks: set[asyncio.Task[None]] = set()
        self.server: asyncio.Server | None = None

    def url_for(self, broker_url: str) -> str:
        """``broker_url`` (the same Redis) through this relay."""
        from urllib.parse import urlsplit, urlunsplit

        assert self.server is not None
        port = self.server.sockets[0].getsockname()[1]
        return urlunsplit(urlsplit(broker_url)._replace(netloc=f"127.0.0.1:{port}"))

    async def __aenter__(self) -> Outage:
        self.server = await asyncio.start_server(self._link, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        self._cut()
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    def begin(self) -> None:
        self.down = True
        self._cut()

    def end(self) -> None:
        self.down = False

    def _cut(self) -> None:
        for writer in list(self.links):
            writer.transport.abort()
        self.links.clear()

    async def _link(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.down:
            self.turned_away += 1
            writer.transport.abort()
            return
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self.links.update((writer, up_writer))
        for source, sink in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pump(source, sink))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _pump(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while data := await source.read(65536):
                sink.write(data)
                await sink.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            sink.transport.abort()


@contextlib.asynccontextmanager
async def a_node_behind_an_outage(
    cluster: Cluster, redis_url: str
) -> AsyncIterator[tuple[LiveServer, LiveServer, Outage]]:
    """Node A reaches Redis through an ``Outage``, node B directly."""
    settings = Settings(
        store_url=cluster.store_url, broker_url=cluster.broker_url, secret="cluster-test-secret",
        content_dir=content_dir(cluster.tmp), admin_token=ADMIN_TOKEN,
    )  # fmt: skip
    async with Outage(redis_url) as outage:
        behind = settings.with_(broker_url=outage.url_for(cluster.broker_url))
        async with live_server(behind) as a, live_server(settings) as b:
            yield a, b, outage


async def settled(tab: TabClient) -> None:
    """Its connection is done with what it was sent (its hello included) and waits for more: it
    answers one more request, after the rest (a connection handles its messages in order)."""
    await tab.send(Launcher(req=99))
    await tab.recv_until(Offers, within=WITHIN)


async def tried_again(outage: Outage, times: int) -> None:
    async def turned_away() -> bool:
        return outage.turned_away >= times

    await eventually(turned_away, within=WITHIN)


async def test_a_tab_whose_node_loses_redis_for_a_moment_listens_again_and_stays_open(
    cluster: Cluster, redis_url: str
) -> None:
    """The node's pub/sub connection is cut and it cannot connect again for a while: its tabs keep
    trying (with jittered backoff) instead of closing at the first failure, and once Redis is
    back, what another node sends the page reaches it."""
    from server.web import delivery

    async with a_node_behind_an_outage(cluster, redis_url) as (a, b, outage), tab_client(a) as tab:
        await greet(tab, "u-cut", "tab-cut-off")
        await settled(tab)
        outage.begin()
        await tried_again(outage, 4)  # the first attempts to listen again failed
        outage.end()
        line = ChatLine(session="s-cut", sender="agent", name="Ada", text="back", at=1)

        async def delivered() -> bool:
            return await delivery.to_tab(b.state, "demo", "tab-cut-off", line, user="u-cut")

        await eventually(delivered, within=WITHIN)
        assert await tab.recv_until(ChatLine, within=WITHIN) == line


async def test_a_tab_taken_elsewhere_while_its_node_had_lost_redis_closes_once_it_is_back(
    cluster: Cluster, redis_url: str
) -> None:
    """While node A could not hear its tab's channel, the tab connected again to B (whose word
    to A was lost). Listening again, A's connection reports the tab live, finds it taken, and
    closes as ``tab_taken`` — without waiting for its next report (made rare here)."""
    async with a_node_behind_an_outage(cluster, redis_url) as (a, b, outage):
        a.state.live.ttl_ms = 600_000  # its heartbeat would come in 200 s
        async with tab_client(a) as older:
            await greet(older, "u-moved", "tab-moved")
            await settled(older)
            outage.begin()
            await tried_again(outage, 4)
            async with tab_client(b) as newer:
                await greet(newer, "u-moved", "tab-moved")
                outage.end()
                code, reason = await older.closed(within=WITHIN)
                assert (code, reason) == (1008, TAB_TAKEN)
                await newer.send(Location(cseq=1, at=1, url=f"{DEMO_ORIGIN}/team"))
                assert isinstance(await newer.recv_until(Ack, within=WITHIN), Ack)
