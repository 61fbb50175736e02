"""The console's admin page: the site's configuration — origins and signing keys, processes
and their thresholds, frustration rules (written into the site's YAML, validated, in use at
once) — and agents' skills and capacity. Its data and channel forms post to ``operations``.

Everything here is audited. What an edit changes is the content folder this server reads;
every other server node is told to read it again (``server.web.catalogs``): the nodes share
the folder (or a copy kept the same).
"""

from __future__ import annotations

import math
import os
import re
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from server.console.signin import (
    audit,
    page,
    posted_as,
    signed_in_as,
    state_of,
)
from server.content_edit import edit_site_list, set_process_threshold, set_site_value
from server.knowledge.site import Site
from server.knowledge.sources import ContentInvalid
from server.settings import env_names
from server.support.frustration import SignalKind
from server.web.catalogs import configured
from server.web.frustration import rules_for

ADMIN_ONLY = "These pages are for admins."
ADMINS = frozenset({"admin"})


async def admin_page(request: Request) -> Response:
    site_key = request.path_params["site"]
    found = await signed_in_as(request, site_key, ADMINS, ADMIN_ONLY)
    if isinstance(found, Response):
        return found
    who, account = found
    site = state_of(request).sites[site_key]
    accounts = [
        a
        for a in await state_of(request).store.list_accounts(site_key)
        if a.role in ("agent", "admin")
    ]
    return page(
        "admin.html", site=site_key, account=account, csrf=who.csrf, processes=site.processes,
        default_threshold=site.config.effectiveness.default_threshold, agents=accounts,
        known_skills=sorted({s.id for s in site.skills} | {r.id for r in site.roles}),
        frustration=rules_for(site.config.frustration), channels=site.config.channels,
        smtp_host=state_of(request).settings.smtp_host, origins=site.config.allowed_origins,
        keys=[(k.kid, k.secret_env, bool(os.environ.get(k.secret_env))) for k in site.config.signing_keys],
        notice=request.query_params.get("notice", ""),
    )  # fmt: skip


async def set_threshold(request: Request) -> Response:
    site_key, process = request.path_params["site"], request.path_params["process"]
    posted = await posted_as(request, site_key, ADMINS, ADMIN_ONLY)
    if isinstance(posted, Response):
        return posted
    account, form = posted
    try:
        value = float(str(form.get("threshold", "")))
    except ValueError:
        return page("refused.html", 400, message="A threshold is a number from 0 to 1.")
    state = state_of(request)
    folder = state.settings.content_dir / site_key
    try:
        before, site = set_process_threshold(folder, process, value)
    except KeyError:
        return page("refused.html", 404, message="There is no such process on this site.")
    except ContentInvalid as exc:
        return page("refused.html", 400, message=f"Not saved: {exc}")
    await configured(state, site)
    await audit(
        request, site_key, account.email, "admin.threshold_changed", process,
        before=before, after=value,
    )  # fmt: skip
    notice = quote(f"The threshold of {process} is {value:g} from the next support session on.")
    return RedirectResponse(f"/console/{site_key}/admin?notice={notice}", status_code=303)


async def set_frustration(request: Request) -> Response:
    """The frustration indicator's threshold, or one signal's weight, into ``site.yaml``."""
    site_key = request.path_params["site"]
    posted = await posted_as(request, site_key, ADMINS, ADMIN_ONLY)
    if isinstance(posted, Response):
        return posted
    account, form = posted
    what = str(form.get("what", ""))
    known = {kind.value for kind in SignalKind}
    if what != "threshold" and what not in known:
        return page("refused.html", 400, message="Set the threshold or one signal's weight.")
    try:
        value = float(str(form.get("value", "")))
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        return page("refused.html", 400, message="A weight or threshold is a number, 0 or more.")
    keys = ["frustration", "threshold"] if what == "threshold" else ["frustration", "weights", what]
    state = state_of(request)
    try:
        before, site = set_site_value(state.settings.content_dir / site_key, keys, value)
    except (ContentInvalid, ValueError) as exc:
        return page("refused.html", 400, message=f"Not saved: {exc}")
    await configured(state, site)
    await audit(
        request, site_key, account.email, "admin.frustration_changed", what, before=before, after=value
    )  # fmt: skip
    notice = quote(f"Frustration {what.replace('_', ' ')} is {value:g} from now on.")
    return RedirectResponse(f"/console/{site_key}/admin?notice={notice}", status_code=303)


async def edit_site(request: Request) -> Response:
    """Allowed origins and signing keys (rotation: add the new key, move the site's backend to
    it, remove the old one), in ``site.yaml``; in use at once on this server."""
    from server.visitors import SigningKeyMissing, load_site_keys

    site_key, what = request.path_params["site"], request.path_params["what"]
    posted = await posted_as(request, site_key, ADMINS, ADMIN_ONLY)
    if isinstance(posted, Response):
        return posted
    account, form = posted
    state = state_of(request)
    folder = state.settings.content_dir / site_key

    def keys_present(site: Site) -> None:  # a strict site's keys need their secrets here first
        load_site_keys({site.key: site}, os.environ)

    origin = str(form.get("origin", "")).strip().rstrip("/")
    kid, env = str(form.get("kid", "")).strip(), str(form.get("secret_env", "")).strip()
    if what == "keys/add" and (not re.fullmatch(r"TANDEM_[A-Z0-9_]+", env) or env in env_names()):
        return page(
            "refused.html", 400,
            message="A signing key's variable is named TANDEM_… and is not one of the server's own settings.",
        )  # fmt: skip
    try:
        if what == "origins/add":
            site = edit_site_list(folder, "allowed_origins", add=origin)
        elif what == "origins/remove":
            site = edit_site_list(folder, "allowed_origins", remove=lambda o: o == origin)
        elif what == "keys/add":
            site = edit_site_list(
                folder, "signing_keys", add={"kid": kid, "secret_env": env}, check=keys_present
            )
        elif what == "keys/remove":
            site = edit_site_list(folder, "signing_keys", remove=lambda k: k.get("kid") == kid)
        else:
            return page("refused.html", 404, message="No such change.")
    except KeyError:
        return page("refused.html", 404, message="There is no such origin or key.")
    except (ContentInvalid, SigningKeyMissing) as exc:
        return page("refused.html", 400, message=f"Not saved: {exc}")
    await configured(state, site)
    await audit(
        request, site_key, account.email, f"admin.{what.replace('/', '_')}", origin or kid,
        **({"secret_env": env} if what == "keys/add" else {}),
    )  # fmt: skip
    notice = quote(f"Saved: {what.replace('/', ' ')} {origin or kid}.")
    return RedirectResponse(f"/console/{site_key}/admin?notice={notice}", status_code=303)


async def set_agent(request: Request) -> Response:
    """An admin sets an agent's skills and capacity (routing uses them at the next dispatch)."""
    site_key, email = request.path_params["site"], request.path_params["email"]
    posted = await posted_as(request, site_key, ADMINS, ADMIN_ONLY)
    if isinstance(posted, Response):
        return posted
    account, form = posted
    site = state_of(request).sites[site_key]
    known = {s.id for s in site.skills} | {r.id for r in site.roles}
    skills = sorted({s.strip() for s in str(form.get("skills", "")).split(",") if s.strip()})
    unknown = [s for s in skills if s not in known]
    try:
        capacity = int(str(form.get("capacity", "")))
    except ValueError:
        capacity = 0
    if unknown or not 1 <= capacity <= 50:
        why = f"unknown skills: {', '.join(unknown)}" if unknown else "a capacity is 1 to 50"
        return page("refused.html", 400, message=f"Not saved: {why}.")
    store = state_of(request).store
    before = await store.get_account(site_key, email)
    if before is None or not await store.set_agent_profile(
        site_key, email, skills=skills, capacity=capacity
    ):
        return page("refused.html", 404, message="There is no such account on this site.")
    await audit(
        request, site_key, account.email, "admin.agent_changed", email,
        skills=skills, capacity=capacity, before={"skills": list(before.skills), "capacity": before.capacity},
    )  # fmt: skip
    notice = quote(
        f"{before.name} now helps with {', '.join(skills) or 'anything'}, {capacity} at once."
    )
    return RedirectResponse(f"/console/{site_key}/admin?notice={notice}", status_code=303)


async def save_process(request: Request) -> Response:
    """Add, change or delete (``delete=yes``) a process in ``processes.yaml``: its title,
    description, URL patterns and goal; one that walkthroughs belong to cannot be deleted."""
    from server.content_edit import save_entry

    site_key = request.path_params["site"]
    replacing = request.path_params.get("process")
    posted = await posted_as(request, site_key, ADMINS, ADMIN_ONLY)
    if isinstance(posted, Response):
        return posted
    account, form = posted
    goal_kind = str(form.get("goal_kind", "url"))
    goal_value = str(form.get("goal_value", "")).strip()
    if goal_kind not in ("url", "element", "event"):
        return page("refused.html", 400, message="A goal is a URL, an element or an event.")
    fields: dict[str, object] = {
        "id": str(form.get("id", replacing or "")).strip(),
        "title": str(form.get("title", "")).strip(),
        "description": str(form.get("description", "")).strip(),
        "url_patterns": [
            u.strip() for u in str(form.get("url_patterns", "")).splitlines() if u.strip()
        ],
        "goal": {goal_kind: goal_value},
    }
    delete = form.get("delete") == "yes" and replacing is not None
    state = state_of(request)
    try:
        site = save_entry(
            state.settings.content_dir / site_key, "processes.yaml", "processes", fields,
            replacing=replacing, delete=delete,
        )  # fmt: skip
    except KeyError:
        return page("refused.html", 404, message="There is no such process.")
    except ContentInvalid as exc:
        return page("refused.html", 400, message=f"Not saved: {exc}")
    await configured(state, site)
    what = "deleted" if delete else "changed" if replacing else "added"
    await audit(request, site_key, account.email, f"admin.process_{what}", str(fields["id"]))
    notice = quote(f"Process {fields['id']} {what}.")
    return RedirectResponse(f"/console/{site_key}/admin?notice={notice}", status_code=303)


def admin_routes() -> list[BaseRoute]:
    return [
        Route("/console/{site}/admin", admin_page, include_in_schema=False),
        Route(
            "/console/{site}/admin/processes/{process}/threshold",
            set_threshold,
            methods=["POST"],
            include_in_schema=False,
        ),
        Route(
            "/console/{site}/admin/site/{what:path}",
            edit_site,
            methods=["POST"],
            include_in_schema=False,
        ),
        Route(
            "/console/{site}/admin/processes/new",
            save_process,
            methods=["POST"],
            include_in_schema=False,
        ),
        Route(
            "/console/{site}/admin/processes/{process}/save",
            save_process,
            methods=["POST"],
            include_in_schema=False,
        ),
        Route(
            "/console/{site}/admin/frustration",
            set_frustration,
            methods=["POST"],
            include_in_schema=False,
        ),
        Route(
            "/console/{site}/admin/agents/{email}",
            set_agent,
            methods=["POST"],
            include_in_schema=False,
        ),
    ]
