"""Support analytics (pure): how automated support did, per process or per persona, from the
support data items of a period — sessions, their effectiveness (its distribution and mean),
failure reasons, how many were referred to a person, how long visitors waited for one, how
they rated the help, and the frustration signals seen.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from server.support.profile import SupportItem

SUPPORT_SESSION = "support_session"
FRUSTRATION = "frustration"
#: Effectiveness buckets: [0, 0.2), [0.2, 0.4), … [0.8, 1].
BUCKETS = 5


@dataclass
class Session:
    id: str
    process: str
    persona: str
    score: float | None = None
    failed: str | None = None  # the failure reason of its last score below the threshold
    referred: bool = False
    waited_ms: int | None = None
    csat: int | None = None
    signals: list[str] = field(default_factory=list)  # the frustration signals that opened it


@dataclass
class Group:
    """One process's (or persona's) figures."""

    key: str
    sessions: int = 0
    scored: int = 0
    mean_score: float | None = None
    distribution: list[int] = field(default_factory=lambda: [0] * BUCKETS)
    failures: dict[str, int] = field(default_factory=dict)
    referral_rate: float | None = None
    median_wait_ms: int | None = None
    csat_mean: float | None = None
    csat_count: int = 0
    signals: list[tuple[str, int]] = field(default_factory=list)  # most frequent first

    def row(self) -> dict[str, Any]:
        """A flat row (the CSV's)."""
        return {
            "key": self.key, "sessions": self.sessions, "scored": self.scored,
            "mean_score": _round(self.mean_score), "referral_rate": _round(self.referral_rate),
            "median_wait_ms": self.median_wait_ms, "csat_mean": _round(self.csat_mean),
            "csat_count": self.csat_count,
            **{f"score_{i * 2}_{i * 2 + 2}": n for i, n in enumerate(self.distribution)},
            "failures": "; ".join(f"{k} {v}" for k, v in sorted(self.failures.items())),
            "frustration_signals": "; ".join(f"{k} {v}" for k, v in self.signals),
        }  # fmt: skip


@dataclass
class Report:
    groups: list[Group]
    total: Group
    signals: list[tuple[str, int]]  # frustration signals seen, most frequent first
    # Per day (UTC, as epoch seconds at midnight): sessions opened, their mean score, referred.
    days: list[tuple[int, int, float | None, int]] = field(default_factory=list)


DAY_S = 86_400


def daily(
    sessions: list[Session], opened_at: dict[str, int]
) -> list[tuple[int, int, float | None, int]]:
    """The sessions opened each day (by ``opened_at`` ms), with their mean score and referrals."""
    by_day: dict[int, list[Session]] = {}
    for s in sessions:
        day = opened_at[s.id] // 1000 // DAY_S * DAY_S
        by_day.setdefault(day, []).append(s)
    out = []
    for day, group in sorted(by_day.items()):
        scores = [s.score for s in group if s.score is not None]
        mean = round(statistics.fmean(scores), 3) if scores else None
        out.append((day, len(group), mean, sum(s.referred for s in group)))
    return out


def _round(value: float | None) -> float | None:
    return round(value, 3) if value is not None else None


def sessions_of(items: Iterable[tuple[str, SupportItem]]) -> list[Session]:
    """The support sessions opened in the items, with what later items say about them."""
    sessions: dict[str, Session] = {}
    for _, item in items:
        if item.kind != SUPPORT_SESSION:
            continue
        p = item.payload
        sid = str(p.get("session", ""))
        if "offer" in p and sid and sid not in sessions:
            place = p.get("place") or {}
            sessions[sid] = Session(
                sid, str(place.get("process") or "(none)"), str(p.get("persona") or "(none)")
            )
            frustration = p.get("frustration")
            if isinstance(frustration, dict):  # a referral on frustration opened this session
                sessions[sid].signals = [
                    str(s["kind"]) for s in frustration.get("signals") or []
                    if isinstance(s, dict) and s.get("kind")
                ]  # fmt: skip
            continue
        found = sessions.get(sid)
        if found is None:
            continue
        score = p.get("effectiveness")
        if isinstance(score, dict) and isinstance(score.get("score"), int | float):
            found.score = float(score["score"])
            found.failed = str(score.get("reason")) if score.get("below_threshold") else None
        if "referral" in p:
            found.referred = True
        accepted = p.get("agent_accepted")
        if isinstance(accepted, dict) and isinstance(accepted.get("waited_ms"), int):
            found.waited_ms = accepted["waited_ms"]
        csat = p.get("csat")
        if isinstance(csat, dict) and isinstance(csat.get("score"), int):
            found.csat = csat["score"]
    return list(sessions.values())


def _group(key: str, sessions: list[Session]) -> Group:
    g = Group(key, sessions=len(sessions))
    scores = [s.score for s in sessions if s.score is not None]
    g.scored = len(scores)
    if scores:
        g.mean_score = statistics.fmean(scores)
        for score in scores:
            g.distribution[min(int(score * BUCKETS), BUCKETS - 1)] += 1
    g.failures = dict(Counter(s.failed for s in sessions if s.failed))
    if sessions:
        g.referral_rate = sum(s.referred for s in sessions) / len(sessions)
    waits = [s.waited_ms for s in sessions if s.waited_ms is not None]
    g.median_wait_ms = int(statistics.median(waits)) if waits else None
    ratings = [s.csat for s in sessions if s.csat is not None]
    g.csat_count = len(ratings)
    g.csat_mean = statistics.fmean(ratings) if ratings else None
    g.signals = Counter(kind for s in sessions for kind in s.signals).most_common(5)
    return g


def report(items: list[tuple[str, SupportItem]], *, by: str = "process") -> Report:
    """The figures of a period's items, grouped ``by`` process or persona."""
    sessions = sessions_of(items)
    opened_at: dict[str, int] = {}
    for _, item in items:
        sid = item.payload.get("session")
        if item.kind == SUPPORT_SESSION and "offer" in item.payload and isinstance(sid, str):
            opened_at.setdefault(sid, item.at_ms)
    keyed: dict[str, list[Session]] = {}
    for s in sessions:
        keyed.setdefault(s.process if by == "process" else s.persona, []).append(s)
    signals: Counter[str] = Counter()
    for _, item in items:
        if item.kind == FRUSTRATION:
            for signal in item.payload.get("signals") or []:
                if isinstance(signal, dict) and signal.get("kind"):
                    signals[str(signal["kind"])] += 1
    return Report(
        [_group(k, v) for k, v in sorted(keyed.items())],
        _group("all", sessions),
        signals.most_common(10),
        daily(sessions, opened_at),
    )
