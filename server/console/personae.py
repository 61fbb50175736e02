"""The console's personae page (authors and admins): each persona's name, avatar and voice
lines, changed in ``personae.yaml`` (round trip) and used from the next answer on. Who a
persona is chosen for, its role and skills stay in the file, for the author to edit there."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import quote

import yaml
from pydantic import BaseModel
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
from server.content_edit import save_entry, save_persona
from server.knowledge.sources import ContentInvalid
from server.knowledge.support_content import VOICE_LINES
from server.web.catalogs import configured

NOT_FOR_YOU = "Personae are for authors and admins."


async def personae_page(request: Request) -> Response:
    site_key = request.path_params["site"]
    found = await signed_in_as(request, site_key, AUTHOR_ROLES, NOT_FOR_YOU)
    if isinstance(found, Response):
        return found
    who, account = found
    from server.web.help import DEFAULT_LINES

    site = state_of(request).sites[site_key]
    return page(
        "personae.html", site=site_key, account=account, csrf=who.csrf, personae=site.personae,
        roles=site.roles, skills=site.skills, processes=site.processes,
        rules={p.id: _rules(p.select_when) for p in site.personae},
        lines=VOICE_LINES, defaults=DEFAULT_LINES, notice=request.query_params.get("notice", ""),
    )  # fmt: skip


async def save(request: Request) -> Response:
    site_key, persona = request.path_params["site"], request.path_params["persona"]
    posted = await posted_as(request, site_key, AUTHOR_ROLES, NOT_FOR_YOU)
    if isinstance(posted, Response):
        return posted
    account, form = posted
    voice = {line: str(form.get(f"voice_{line}", "")).strip() for line in VOICE_LINES}
    rules: list[object] | None = None
    if "select_when" in form:  # written as YAML, as in the file: a list of rules
        try:
            parsed = yaml.safe_load(str(form.get("select_when", ""))) or []
        except yaml.YAMLError as exc:
            return page("refused.html", 400, message=f"Not saved: the rules are not YAML: {exc}")
        if not isinstance(parsed, list):
            return page(
                "refused.html", 400, message="Not saved: the rules are a list (- visitor: new …)."
            )
        rules = parsed
    state = state_of(request)
    try:
        site = save_persona(
            state.settings.content_dir / site_key, persona, name=str(form.get("name", "")).strip(),
            avatar=str(form.get("avatar", "")).strip(), voice=voice, select_when=rules,
        )  # fmt: skip
    except KeyError:
        return page("refused.html", 404, message="There is no such persona.")
    except ContentInvalid as exc:
        return page("refused.html", 400, message=f"Not saved: {exc}")
    await configured(state, site)
    await audit(request, site_key, account.email, "persona.changed", persona)
    notice = quote(f"Saved {persona}: the next answers speak so.")
    return RedirectResponse(f"/console/{site_key}/personae?notice={notice}", status_code=303)


def _rules(rules: Sequence[BaseModel]) -> str:
    """A persona's rules as the YAML an author writes (empty: chosen for anyone)."""
    if not rules:
        return ""
    listed = [r.model_dump(exclude_none=True, exclude_defaults=True) for r in rules]
    return yaml.safe_dump(listed, sort_keys=False, allow_unicode=True, default_flow_style=None)


LISTS = {"roles": ("roles.yaml", ("title", "description")), "skills": ("skills.yaml", ("title",))}


async def save_item(request: Request) -> Response:
    """Add (no id in the path), change or delete (``delete=yes``) a role or a skill."""
    site_key = request.path_params["site"]
    kind = request.url.path.split("/")[3]  # /console/{site}/roles/… or /console/{site}/skills/…
    replacing = request.path_params.get("item")
    posted = await posted_as(request, site_key, AUTHOR_ROLES, NOT_FOR_YOU)
    if isinstance(posted, Response):
        return posted
    account, form = posted
    file_name, texts = LISTS[kind]
    fields: dict[str, object] = {"id": str(form.get("id", replacing or "")).strip()}
    fields.update({name: str(form.get(name, "")).strip() for name in texts})
    if kind == "skills":
        fields["processes"] = [str(p) for p in form.getlist("processes")]
    delete = form.get("delete") == "yes" and replacing is not None
    state = state_of(request)
    try:
        site = save_entry(
            state.settings.content_dir / site_key, file_name, kind, fields, replacing=replacing,
            delete=delete,
        )  # fmt: skip
    except KeyError:
        return page("refused.html", 404, message=f"There is no such {kind[:-1]}.")
    except ContentInvalid as exc:
        return page("refused.html", 400, message=f"Not saved: {exc}")
    await configured(state, site)
    what = "deleted" if delete else "changed" if replacing else "added"
    await audit(request, site_key, account.email, f"{kind[:-1]}.{what}", str(fields["id"]))
    notice = quote(f"{kind[:-1].capitalize()} {fields['id']} {what}.")
    return RedirectResponse(f"/console/{site_key}/personae?notice={notice}", status_code=303)


def personae_routes() -> list[BaseRoute]:
    return [
        Route("/console/{site}/personae", personae_page, include_in_schema=False),
        Route(
            "/console/{site}/personae/{persona}", save, methods=["POST"], include_in_schema=False
        ),
        *(
            Route(path, save_item, methods=["POST"], include_in_schema=False)
            for kind in LISTS
            for path in (f"/console/{{site}}/{kind}/new", f"/console/{{site}}/{kind}/{{item}}/save")
        ),
    ]
