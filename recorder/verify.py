"""``tandem verify``: replay walkthroughs in headless Chromium with the player's own resolver
and say, step by step, what still resolves and how — before a visitor meets a broken one.

Each walkthrough opens at its first page (``applies.urls``) on the base URL. For each step
the resolver (``dist/resolver.js``, the one the player uses) looks for its target; the step
passes when it is found with a similarity at or above the threshold (a step found only below
it fails: it may be the wrong element). Then the step is done as a visitor would — its action,
else what its ``advance`` waits for (a click, some typing) — so the next step's page is there.
A failed step ends that walkthrough: what follows cannot be reached honestly.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from server.knowledge.sources import ContentInvalid, parse_yaml, validate
from server.knowledge.walkthrough import Step, WalkthroughFile

RESOLVER_BUNDLE = Path(__file__).resolve().parent.parent / "client_js" / "dist" / "resolver.js"
#: Sample traits for action values written as templates (``{{ user.first_name }}``).
SAMPLE_TRAITS = {"first_name": "Tandem", "last_name": "Verify", "email": "verify@example.com"}
RESOLVE = """async ([descriptor, timeoutMs, threshold]) => {
  const r = await window.TandemResolver.resolve(descriptor, {timeoutMs, threshold});
  window.__tandemVerified = r.element;
  // An element inside an iframe: Playwright acts on it through its own frame.
  const token = Math.random().toString(36).slice(2);
  const own = r.element ? r.element.ownerDocument.defaultView : null;
  const framed = !!own && own !== window;
  if (framed) { own.__tandemVerified = r.element; own.__tandemVerifiedToken = token; }
  return {status: r.status, strategy: r.strategy, similarity: r.similarity,
          tag: r.element ? r.element.tagName.toLowerCase() : null,
          type: r.element && r.element.getAttribute ? (r.element.getAttribute("type") || "") : "",
          framed, token};
}"""


@dataclass
class StepResult:
    step: str
    status: str  # found, not_found, ambiguous, not_visible, below_threshold, error
    strategy: str | None = None
    similarity: float = 0.0
    detail: str = ""
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == "found"


@dataclass
class WalkthroughResult:
    file: str
    walkthrough: str
    version: int
    steps: list[StepResult] = field(default_factory=list)
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error and all(s.ok for s in self.steps)


def walkthrough_files(target: Path) -> list[Path]:
    """The walkthrough files of a file or folder (a site folder's other YAML files are not)."""
    if target.is_file():
        return [target]
    reserved = {
        "site.yaml",
        "processes.yaml",
        "personae.yaml",
        "roles.yaml",
        "skills.yaml",
        "faq.yaml",
    }
    return sorted(p for p in target.rglob("*.yaml") if p.name not in reserved)


def load(path: Path) -> WalkthroughFile:
    return validate(WalkthroughFile, parse_yaml(path.read_text(encoding="utf-8"), str(path)))


def _value(template: str | None) -> str:
    """An action's value with its trait placeholders filled with sample traits."""
    return re.sub(
        r"\{\{\s*user\.(\w+)\s*\}\}",
        lambda m: SAMPLE_TRAITS.get(m.group(1), "Tandem"),
        template or "",
    )


async def _do(page: Any, step: Step, found: dict[str, Any]) -> None:
    """Do the step as a visitor would, so the next step's page is there."""
    frame = page.main_frame
    if found.get("framed"):
        for candidate in page.frames[1:]:
            try:
                if await candidate.evaluate("window.__tandemVerifiedToken") == found["token"]:
                    frame = candidate
                    break
            except Exception:  # a frame going away, or another origin's
                continue
    element = await frame.evaluate_handle("window.__tandemVerified")
    handle = element.as_element()
    if handle is None:
        return
    action = step.action
    if action is not None and action.kind == "click":
        await handle.click()
    elif action is not None and action.kind == "fill":
        await handle.fill(_value(action.value))
    elif action is not None and action.kind == "select":
        await handle.select_option(_value(action.value))
    elif action is not None and action.kind == "check":
        await handle.set_checked(action.checked is not False)
    elif action is not None and action.kind == "press":
        await handle.press(action.key or "Enter")
    elif action is not None and action.kind == "hover":
        await handle.hover()
    elif found.get("type") == "file":
        return  # an upload is the visitor's to do: verify only that the field is there
    elif step.advance.after == "input":
        typed = "verify@example.com" if found.get("type") == "email" else "Tandem Verify"
        await handle.fill(typed)
    elif step.advance.after in ("click", "url", "appears", "disappears"):
        await handle.click()
    if step.expect is not None and step.expect.appears:
        await page.wait_for_selector(step.expect.appears, timeout=10_000)
    if step.advance.after == "url":
        await page.wait_for_load_state()


async def verify_one(
    context: Any, path: Path, base_url: str, *, threshold: float, timeout_ms: int,
    progress: Callable[[str], None] = lambda _: None,
) -> WalkthroughResult:  # fmt: skip
    try:
        walkthrough = load(path)
    except ContentInvalid as exc:
        return WalkthroughResult(str(path), path.stem, 0, error=str(exc))
    result = WalkthroughResult(str(path), walkthrough.id, walkthrough.version)
    urls = [u for u in walkthrough.applies.urls if isinstance(u, str) and u.startswith("/")]
    start = urls[0] if urls else "/"
    page = await context.new_page()
    try:
        await page.goto(base_url.rstrip("/") + re.sub(r"[:*].*$", "", start))
        for step in walkthrough.steps:
            progress(step.id)
            started = time.perf_counter()
            if step.target is None:
                result.steps.append(StepResult(step.id, "found", "none", 1.0, "no target"))
                if step.action is not None and step.action.kind == "navigate" and step.action.url:
                    await page.goto(base_url.rstrip("/") + step.action.url)
                elif step.action is not None and step.action.kind == "press" and step.action.key:
                    await page.keyboard.press(step.action.key)
                continue
            descriptor = step.target.model_dump(mode="json", exclude_none=True)
            try:
                found = await page.evaluate(RESOLVE, [descriptor, timeout_ms, threshold])
            except Exception as exc:  # the page navigated away mid-resolve, a script error…
                result.steps.append(StepResult(step.id, "error", detail=str(exc).splitlines()[0]))
                break
            status = str(found["status"])
            similarity = float(found["similarity"] or 0)
            if status == "found" and similarity < threshold:
                status = "below_threshold"
            outcome = StepResult(
                step.id, status, found.get("strategy"), similarity,
                seconds=time.perf_counter() - started,
            )  # fmt: skip
            result.steps.append(outcome)
            if not outcome.ok:
                break
            try:
                await _do(page, step, found)
            except Exception as exc:  # the step's effect did not come: the next one will say
                outcome.detail = f"doing it: {str(exc).splitlines()[0]}"
    except Exception as exc:
        result.error = str(exc).splitlines()[0]
    finally:
        await page.close()
    return result


def junit(results: list[WalkthroughResult]) -> bytes:
    """JUnit XML: a test suite per walkthrough, a test case per step."""
    suites = ElementTree.Element("testsuites", name="tandem verify")
    for r in results:
        failures = sum(not s.ok for s in r.steps) + (1 if r.error else 0)
        suite = ElementTree.SubElement(
            suites, "testsuite", name=f"{r.walkthrough} v{r.version}", tests=str(max(len(r.steps), 1)),
            failures=str(failures), file=r.file,
        )  # fmt: skip
        if r.error:
            case = ElementTree.SubElement(suite, "testcase", name="load", classname=r.walkthrough)
            ElementTree.SubElement(case, "failure", message=r.error)
        for s in r.steps:
            case = ElementTree.SubElement(
                suite, "testcase", name=s.step, classname=r.walkthrough, time=f"{s.seconds:.3f}"
            )
            if not s.ok:
                ElementTree.SubElement(
                    case, "failure", message=f"{s.status} (similarity {s.similarity:.2f})",
                    type=s.status,
                ).text = s.detail  # fmt: skip
            else:
                ElementTree.SubElement(
                    case, "system-out"
                ).text = f"{s.strategy} similarity {s.similarity:.2f}"
    xml: bytes = ElementTree.tostring(suites, encoding="utf-8", xml_declaration=True)
    return xml


def line(result: WalkthroughResult) -> list[str]:
    """What the terminal shows of one walkthrough."""
    head = f"{'PASS' if result.ok else 'FAIL'}  {result.walkthrough} v{result.version}  ({result.file})"
    lines = [head]
    if result.error:
        lines.append(f"      error: {result.error}")
    for s in result.steps:
        mark = "ok  " if s.ok else "FAIL"
        how = f"{s.strategy or '-'} {s.similarity:.2f}" if s.strategy else s.status
        lines.append(
            f"  {mark} {s.step:<20} {s.status:<16} {how}{'  ' + s.detail if s.detail else ''}"
        )
    return lines
