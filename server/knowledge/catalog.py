"""Which walkthroughs apply where: an index from process and location to published walkthroughs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from urlpattern import URLPattern

from server.knowledge.location import ProcessIndex
from server.knowledge.site import Site
from server.knowledge.urls import compile_pattern
from server.knowledge.walkthrough import WalkthroughFile


@dataclass(frozen=True)
class PublishedWalkthrough:
    walkthrough: WalkthroughFile
    version: int


@dataclass
class Catalog:
    """The published walkthroughs of one site, indexed by process and by the URLs they apply to."""

    site: Site
    published: Sequence[PublishedWalkthrough]
    _processes: ProcessIndex = field(init=False)
    _urls: dict[str, tuple[URLPattern, ...]] = field(init=False)

    def __post_init__(self) -> None:
        self._processes = ProcessIndex(self.site)
        self._urls = {
            p.walkthrough.id: tuple(compile_pattern(u) for u in p.walkthrough.applies.urls)
            for p in self.published
        }

    def for_process(self, process: str) -> list[PublishedWalkthrough]:
        """The process's walkthroughs, originals before their variants, in the site's order."""
        found = [p for p in self.published if p.walkthrough.process == process]
        return sorted(found, key=lambda p: p.walkthrough.variant_of is not None)

    def for_location(self, url: str, markers: Sequence[str] = ()) -> list[PublishedWalkthrough]:
        """Walkthroughs that can start here: of the page's process, and whose own URL patterns (if any) match."""
        process = self._processes.resolve(url, markers)
        if process is None:
            return []
        return [
            p
            for p in self.for_process(process)
            if not self._urls[p.walkthrough.id]
            or any(u.test(url) for u in self._urls[p.walkthrough.id])
        ]
