"""The console's FAQ page (authors and admins): the site's answers to potential questions,
added, changed and deleted in its ``faq.yaml`` (the file keeps its comments and style) and in
the search index the help widget uses, at once."""

from __future__ import annotations

from urllib.parse import quote

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from server.console.authors import AUTHOR_ROLES
from server.console.signin import (
    audit,
    page,
    posted_as,
    signed_in_as,
    state_of,
)
from server.content_edit import delete_faq_entry, save_faq_entry
from server.knowledge.site import Site
from server.knowledge.sources import ContentInvalid
from server.store.base import FaqRecord
from server.web.catalogs import configured
from server.web.state import AppState

NOT_FOR_YOU = "The FAQ is for authors and admins."


async def faq_page(request: Request) -> Response:
    site_key = request.path_params["site"]
    found = await signed_in_as(request, site_key, AUTHOR_ROLES, NOT_FOR_YOU)
    if isinstance(found, Response):
        return found
    who, account = found
    site = state_of(request).sites[site_key]
    return page(
        "faq.html", site=site_key, account=account, csrf=who.csrf, entries=site.faq,
        processes=site.processes, notice=request.query_params.get("notice", ""),
    )  # fmt: skip


def _entry(form: FormData) -> dict[str, object]:
    return {
        "id": str(form.get("id", "")).strip(),
        "questions": [q.strip() for q in str(form.get("questions", "")).splitlines() if q.strip()],
        "answer": str(form.get("answer", "")).strip(),
        "processes": [str(p) for p in form.getlist("processes")],
    }


async def _saved(state: AppState, site: Site) -> None:
    await configured(state, site)
    await state.store.replace_faq(
        site.key,
        [FaqRecord(e.id, tuple(e.questions), e.answer, tuple(e.processes)) for e in site.faq],
    )


async def save(request: Request) -> Response:
    """Add an entry (no id in the path) or change one."""
    site_key = request.path_params["site"]
    replacing = request.path_params.get("entry")
    posted = await posted_as(request, site_key, AUTHOR_ROLES, NOT_FOR_YOU)
    if isinstance(posted, Response):
        return posted
    account, form = posted
    entry = _entry(form)
    state = state_of(request)
    try:
        site = save_faq_entry(state.settings.content_dir / site_key, entry, replacing=replacing)
    except KeyError:
        return page("refused.html", 404, message="There is no such FAQ entry.")
    except ContentInvalid as exc:
        return page("refused.html", 400, message=f"Not saved: {exc}")
    await _saved(state, site)
    action = "faq.changed" if replacing else "faq.added"
    await audit(request, site_key, account.email, action, str(entry["id"]))
    notice = quote(f"Saved {entry['id']}: the help widget answers with it now.")
    return RedirectResponse(f"/console/{site_key}/faq?notice={notice}", status_code=303)


async def delete(request: Request) -> Response:
    site_key, entry = request.path_params["site"], request.path_params["entry"]
    posted = await posted_as(request, site_key, AUTHOR_ROLES, NOT_FOR_YOU)
    if isinstance(posted, Response):
        return posted
    account, _ = posted
    state = state_of(request)
    try:
        site = delete_faq_entry(state.settings.content_dir / site_key, entry)
    except KeyError:
        return page("refused.html", 404, message="There is no such FAQ entry.")
    except ContentInvalid as exc:
        return page("refused.html", 400, message=f"Not deleted: {exc}")
    await _saved(state, site)
    await audit(request, site_key, account.email, "faq.deleted", entry)
    return RedirectResponse(
        f"/console/{site_key}/faq?notice={quote(f'Deleted {entry}.')}", status_code=303
    )


def faq_routes() -> list[BaseRoute]:
    return [
        Route("/console/{site}/faq", faq_page, include_in_schema=False),
        Route("/console/{site}/faq", save, methods=["POST"], include_in_schema=False),
        Route("/console/{site}/faq/{entry}", save, methods=["POST"], include_in_schema=False),
        Route(
            "/console/{site}/faq/{entry}/delete", delete, methods=["POST"], include_in_schema=False
        ),
    ]
