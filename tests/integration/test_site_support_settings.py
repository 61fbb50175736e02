"""The support rules are the site's: site.yaml's frustration, history and effectiveness settings
change the decisions, on both stores."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

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
from tests.integration.live_server import (
    ADMIN_TOKEN,
    LiveServer,
    api,
    content_dir,
    demo_token,
    live_server,
    tab_client,
)

pytestmark = pytest.mark.anyio

STRICTER = """\
frustration:
  threshold: 3.5
  weights: { rage_click: 0 }
history:
  repeated_failures: 1
effectiveness:
  weights: { goal_reached: 0.1 }
  default_threshold: 0.9
"""


@pytest.fixture
async def strict_server(store_url: str, tmp_path: Path) -> AsyncIterator[LiveServer]:
    root = content_dir(tmp_path)
    site = root / "demo" / "site.yaml"
    site.write_text(site.read_text() + STRICTER)
    async with live_server(
        Settings(store_url=store_url, content_dir=root, admin_token=ADMIN_TOKEN)
    ) as live:
        yield live


def now() -> int:
    return int(time.time() * 1000)


async def test_the_sites_thresholds_and_weights_decide(strict_server: LiveServer) -> None:
    site = strict_server.state.sites["demo"].config
    assert (site.frustration.threshold, site.history.repeated_failures) == (3.5, 1)
    async with tab_client(strict_server) as tab:
        token = demo_token("u-ada")
        await tab.send(
            Hello(
                v=1,
                site="demo",
                tab="tab-settings-aaaa",
                identity=TokenIdentity(user="u-ada", token=token),
            )
        )
        await tab.recv_until(Welcome)
        await tab.send(Location(cseq=1, at=now(), url="http://127.0.0.1:8001/settings"))
        await tab.recv_until(Ack)
        start = now()
        # Two dead clicks, seconds apart (no rage): 2 + 1.94 (decayed) passes this site's 3.5.
        for i, offset in enumerate((0, 5000), start=2):
            await tab.send(
                Signal(
                    cseq=i,
                    at=start + offset,
                    signal="click",
                    x=10,
                    y=10,
                    target="button",
                    selector="button",
                )
            )
        offered = await tab.recv_until(HelpAnswer)
        assert offered.offer == "person"
        # That failure at /settings is this site's "repeated failure": the next request gets a person.
        from server.protocol.messages import Help

        await tab.send(Help(req=1, question="where is the export?"))
        answer = await tab.recv_until(HelpAnswer)
    assert answer.offer == "person"
    trail = (await api(strict_server, f"/api/sites/demo/support-sessions/{answer.session}")).json()
    assert trail["reasons"][1]["code"] == "repeated_failure"
    from server.support.effectiveness import Component
    from server.web.scoring import effectiveness_rules

    scoring = effectiveness_rules(strict_server.state.sites["demo"])
    assert (scoring.weights[Component.GOAL_REACHED], scoring.default_threshold) == (0.1, 0.9)
    assert scoring.weights[Component.NO_RETURN] == 0.2  # the others keep their published weight
