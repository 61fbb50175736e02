"""``/metrics`` reflects a known sequence of messages: what came in by kind, what went out,
what was refused, the open connections and the store's write latency."""

from __future__ import annotations

import asyncio
import re

import httpx2
import pytest

from server.protocol.messages import Ack, Error, Location
from tests.integration.live_server import LiveServer, tab_client
from tests.integration.test_agent_sessions import greet

pytestmark = pytest.mark.anyio


def value(text: str, name: str, **labels: str) -> float:
    """A sample's value in Prometheus text (0 when the series is absent)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = rf"^{re.escape(name)}{re.escape('{' + wanted + '}') if wanted else ''} (\S+)$"
    found = re.search(pattern, text, re.M)
    return float(found.group(1)) if found else 0.0


async def scrape(server: LiveServer) -> str:
    async with httpx2.AsyncClient(base_url=server.url) as http:
        response = await http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


async def test_metrics_reflect_a_known_sequence_of_messages(server: LiveServer) -> None:
    before = await scrape(server)
    async with tab_client(server) as tab:
        await greet(tab, "u-ada", "tab-metrics-1")
        for cseq in (1, 2, 3):
            await tab.send(Location(cseq=cseq, at=cseq, url=f"http://127.0.0.1:8001/team?{cseq}"))
        acked = await tab.recv_until(Ack)
        while acked.upto < 3:
            acked = await tab.recv_until(Ack)
        await tab.send(b"\xc1 not msgpack")
        await tab.recv_until(Error)
        during = await scrape(server)
    assert (
        value(during, "tandem_messages_in_total", kind="location")
        - value(before, "tandem_messages_in_total", kind="location")
        == 3
    )
    assert value(during, "tandem_messages_in_total", kind="hello") >= 1
    assert (
        value(during, "tandem_errors_total", code="malformed")
        - value(before, "tandem_errors_total", code="malformed")
        == 1
    )
    assert value(during, "tandem_messages_out_total", kind="welcome") >= 1
    assert value(during, "tandem_messages_out_total", kind="ack") >= 1
    assert value(during, "tandem_messages_out_total", kind="error") >= 1
    assert value(during, "tandem_connections", kind="tab") == 1
    assert value(during, "tandem_store_write_seconds_count") >= 1
    assert value(during, "tandem_broker_seconds_count", op="presence") >= 1
    deadline = asyncio.get_running_loop().time() + 10
    while value(await scrape(server), "tandem_connections", kind="tab") != 0:  # closed
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.05)
