"""Frustration read live from a tab's signals: crossing the threshold stores the indicator with
its evidence, refers the visitor without being asked (a person is offered in their tab), and
hands off to the site's signed webhook — on both stores."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import jsonschema
import pytest

from server.channels.webhook import DELIVERY_HEADER, SIGNATURE_HEADER, verify
from server.protocol.messages import (
    Ack,
    Hello,
    HelpAnswer,
    Location,
    Signal,
    TokenIdentity,
    Welcome,
)
from server.settings import Settings
from tests.conftest import REPO
from tests.integration.live_server import (
    ADMIN_TOKEN,
    LiveServer,
    api,
    content_dir,
    demo_token,
    live_server,
    tab_client,
)
from tests.webhook_receiver import Receiver, webhook_receiver

pytestmark = pytest.mark.anyio

SECRET = "webhook-secret-for-tests"
TAB = "tab-frustrated-aaaa"
PAGE = "http://127.0.0.1:8001/settings"
HANDOFF_SCHEMA = json.loads((REPO / "docs" / "schemas" / "handoff.json").read_text())


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with webhook_receiver() as running:
        yield running


@pytest.fixture
async def hooked(
    store_url: str, tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[LiveServer]:
    """A server whose demo site sends referrals to ``receiver``."""
    root = content_dir(tmp_path)
    site = root / "demo" / "site.yaml"
    site.write_text(
        site.read_text()
        + f"channels:\n  webhook:\n    url: {receiver.url}\n    secret_env: TANDEM_TEST_WEBHOOK_SECRET\n"
    )
    monkeypatch.setenv("TANDEM_TEST_WEBHOOK_SECRET", SECRET)
    settings = Settings(store_url=store_url, content_dir=root, admin_token=ADMIN_TOKEN)
    async with live_server(settings) as live:
        yield live


def now() -> int:
    return int(time.time() * 1000)


async def test_rage_clicks_on_a_dead_button_refer_the_visitor_with_the_clicks_as_evidence(
    hooked: LiveServer, receiver: Receiver
) -> None:
    receiver.statuses = [503]  # the first delivery fails: the retry brings it
    async with tab_client(hooked) as tab:
        token = demo_token("u-ada", traits={"first_name": "Ada"})
        await tab.send(
            Hello(v=1, site="demo", tab=TAB, identity=TokenIdentity(user="u-ada", token=token))
        )
        await tab.recv_until(Welcome)
        await tab.send(Location(cseq=1, at=now(), url=PAGE, title="Settings"))
        await tab.recv_until(Ack)
        start = now()
        dead = {
            "signal": "click",
            "x": 140,
            "y": 310,
            "target": "button",
            "selector": 'button[data-testid="dead-button"]',
        }
        # Two clicks: under the threshold (2 dead clicks weigh 4 of 8). Nothing happens.
        for i, offset in enumerate((0, 250), start=2):
            await tab.send(Signal(cseq=i, at=start + offset, **dead))  # type: ignore[arg-type]
            await tab.recv_until(Ack)
        # The third within a second and 30 px: a rage click, and a third dead click (4 + 3 * 2 = 10).
        await tab.send(Signal(cseq=4, at=start + 500, **dead))  # type: ignore[arg-type]
        offered = await tab.recv_until(HelpAnswer)
    assert (offered.offer, offered.req) == ("person", 0)
    assert offered.persona["id"] == "coach"  # the persona for visitors automation has failed
    assert offered.text == "I'll bring in a colleague who can look at your screen with you."

    profile = (await api(hooked, "/api/users/demo/u-ada/profile")).json()
    [stored] = [i for i in profile["support_items"] if i["kind"] == "frustration"]
    assert stored["failure_reason"] == "frustration_threshold"
    assert stored["payload"]["level"] >= stored["payload"]["threshold"] == 8.0
    kinds = [s["kind"] for s in stored["payload"]["signals"]]
    assert kinds.count("rage_click") == 1 and kinds.count("dead_click") == 3

    trail = (await api(hooked, f"/api/sites/demo/support-sessions/{offered.session}")).json()
    assert trail["offer"]["kind"] == "person"
    # No agent online and no email channel here: the referral waits for the next agent online.
    assert trail["referral"] == {"triggers": ["frustration"], "channel": "queue"}
    [why] = [r for r in trail["reasons"] if r["code"] == "frustration"]
    rage = next(s for s in why["detail"]["signals"] if s["kind"] == "rage_click")
    assert (rage["clicks"], rage["target"]) == (3, 'button[data-testid="dead-button"]')

    first, second = await receiver.wait_for(2)
    assert first.headers[DELIVERY_HEADER] == second.headers[DELIVERY_HEADER] == offered.session
    assert verify(
        SECRET.encode(), second.headers[SIGNATURE_HEADER], second.body, now_s=int(time.time())
    )
    tampered = second.body.replace(b'"u-ada"', b'"u-eve"')
    assert not verify(
        SECRET.encode(), second.headers[SIGNATURE_HEADER], tampered, now_s=int(time.time())
    )
    packet = json.loads(second.body)
    jsonschema.Draft202012Validator(HANDOFF_SCHEMA).validate(packet)
    assert (packet["session"], packet["visitor"]["user"], packet["triggers"]) == (
        offered.session,
        "u-ada",
        ["frustration"],
    )
    assert packet["location"]["url"] == PAGE and packet["persona"]["id"] == "coach"
    assert {s["kind"] for s in packet["frustration"]["signals"]} == {"rage_click", "dead_click"}


async def test_clicks_that_do_something_and_errors_alone_refer_no_one(
    hooked: LiveServer, receiver: Receiver
) -> None:
    async with tab_client(hooked) as tab:
        token = demo_token("u-grace")
        await tab.send(
            Hello(
                v=1, site="demo", tab=TAB + "g", identity=TokenIdentity(user="u-grace", token=token)
            )
        )
        await tab.recv_until(Welcome)
        start = now()
        working = {
            "signal": "click",
            "x": 10,
            "y": 10,
            "target": "link",
            "selector": "a",
            "effect_ms": 40,
        }
        for i in range(1, 6):  # busy but fine: far apart, each one did something
            await tab.send(Signal(cseq=i, at=start + i * 2000, **working))  # type: ignore[arg-type]
            await tab.recv_until(Ack)
        await tab.send(Signal(cseq=6, at=start + 20_000, signal="error", message="TypeError: boom"))
        await tab.recv_until(Ack)
        with pytest.raises(TimeoutError):
            await tab.recv_until(HelpAnswer, within=1.5)
    profile = (await api(hooked, "/api/users/demo/u-grace/profile")).json()
    assert [i for i in profile["support_items"] if i["kind"] == "frustration"] == []
    events = (await api(hooked, "/api/users/demo/u-grace/events?kind=signal")).json()["events"]
    assert [e["payload"].get("effect_ms") for e in events] == [40, 40, 40, 40, 40, None]
    assert receiver.requests == []


async def test_asking_for_a_person_refers_at_once_and_asking_again_soon_is_a_signal(
    hooked: LiveServer, receiver: Receiver
) -> None:
    from server.protocol.messages import Help

    async with tab_client(hooked) as tab:
        token = demo_token("u-alan")
        await tab.send(
            Hello(
                v=1, site="demo", tab=TAB + "p", identity=TokenIdentity(user="u-alan", token=token)
            )
        )
        await tab.recv_until(Welcome)
        await tab.send(Location(cseq=1, at=now(), url="http://127.0.0.1:8001/team/invite"))
        await tab.recv_until(Ack)
        await tab.send(Help(req=1, question="how do I add a colleague?"))
        first = await tab.recv_until(HelpAnswer)
        assert first.offer == "walkthrough"
        await tab.send(Help(req=2, question="I still can't", person=True))
        second = await tab.recv_until(HelpAnswer)
    assert (second.req, second.offer) == (2, "person")
    trail = (await api(hooked, f"/api/sites/demo/support-sessions/{second.session}")).json()
    assert trail["referral"] == {"triggers": ["asked_for_human"], "channel": "queue"}
    assert [r["code"] for r in trail["reasons"]][-2:] == ["asked_for_human", "asked_for_human"]
    [hook] = await receiver.wait_for(1)
    packet = json.loads(hook.body)
    assert (packet["session"], packet["triggers"]) == (second.session, ["asked_for_human"])
    assert [t["question"] for t in packet["transcript"]] == [
        "how do I add a colleague?",
        "I still can't",
    ]
    assert verify(
        SECRET.encode(), hook.headers[SIGNATURE_HEADER], hook.body, now_s=int(time.time())
    )
    watch = hooked.state.frustration.of("demo", "u-alan")
    assert [o.kind.value for o in watch.observations if hasattr(o, "kind")] == ["repeated_help"]
