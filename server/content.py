"""Read the content folder (``walkthroughs/``) into knowledge models.

Layout: one folder per site, named by its key, holding ``site.yaml`` and
``processes.yaml`` (later also walkthroughs, personae and FAQ answers).
Every problem in every file is collected and reported together, each with
file, line and field, so an author fixes them in one pass.
"""

from __future__ import annotations

from pathlib import Path

from server.knowledge.site import ProcessConfig, ProcessesFile, Site, SiteConfig
from server.knowledge.sources import (
    ContentError,
    ContentInvalid,
    LocatedData,
    load_model,
    parse_yaml,
    validate,
)
from server.knowledge.walkthrough import WalkthroughFile

SITE_FILE = "site.yaml"
PROCESSES_FILE = "processes.yaml"
#: Other content kinds a site folder may hold; every other *.yaml file there is a walkthrough.
RESERVED = frozenset(
    {SITE_FILE, PROCESSES_FILE, "personae.yaml", "roles.yaml", "skills.yaml", "faq.yaml"}
)


def _display(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root.parent))
    except ValueError:
        return str(path)


def load_site(folder: Path, *, root: Path | None = None) -> Site:
    """Load one site folder; raise ``ContentInvalid`` listing every problem."""
    root = root or folder.parent
    errors: list[ContentError] = []
    site_path = folder / SITE_FILE
    config: SiteConfig | None = None
    if not site_path.is_file():
        errors.append(
            ContentError(_display(site_path, root), 1, "", "missing: every site needs one")
        )
    else:
        name = _display(site_path, root)
        try:
            source = parse_yaml(site_path.read_text(encoding="utf-8"), name)
            config = validate(SiteConfig, source)
        except ContentInvalid as exc:
            errors.extend(exc.errors)
        else:
            if config.key != folder.name:
                errors.append(
                    ContentError(
                        name,
                        source.line_of(["key"]),
                        "key",
                        f"the site key {config.key!r} must equal its folder name {folder.name!r}",
                    )
                )
    processes: tuple[ProcessConfig, ...] = ()
    processes_path = folder / PROCESSES_FILE
    if processes_path.is_file():
        name = _display(processes_path, root)
        try:
            processes = tuple(
                load_model(
                    ProcessesFile, processes_path.read_text(encoding="utf-8"), name
                ).processes
            )
        except ContentInvalid as exc:
            errors.extend(exc.errors)
    walkthroughs = _load_walkthroughs(folder, root, {p.id for p in processes}, errors)
    if errors or config is None:
        raise ContentInvalid(errors)
    return Site.model_validate(
        {"config": config, "processes": processes, "walkthroughs": walkthroughs}
    )


def _load_walkthroughs(
    folder: Path, root: Path, process_ids: set[str], errors: list[ContentError]
) -> list[WalkthroughFile]:
    loaded: list[tuple[WalkthroughFile, LocatedData]] = []
    for path in sorted(folder.glob("*.yaml")):
        if path.name in RESERVED:
            continue
        name = _display(path, root)
        try:
            source = parse_yaml(path.read_text(encoding="utf-8"), name)
            loaded.append((validate(WalkthroughFile, source), source))
        except ContentInvalid as exc:
            errors.extend(exc.errors)
    ids = [w.id for w, _ in loaded]
    for walkthrough, source in loaded:
        if ids.count(walkthrough.id) > 1:
            errors.append(
                ContentError(
                    source.file,
                    source.line_of(["id"]),
                    "id",
                    f"walkthrough id {walkthrough.id!r} is used by another file",
                )
            )
        if walkthrough.process not in process_ids:
            errors.append(
                ContentError(
                    source.file,
                    source.line_of(["process"]),
                    "process",
                    f"no process {walkthrough.process!r} in processes.yaml",
                )
            )
        if walkthrough.variant_of is not None and walkthrough.variant_of not in ids:
            errors.append(
                ContentError(
                    source.file,
                    source.line_of(["variant_of"]),
                    "variant_of",
                    f"no walkthrough {walkthrough.variant_of!r} in this site",
                )
            )
    return [w for w, _ in loaded]


def load_sites(root: Path) -> dict[str, Site]:
    """Load every site under ``root``; raise ``ContentInvalid`` listing every problem."""
    if not root.is_dir():
        raise ContentInvalid([ContentError(str(root), 1, "", "the content folder does not exist")])
    sites: dict[str, Site] = {}
    errors: list[ContentError] = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        try:
            site = load_site(folder, root=root)
        except ContentInvalid as exc:
            errors.extend(exc.errors)
        else:
            sites[site.key] = site
    if errors:
        raise ContentInvalid(errors)
    return sites
