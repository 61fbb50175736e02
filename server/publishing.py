"""Publishing content into the knowledge base (``tandem load`` and server start-up).

Each walkthrough version is stored once and never changed: loading the same
file again is a no-op, and a file whose steps changed under the same version
number is refused (raise ``version``), so a running walkthrough never changes
under a visitor's feet.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from server.knowledge.catalog import Catalog, PublishedWalkthrough
from server.knowledge.site import Site
from server.knowledge.walkthrough import WalkthroughFile
from server.store import Store
from server.store.base import FaqRecord, VersionConflict, WalkthroughVersion


@dataclass
class PublishReport:
    published: list[str] = field(default_factory=list)  # "id@version" newly stored
    unchanged: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)


async def publish_site(store: Store, site: Site, *, now_ms: int) -> PublishReport:
    """Publish every walkthrough of a site's content folder; collect conflicts instead of stopping at the first."""
    report = PublishReport()
    for walkthrough in site.walkthroughs:
        digest, body = walkthrough.canonical()
        name = f"{walkthrough.id}@{walkthrough.version}"
        try:
            created = await store.publish_walkthrough(
                WalkthroughVersion(
                    site.key,
                    walkthrough.id,
                    walkthrough.version,
                    walkthrough.process,
                    digest,
                    body,
                    now_ms,
                )
            )
        except VersionConflict as exc:
            report.conflicts.append(str(exc))
            continue
        (report.published if created else report.unchanged).append(name)
    await store.replace_faq(
        site.key,
        [FaqRecord(e.id, tuple(e.questions), e.answer, tuple(e.processes)) for e in site.faq],
    )
    return report


async def load_catalog(store: Store, site: Site) -> Catalog:
    """The site's catalog of what is published in the store now."""
    versions = await store.published_walkthroughs(site.key)
    published = [
        PublishedWalkthrough(WalkthroughFile.model_validate(v.body), v.version) for v in versions
    ]
    return Catalog(site, published)
