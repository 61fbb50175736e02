"""The step funnel API counts one version of a walkthrough, on both stores."""

from __future__ import annotations

import pytest

from server.store.base import EventRecord, WalkthroughVersion
from tests.integration.live_server import LiveServer, api

pytestmark = [pytest.mark.anyio, pytest.mark.store]

FUNNEL = "/api/sites/demo/walkthroughs/invite-teammate/funnel"


def step_event(cseq: int, version: int, step: str, event: str, run: str) -> EventRecord:
    payload = {
        "walkthrough": "invite-teammate", "version": version, "run": run, "step": step,
        "event": event, "reason": "", "strategy": "", "similarity": None, "goto": None,
        "applied": "yes",
    }  # fmt: skip
    return EventRecord("demo", "u-ada", "tab-funnel-aaaa", cseq, "step", cseq, cseq, payload)


async def test_the_funnel_counts_one_version_and_says_which(server: LiveServer) -> None:
    store = server.state.store
    published = (await api(server, FUNNEL)).json()
    assert (published["version"], published["published_version"]) == (1, 1)
    # A run still on version 1 and one on version 2, whose steps differ.
    await store.publish_walkthrough(
        WalkthroughVersion(
            "demo", "invite-teammate", 2, "invite-teammate", "digest-v2",
            {"id": "invite-teammate", "version": 2, "steps": [{"id": "open-form"}, {"id": "email"}]},
            1,
        )
    )  # fmt: skip
    await store.write_events(
        [
            step_event(1, 1, "open-form", "shown", "run-v1"),
            step_event(2, 1, "open-form", "completed", "run-v1"),
            step_event(3, 2, "open-form", "shown", "run-v2"),
            step_event(4, 2, "email", "shown", "run-v2"),
            step_event(5, 2, "email", "skipped", "run-v2"),
        ]
    )

    v1 = (await api(server, FUNNEL)).json()  # the published version, as the server serves it
    assert (v1["version"], v1["published_version"]) == (1, 1)
    rows = {r["step"]: r for r in v1["steps"]}
    assert (rows["open-form"]["shown"], rows["open-form"]["completed"]) == (1, 1)
    assert (rows["email"]["shown"], rows["email"]["skipped"]) == (0, 0)  # version 2's run

    v2 = (await api(server, f"{FUNNEL}?version=2")).json()
    assert (v2["version"], v2["published_version"]) == (2, 1)
    assert [
        (r["step"], r["shown"], r["completed"], r["skipped"], r["drop_off"]) for r in v2["steps"]
    ] == [("open-form", 1, 0, 0, 1), ("email", 1, 0, 1, 0)]

    assert (await api(server, f"{FUNNEL}?version=1")).json() == v1
    assert (await api(server, f"{FUNNEL}?version=3")).status_code == 404
    assert (await api(server, f"{FUNNEL}?version=0")).status_code == 404
    assert (await api(server, f"{FUNNEL}?version=two")).status_code == 400
