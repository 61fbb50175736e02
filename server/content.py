"""Read the content folder (``walkthroughs/``) into knowledge models.

Layout: one folder per site, named by its key, holding ``site.yaml`` and
``processes.yaml``; optionally ``personae.yaml``, ``roles.yaml``,
``skills.yaml`` and ``faq.yaml``; every other ``*.yaml`` file is a
walkthrough. Every problem in every file is collected and reported together,
each with file, line and field, so an author fixes them in one pass.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel

from server.knowledge.site import ProcessesFile, Site, SiteConfig
from server.knowledge.sources import ContentError, ContentInvalid, LocatedData, parse_yaml, validate
from server.knowledge.support_content import FaqFile, PersonaeFile, RolesFile, SkillsFile
from server.knowledge.walkthrough import WalkthroughFile

SITE_FILE = "site.yaml"
PROCESSES_FILE = "processes.yaml"
OPTIONAL_FILES = frozenset({"personae.yaml", "roles.yaml", "skills.yaml", "faq.yaml"})
#: Every other *.yaml file in a site folder is a walkthrough.
RESERVED = frozenset({SITE_FILE, PROCESSES_FILE, *OPTIONAL_FILES})

ModelT = TypeVar("ModelT", bound=BaseModel)


def _display(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root.parent))
    except ValueError:
        return str(path)


class _SiteReader:
    """Reads one site folder, collecting every problem instead of stopping at the first."""

    def __init__(self, folder: Path, root: Path) -> None:
        self.folder = folder
        self.root = root
        self.errors: list[ContentError] = []

    def read(
        self, path: Path, model: type[ModelT], *, required: bool = False
    ) -> tuple[ModelT, LocatedData] | None:
        name = _display(path, self.root)
        if not path.is_file():
            if required:
                self.errors.append(ContentError(name, 1, "", "missing: every site needs one"))
            return None
        try:
            source = parse_yaml(path.read_text(encoding="utf-8"), name)
            return validate(model, source), source
        except ContentInvalid as exc:
            self.errors.extend(exc.errors)
            return None

    def refer(
        self,
        source: LocatedData,
        path: list[str | int],
        value: str,
        known: Iterable[str],
        what: str,
    ) -> None:
        """Record an error when ``value`` names no known ``what``."""
        if value not in set(known):
            field = ".".join(str(p) if isinstance(p, str) else f"[{p}]" for p in path).replace(
                ".[", "["
            )
            self.errors.append(
                ContentError(
                    source.file, source.line_of(path), field, f"no {what} {value!r} in this site"
                )
            )


def load_site(folder: Path, *, root: Path | None = None) -> Site:
    """Load one site folder; raise ``ContentInvalid`` listing every problem."""
    reader = _SiteReader(folder, root or folder.parent)
    site = reader.read(folder / SITE_FILE, SiteConfig, required=True)
    if site is not None and site[0].key != folder.name:
        config, source = site
        reader.errors.append(
            ContentError(
                source.file,
                source.line_of(["key"]),
                "key",
                f"the site key {config.key!r} must equal its folder name {folder.name!r}",
            )
        )
    processes_read = reader.read(folder / PROCESSES_FILE, ProcessesFile)
    processes = tuple(processes_read[0].processes) if processes_read else ()
    process_ids = {p.id for p in processes}
    content = _Optional(
        personae=reader.read(folder / "personae.yaml", PersonaeFile),
        roles=reader.read(folder / "roles.yaml", RolesFile),
        skills=reader.read(folder / "skills.yaml", SkillsFile),
        faq=reader.read(folder / "faq.yaml", FaqFile),
    )
    walkthroughs = [
        loaded
        for path in sorted(folder.glob("*.yaml"))
        if path.name not in RESERVED and (loaded := reader.read(path, WalkthroughFile)) is not None
    ]
    _check_references(reader, process_ids, content, walkthroughs)
    if reader.errors or site is None:
        raise ContentInvalid(reader.errors)
    return Site(
        config=site[0],
        processes=processes,
        walkthroughs=tuple(w for w, _ in walkthroughs),
        personae=tuple(content.personae[0].personae) if content.personae else (),
        roles=tuple(content.roles[0].roles) if content.roles else (),
        skills=tuple(content.skills[0].skills) if content.skills else (),
        faq=tuple(content.faq[0].entries) if content.faq else (),
    )


@dataclass
class _Optional:
    """The optional files of a site folder, each with its source for line numbers."""

    personae: tuple[PersonaeFile, LocatedData] | None
    roles: tuple[RolesFile, LocatedData] | None
    skills: tuple[SkillsFile, LocatedData] | None
    faq: tuple[FaqFile, LocatedData] | None


def _check_references(
    reader: _SiteReader,
    process_ids: set[str],
    content: _Optional,
    walkthroughs: list[tuple[WalkthroughFile, LocatedData]],
) -> None:
    """Names that point into other files must point at something."""
    roles = {r.id for r in content.roles[0].roles} if content.roles else set()
    skills = {s.id for s in content.skills[0].skills} if content.skills else set()
    persona_ids: set[str] = set()
    if content.personae is not None:
        personae, source = content.personae
        for i, persona in enumerate(personae.personae):
            persona_ids.add(persona.id)
            reader.refer(source, ["personae", i, "role"], persona.role, roles, "role")
            for j, skill in enumerate(persona.skills):
                reader.refer(source, ["personae", i, "skills", j], skill, skills, "skill")
    if content.skills is not None:
        skill_file, source = content.skills
        for i, skill_def in enumerate(skill_file.skills):
            for j, process in enumerate(skill_def.processes):
                reader.refer(source, ["skills", i, "processes", j], process, process_ids, "process")
    if content.faq is not None:
        faq, source = content.faq
        for i, entry in enumerate(faq.entries):
            for j, process in enumerate(entry.processes):
                reader.refer(
                    source, ["entries", i, "processes", j], process, process_ids, "process"
                )
    ids = [w.id for w, _ in walkthroughs]
    for walkthrough, source in walkthroughs:
        if ids.count(walkthrough.id) > 1:
            reader.errors.append(
                ContentError(
                    source.file,
                    source.line_of(["id"]),
                    "id",
                    f"walkthrough id {walkthrough.id!r} is used by another file",
                )
            )
        reader.refer(source, ["process"], walkthrough.process, process_ids, "process")
        if walkthrough.variant_of is not None:
            reader.refer(source, ["variant_of"], walkthrough.variant_of, ids, "walkthrough")
        for i, step in enumerate(walkthrough.steps):
            for persona_id in step.persona_text:
                reader.refer(
                    source,
                    ["steps", i, "persona_text", persona_id],
                    persona_id,
                    persona_ids,
                    "persona",
                )


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
