"""The console's support analytics: per process or per persona over a chosen period, as a
page (bars) and as CSV — for authors and admins."""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from server.console.signin import account_for, page, state_of
from server.store.base import AccountRecord
from server.support.analytics import BUCKETS, Report, report

ROLES = frozenset({"author", "admin"})
DAY_MS = 86_400_000


def period(request: Request) -> tuple[str, str, int, int]:
    """The period asked for (``since``, ``until``: dates, inclusive), the last 30 days by default."""
    today = dt.datetime.now(dt.UTC).date()

    def day(name: str, default: dt.date) -> dt.date:
        try:
            return dt.date.fromisoformat(request.query_params.get(name, ""))
        except ValueError:
            return default

    since, until = day("since", today - dt.timedelta(days=29)), day("until", today)
    start = int(dt.datetime.combine(since, dt.time(), dt.UTC).timestamp() * 1000)
    end = int(dt.datetime.combine(until, dt.time(), dt.UTC).timestamp() * 1000) + DAY_MS
    return since.isoformat(), until.isoformat(), start, end


@dataclass(frozen=True)
class Asked:
    report: Report
    since: str
    until: str
    by: str
    csrf: str
    account: AccountRecord


async def _report(request: Request) -> Asked | Response:
    site = request.path_params["site"]
    found = await account_for(request, site)
    if isinstance(found, Response):
        return found
    who, account = found
    if account.role not in ROLES:
        return page("refused.html", 403, message="Analytics are for authors and admins.")
    since, until, start, end = period(request)
    by = "persona" if request.query_params.get("by") == "persona" else "process"
    items = await state_of(request).store.support_items_between(site, start, end)
    return Asked(report(items, by=by), since, until, by, who.csrf, account)


async def analytics_page(request: Request) -> Response:
    made = await _report(request)
    if isinstance(made, Response):
        return made
    widest = max([max(g.distribution) for g in made.report.groups] + [1])
    days = made.report.days
    charts = {
        "sessions": {"labels": ["support sessions", "referred to a person"], "x": [d[0] for d in days],
                     "series": [[d[1] for d in days], [d[3] for d in days]]},
        "score": {"labels": ["mean effectiveness"], "x": [d[0] for d in days], "series": [[d[2] for d in days]]},
    }  # fmt: skip
    return page(
        "analytics.html", site=request.path_params["site"], account=made.account, csrf=made.csrf,
        report=made.report, since=made.since, until=made.until, by=made.by, widest=widest,
        buckets=BUCKETS, charts=charts,
    )  # fmt: skip


async def analytics_csv(request: Request) -> Response:
    made = await _report(request)
    if isinstance(made, Response):
        return made
    result, since, until, by = made.report, made.since, made.until, made.by
    out = io.StringIO()
    rows = [g.row() for g in [*result.groups, result.total]]
    writer = csv.DictWriter(out, fieldnames=[by, *list(rows[0])[1:]] if rows else [by])
    writer.writeheader()
    for row in rows:
        writer.writerow({by: row.pop("key"), **row})
    name = f"{request.path_params['site']}-support-{by}-{since}-{until}.csv"
    return Response(
        out.getvalue(), media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )  # fmt: skip


def analytics_routes() -> list[BaseRoute]:
    return [
        Route("/console/{site}/analytics", analytics_page, include_in_schema=False),
        Route("/console/{site}/analytics.csv", analytics_csv, include_in_schema=False),
    ]
