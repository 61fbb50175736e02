"""Support analytics from a period's support data items: per process and per persona."""

from __future__ import annotations

from typing import Any

from server.support.analytics import report
from server.support.profile import SupportItem

_ids = iter(range(1, 10_000))


def item(kind: str, **payload: Any) -> tuple[str, SupportItem]:
    return ("u-x", SupportItem(next(_ids), kind, 1, payload, False, None))


def opened(session: str, process: str, persona: str) -> tuple[str, SupportItem]:
    return item("support_session", session=session, offer="walkthrough", persona=persona,
                place={"process": process})  # fmt: skip


def scored(session: str, score: float, reason: str | None = None) -> tuple[str, SupportItem]:
    return item("support_session", session=session, effectiveness={
        "score": score, "below_threshold": reason is not None, "reason": reason})  # fmt: skip


ITEMS = [
    opened("s1", "invite-teammate", "guide"), scored("s1", 0.9),
    opened("s2", "invite-teammate", "coach"), scored("s2", 0.5), scored("s2", 0.1, "abandoned"),
    item("support_session", session="s2", referral={"triggers": ["below_threshold"]}),
    item("support_session", session="s2", agent_accepted={"agent": "ada", "waited_ms": 30_000}),
    item("support_session", session="s2", csat={"score": 4}),
    opened("s3", "find-invoice", "guide"),
    item("support_session", session="nobody-opened-it", csat={"score": 1}),
    item("frustration", signals=[{"kind": "rage_click"}, {"kind": "dead_click"}]),
    item("frustration", signals=[{"kind": "rage_click"}]),
    item("walkthrough_run", run="r1"),
]  # fmt: skip


def test_per_process() -> None:
    result = report(ITEMS, by="process")
    figures = {g.key: g.row() for g in result.groups}
    invite = figures["invite-teammate"]
    assert (invite["sessions"], invite["scored"], invite["mean_score"]) == (2, 2, 0.5)
    # The last score of each session counts: 0.9 and 0.1.
    assert [invite[f"score_{i}_{i + 2}"] for i in (0, 2, 4, 6, 8)] == [1, 0, 0, 0, 1]
    assert invite["failures"] == "abandoned 1"
    assert (invite["referral_rate"], invite["median_wait_ms"]) == (0.5, 30_000)
    assert (invite["csat_mean"], invite["csat_count"]) == (4.0, 1)
    assert figures["find-invoice"]["scored"] == 0 and figures["find-invoice"]["mean_score"] is None
    assert result.total.sessions == 3
    assert result.signals == [("rage_click", 2), ("dead_click", 1)]


def test_per_persona_and_nothing_at_all() -> None:
    by_persona = {g.key: g for g in report(ITEMS, by="persona").groups}
    assert (by_persona["guide"].sessions, by_persona["coach"].sessions) == (2, 1)
    empty = report([])
    assert empty.groups == [] and empty.total.sessions == 0 and empty.total.referral_rate is None


def test_per_day() -> None:
    day = 86_400_000
    items = [
        ("u", SupportItem(1, "support_session", 3 * day + 5, {"session": "a", "offer": "faq"}, False, None)),
        ("u", SupportItem(2, "support_session", 3 * day + 9, {"session": "a", "effectiveness": {"score": 0.4}}, False, None)),
        ("u", SupportItem(3, "support_session", 3 * day + 7, {"session": "b", "offer": "faq"}, False, None)),
        ("u", SupportItem(4, "support_session", 5 * day, {"session": "c", "offer": "faq"}, False, None)),
        ("u", SupportItem(5, "support_session", 5 * day, {"session": "c", "referral": {}}, False, None)),
    ]  # fmt: skip
    assert report(items).days == [(3 * 86_400, 2, 0.4, 0), (5 * 86_400, 1, None, 1)]


def test_frustration_signals_count_for_the_process_and_persona_of_the_session_they_opened() -> None:
    items = [
        item("support_session", session="f1", offer="person", persona="coach", place={"process": "invite-teammate"},
             frustration={"signals": [{"kind": "rage_click"}, {"kind": "dead_click"}, {"kind": "rage_click"}]}),
        item("support_session", session="f2", offer="person", persona="coach", place={"process": "find-invoice"},
             frustration={"signals": [{"kind": "error_click"}]}),
    ]  # fmt: skip
    by_process = {g.key: g for g in report(items).groups}
    assert by_process["invite-teammate"].signals == [("rage_click", 2), ("dead_click", 1)]
    assert by_process["find-invoice"].row()["frustration_signals"] == "error_click 1"
    assert {g.key: g.signals for g in report(items, by="persona").groups}["coach"][0] == (
        "rage_click",
        2,
    )
