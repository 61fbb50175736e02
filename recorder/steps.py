"""From what an author did to walkthrough steps: the recorder's pure logic (no I/O, no clock).

The capture script in the page (``client_js/src/capture``) sends events — clicks, typing,
choices, ticks, key presses, submits, uploads, captchas, hovers — each with the target's
descriptor generated in the page; the shell (``recorder/capture.py``) adds the top frame's
navigations. A ``Composer`` turns them into steps as they come:

- typing into one field is one step however many keystrokes it took; choosing or ticking
  the same control again changes that step;
- a navigation (full load or SPA route) right after a click, key press or submit becomes
  that step's ``advance`` and ``expect`` (the URL pattern it leads to); one the author
  made otherwise becomes a ``navigate`` step;
- a private field's value never arrives (the page withholds it): its step asks the visitor
  to type it ("Enter your password") and has no action;
- uploads and captchas are "you do this" steps: nothing is driven;
- Tab after typing in a field is moving to the next field, not a step;
- the author's commands (the toolbar, or the ``Recorder`` API) write the last step's text,
  mark it destructive, add an expectation, forget a field's value, undo the last step.

``walkthrough()`` gives the file's content; ``recorder.walkthrough_file.to_yaml`` writes it.
URL and text helpers are in ``recorder.addresses``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from recorder.addresses import (
    fill_value,
    fixed_path,
    markup,
    path_pattern,
    site_path,
    slug,
)
from server.knowledge.location import redact_url
from server.knowledge.markup import check_text
from server.knowledge.walkthrough import Step

#: The most steps a walkthrough has.
MAX_STEPS = 100

_PRIVATE_TEXT = {
    "password": "Enter your password in **{label}**.",
    "card": "Enter your card details in **{label}**.",
    "one-time code": "Enter the one-time code you received in **{label}**.",
}


class BadEvent(ValueError):
    """An event from the page that the recorder cannot use (it is skipped, and said)."""


@dataclass
class Draft:
    """A step being recorded."""

    kind: str  # click, fill, select, check, press, upload, captcha, hover, navigate
    label: str
    target: dict[str, Any] | None = None
    ref: tuple[str, int] | None = None  # (frame, element): what merges typing
    value: str | None = None
    private: str | None = None
    checked: bool | None = None
    radio: bool = False
    key: str | None = None
    option: str | None = None
    url: str | None = None
    appears: str | None = None
    text: str | None = None  # the author's sentence
    destructive: bool = False
    expect_appears: str | None = None
    leads_to: str | None = None  # the URL pattern a navigation right after it went to
    open_for_navigation: bool = False
    outside: bool = False  # in an iframe of another origin: the visitor does it
    at_ms: float | None = None  # when the page sent its first event (the wall clock, ms)

    def auto_text(self) -> str:
        text = self._auto_text()
        if self.outside:
            return text.rstrip(".") + ", in the embedded frame. You do this yourself."
        return text

    def _auto_text(self) -> str:
        label = markup(self.label)
        if self.kind == "click":
            return f"Click **{label}**."
        if self.kind == "fill":
            template = _PRIVATE_TEXT.get(self.private or "", "Type your value in **{label}**.")
            if not self.private:
                template = "Type in **{label}**."
            return template.format(label=label)
        if self.kind == "select":
            if self.private:
                return f"Choose your option in **{label}**."
            return f"Choose **{markup(self.option or self.value or '')}** in **{label}**."
        if self.kind == "check":
            if self.private:
                return f"Tick **{label}** if it applies to you."
            if self.radio:
                return f"Choose **{label}**."
            return f"{'Tick' if self.checked else 'Untick'} **{label}**."
        if self.kind == "press":
            where = f" in **{label}**" if self.target else ""
            return f"Press **{self.key}**{where}."
        if self.kind == "upload":
            return f"Choose the file to upload with **{label}**. You do this yourself."
        if self.kind == "captcha":
            return "Complete the check that you are not a robot. You do this yourself."
        if self.kind == "hover":
            return f"Point at **{label}** to open it."
        if self.url is None:
            return f"Open the page at **{markup(self.label)}** yourself."
        return f"Go to **{markup(self.url)}**."

    def step_id(self) -> str:
        verb = {
            "click": "click",
            "fill": "enter",
            "select": "choose",
            "check": "tick",
            "press": "press",
            "upload": "upload",
            "captcha": "captcha",
            "hover": "open",
            "navigate": "go-to",
        }[self.kind]
        if self.kind == "captcha":
            return "captcha"
        what = self.key if self.kind == "press" else self.label
        return slug(f"{verb}-{what}")

    def action(self) -> dict[str, Any] | None:
        if self.outside or (self.private and self.kind in ("fill", "select", "check")):
            return None  # the visitor does it: nothing of it may be written
        if self.kind == "click":
            return {"kind": "click"}
        if self.kind == "fill":
            return (
                None
                if self.private or self.value is None
                else {"kind": "fill", "value": self.value}
            )
        if self.kind == "select":
            return {"kind": "select", "value": self.value or ""}
        if self.kind == "check":
            return {"kind": "check", "checked": bool(self.checked)}
        if self.kind == "press":
            return {"kind": "press", "key": self.key}
        if self.kind == "hover":
            return {"kind": "hover"}
        if self.kind == "navigate":
            return {"kind": "navigate", "url": self.url} if self.url else None
        return None  # upload, captcha: the visitor does it

    def advance(self) -> dict[str, Any] | None:
        if self.leads_to:
            return {"after": "url", "url": self.leads_to}
        if self.outside:
            return None  # the Next button: nothing here can be watched
        if self.kind == "hover" and self.appears:
            return {"after": "appears", "selector": self.appears}
        if self.kind in ("fill", "upload") or (self.private and self.kind in ("select", "check")):
            return {"after": "input"}
        if self.kind == "click":
            return {"after": "click"}
        if self.kind == "navigate" and self.url is None:
            return {"after": "url", "url": self.label}
        return None  # the Next button

    def expect(self) -> dict[str, Any] | None:
        out: dict[str, Any] = {}
        if self.leads_to:
            out["url"] = self.leads_to
        if self.expect_appears:
            out["appears"] = self.expect_appears
        if (
            self.kind == "select"
            and self.value is not None
            and not self.private
            and not self.expect_appears
        ):
            out["value"] = self.value
        return out or None

    def render(self, step_id: str) -> dict[str, Any]:
        step: dict[str, Any] = {"id": step_id, "text": self.text or self.auto_text()}
        if self.target is not None and not self.outside:
            step["target"] = self.target
        for key, value in (
            ("action", self.action()),
            ("advance", self.advance()),
            ("expect", self.expect()),
        ):
            if value is not None:
                step[key] = value
        if self.destructive:
            step["destructive"] = True
        return step


def _text(event: dict[str, Any], key: str, limit: int = 1000) -> str | None:
    value = event.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadEvent(f"{event.get('type')} event: {key} is not text")
    return value[:limit]


_URL_IN_SELECTOR = re.compile(r"(href|action|src)[~|^$*]?=[\"']?[^\"'\]]*[?#]")


def _target(event: dict[str, Any]) -> dict[str, Any]:
    """The event's target descriptor, again without link queries (the page already left them
    out; a page's script could have sent anything)."""
    target = event.get("target")
    if not isinstance(target, dict) or not isinstance(target.get("candidates"), list):
        raise BadEvent(f"{event.get('type')} event without a target descriptor")
    candidates = [
        c
        for c in target["candidates"]
        if isinstance(c, dict) and not _URL_IN_SELECTOR.search(str(c.get("value", "")))
    ]
    if not candidates:
        raise BadEvent(f"{event.get('type')} event: no candidate matches the element alone")
    out: dict[str, Any] = {"candidates": candidates}
    fingerprint = target.get("fingerprint")
    if isinstance(fingerprint, dict):
        attributes = fingerprint.get("attributes")
        if isinstance(attributes, dict):
            for key in ("href", "action", "src"):
                if isinstance(attributes.get(key), str) and "?" in attributes[key]:
                    base = "https://x.invalid" if attributes[key].startswith("/") else ""
                    attributes[key] = redact_url(base + attributes[key]).removeprefix(base)
        out["fingerprint"] = fingerprint
    return out


@dataclass
class Composer:
    """The recording: steps so far, and what the next event may change."""

    walkthrough_id: str
    process: str | None = None
    title: str | None = None
    start_url: str | None = None
    drafts: list[Draft] = field(default_factory=list)
    private_names: set[str] = field(default_factory=set)
    private_targets: list[dict[str, Any]] = field(default_factory=list)  # marked fields' candidates
    skipped: list[str] = field(default_factory=list)
    finished: bool = False
    message: str = ""
    _url: str | None = None
    _page: tuple[str | None, str | None] = (None, None)  # the current page's process and title
    _named: tuple[bool, bool] = (False, False)  # process and title given by the author
    _restarted_at_ms: float | None = None  # when the author last pressed Start here

    def __post_init__(self) -> None:
        self._named = (self.process is not None, self.title is not None)

    # -- the page's events ------------------------------------------------------------------

    def start(self, url: str) -> None:
        """The page the recording starts on."""
        self.start_url = site_path(url)
        self._url = path_pattern(url)

    def event(self, event: dict[str, Any]) -> None:
        """One event from the page; a malformed one is skipped and remembered in ``skipped``."""
        kind = event.get("type")
        handler = getattr(self, f"_on_{kind}", None) if isinstance(kind, str) else None
        if handler is None:
            self.skipped.append(f"unknown event type {kind!r}")
            return
        before = len(self.drafts)
        at = event.get("at")
        try:
            handler(event)
        except BadEvent as exc:
            self.skipped.append(str(exc))
            self.message = f"Not recorded: {exc}."
            return
        if len(self.drafts) > before and isinstance(at, int | float) and not isinstance(at, bool):
            self.drafts[-1].at_ms = float(at)
        if self.drafts and len(self.drafts) >= before and kind not in ("command", "pick"):
            self._check_last(added=len(self.drafts) > before)

    def _check_last(self, *, added: bool) -> None:
        """The last step must be a valid step: one that is not is dropped (and said) now,
        rather than failing the whole recording at Finish."""
        last = self.drafts[-1]
        try:
            Step.model_validate(last.render(last.step_id()))
        except ValidationError as exc:
            reason = str(exc.errors()[0].get("msg", "invalid")) if exc.errors() else "invalid"
            self.skipped.append(f"{last.kind} step not kept: {reason}")
            self.message = f"Not recorded: {reason}."
            if added:
                self.drafts.pop()
            else:
                last.value = None

    def navigated(
        self, url: str, *, by_page: bool = True, position: int | None = None,
        at_ms: float | None = None,
    ) -> None:  # fmt: skip
        """The top frame is on a new URL (a full load or an SPA route change). ``by_page``: the
        page navigated (a link, a form, a script, an SPA route), not the author typing an
        address. ``position``: how many steps there were when it happened (events may have
        come in since); ``at_ms``: when it happened — a step that came in since but happened
        before it (in another frame, whose events travel on their own) still goes before it."""
        if (
            at_ms is not None
            and self._restarted_at_ms is not None
            and at_ms < self._restarted_at_ms
        ):
            return  # from before the author pressed Start here: the start is the page they were on
        at = len(self.drafts) if position is None else min(position, len(self.drafts))

        def happened_before(draft: Draft) -> bool:
            return at_ms is not None and draft.at_ms is not None and draft.at_ms <= at_ms

        while at < len(self.drafts) and happened_before(self.drafts[at]):
            at += 1
        if self.start_url is None or at == 0:
            self.start(url)  # a redirect (to sign in, say) before the first step moves the start
            return
        pattern = path_pattern(url)
        if pattern == self._url:
            return
        self._url = pattern
        before = self.drafts[at - 1]
        if by_page and before.open_for_navigation:
            before.leads_to = pattern  # a redirect after it: the last URL is where it led
            return
        # An address with an id or token in its path is the author's own: the visitor goes there.
        address = site_path(url, frozenset(self.private_names)) if fixed_path(url) else None
        draft = Draft("navigate", label=pattern, url=address)
        draft.open_for_navigation = at == len(self.drafts)
        if len(self.drafts) < MAX_STEPS:
            self.drafts.insert(at, draft)

    def _ref(self, event: dict[str, Any]) -> tuple[str, int] | None:
        frame, ref = event.get("frame"), event.get("ref")
        return (frame, ref) if isinstance(frame, str) and isinstance(ref, int) else None

    def _label(self, event: dict[str, Any]) -> str:
        return (_text(event, "label", 80) or "this").strip() or "this"

    def _add(self, draft: Draft) -> Draft:
        if len(self.drafts) >= MAX_STEPS:
            raise BadEvent(f"a walkthrough has at most {MAX_STEPS} steps")
        for earlier in self.drafts:
            earlier.open_for_navigation = False
        self.drafts.append(draft)
        self.message = ""
        return draft

    def _new(self, kind: str, event: dict[str, Any], **fields: Any) -> Draft:
        """A step for an element event (in an iframe of another origin: one the visitor does)."""
        draft = Draft(kind, self._label(event), _target(event), self._ref(event), **fields)
        draft.outside = event.get("cross_origin") is True
        return self._add(draft)

    def _marked(self, target: dict[str, Any] | None) -> bool:
        """Whether a target is one of the fields the author marked private (any page)."""
        if target is None or not self.private_targets:
            return False
        return any(c in self.private_targets for c in target.get("candidates", []))

    def _last(self, kind: str, ref: tuple[str, int] | None) -> Draft | None:
        last = self.drafts[-1] if self.drafts else None
        if last is not None and last.kind == kind and ref is not None and last.ref == ref:
            return last
        return None

    def _on_navigating(self, event: dict[str, Any]) -> None:
        """The page is about to navigate (the shell matches it with the navigation itself)."""

    def _on_hello(self, event: dict[str, Any]) -> None:
        """A page loaded: its process marker and title, the walkthrough's unless the author
        named them (the first page's; the page where the author pressed Start here)."""
        process = _text(event, "process", 64)
        title = (_text(event, "title", 200) or "").strip()
        self._page = (slug(process, 63) if process else None, title or None)
        if not self._named[0] and self.process is None and process:
            self.process = self._page[0]
        if not self._named[1] and self.title is None and title:
            self.title = title

    def _on_click(self, event: dict[str, Any]) -> None:
        draft = self._new("click", event)
        draft.open_for_navigation = True

    def _on_input(self, event: dict[str, Any]) -> None:
        ref = self._ref(event)
        private = _text(event, "private", 40)
        typed = None if private else _text(event, "value", 100_000)
        draft = self._last("fill", ref) or self._new("fill", event)
        if self._marked(draft.target):
            private = private or "marked"
        if private and ref is not None:
            self.forget_value(
                ref, private
            )  # and what the same field got before (a half-typed card)
        draft.private = draft.private or private
        draft.value = None if draft.private or typed is None else fill_value(typed)
        if typed is not None and draft.value is None and not draft.private:
            self.message = "That value cannot be kept as it is: the visitor types their own."

    def _on_select(self, event: dict[str, Any]) -> None:
        ref = self._ref(event)
        private = _text(event, "private", 40)
        value, option = _text(event, "value") or "", _text(event, "option", 80)
        draft = self._last("select", ref) or self._new("select", event)
        marked = "marked" if self._marked(draft.target) else None
        draft.private = draft.private or private or marked
        draft.value, draft.option = (None, None) if draft.private else (value, option)
        draft.open_for_navigation = True

    def _on_check(self, event: dict[str, Any]) -> None:
        ref = self._ref(event)
        draft = self._last("check", ref) or self._new("check", event)
        draft.private = draft.private or _text(event, "private", 40)
        draft.checked = bool(event.get("checked"))
        draft.radio = bool(event.get("radio"))
        draft.open_for_navigation = True

    def _on_press(self, event: dict[str, Any]) -> None:
        key = _text(event, "key", 20)
        if key not in ("Enter", "Tab", "Escape"):
            raise BadEvent(f"press event: key {key!r} is not recorded")
        ref = self._ref(event)
        last = self.drafts[-1] if self.drafts else None
        if (
            key == "Tab"
            and last is not None
            and last.ref == ref
            and last.kind in ("fill", "select", "check")
        ):
            return  # moving on to the next field
        if event.get("target") is not None:
            draft = self._new("press", event, key=key)
        else:
            draft = self._add(Draft("press", "", None, ref, key=key))
        draft.open_for_navigation = True

    def _on_submit(self, event: dict[str, Any]) -> None:
        names = event.get("private_names") or []
        if not isinstance(names, list):
            raise BadEvent("submit event: private_names is not a list")
        self.private_names.update(str(n)[:100] for n in names)
        if self.drafts and self.drafts[-1].kind in ("click", "press"):
            self.drafts[-1].open_for_navigation = True

    def _on_upload(self, event: dict[str, Any]) -> None:
        self._new("upload", event)

    def _on_captcha(self, event: dict[str, Any]) -> None:
        self._new("captcha", event)

    def _on_error(self, event: dict[str, Any]) -> None:
        """The capture failed on an event (the page went on): said, not recorded."""
        where, message = _text(event, "where", 40), _text(event, "message", 300)
        self.skipped.append(f"capture error on {where}: {message}")

    def _on_hover(self, event: dict[str, Any]) -> None:
        appears = _text(event, "appears", 1000)
        self._new("hover", event, appears=appears)

    def _on_pick(self, event: dict[str, Any]) -> None:
        purpose = event.get("purpose")
        if purpose == "cancel":
            self.message = "Cancelled."
        elif purpose == "expect":
            selector = _text(event, "selector")
            if not selector:
                self.message = (
                    "That element has no stable selector: pick another one (or a parent)."
                )
            else:
                self.expect_visible(selector)
        elif purpose == "private":
            if event.get("not_field"):
                self.message = "That is not a field: click the field itself (or its label)."
                return
            candidates = event.get("candidates")
            if isinstance(candidates, list):
                self.private_targets.extend(
                    c for c in candidates if isinstance(c, dict) and c not in self.private_targets
                )
            self.forget_value(self._ref(event))
            for draft in self.drafts:
                if self._marked(draft.target) and draft.kind in ("fill", "select", "check"):
                    draft.private, draft.value, draft.option = "marked", None, None
            self.message = f"{self._label(event)}: its value will never be written."
        else:
            raise BadEvent(f"pick event: unknown purpose {purpose!r}")

    def _on_command(self, event: dict[str, Any]) -> None:
        command = event.get("command")
        if command == "text":
            self.say(_text(event, "text", 2000) or "")
        elif command == "destructive":
            self.mark_destructive(bool(event.get("on")))
        elif command == "undo":
            self.undo()
        elif command == "restart":
            self.restart(_text(event, "url", 4000) or "")
            at = event.get("at")
            if isinstance(at, int | float) and not isinstance(at, bool):
                self._restarted_at_ms = float(at)
        elif command == "finish":
            self.finished = True
            self.message = "Finished: writing the walkthrough…"
        else:
            raise BadEvent(f"unknown command {command!r}")

    # -- the author's commands ----------------------------------------------------------------

    def _require_last(self) -> Draft | None:
        if not self.drafts:
            self.message = "No step yet: do something on the page first."
            return None
        return self.drafts[-1]

    def say(self, text: str) -> None:
        """The last step's sentence, as the visitor will read it."""
        last = self._require_last()
        if last is None:
            return
        try:
            last.text = check_text(text.strip()) if text.strip() else None
        except ValueError as exc:
            self.message = f"Not saved: {exc}"
            return
        self.message = "Saved."

    def mark_destructive(self, on: bool = True) -> None:
        """Drive mode asks the visitor before doing the last step."""
        last = self._require_last()
        if last is not None:
            last.destructive = on

    def expect_visible(self, selector: str) -> None:
        """After the last step, this element should be visible."""
        last = self._require_last()
        if last is not None:
            last.expect_appears = selector
            self.message = f"Expects {selector}."

    def forget_value(self, ref: tuple[str, int] | None, reason: str = "marked") -> None:
        """A field's value must never be written: drop it from every step that typed it (the
        last step when ``ref`` is None)."""
        chosen = self.drafts[-1:] if ref is None else [d for d in self.drafts if d.ref == ref]
        for draft in chosen:
            if draft.kind in ("fill", "select", "check"):
                draft.private = draft.private or reason
                draft.value, draft.option = None, None

    def restart(self, url: str) -> None:
        """Forget every step: the walkthrough starts here (after signing in, say)."""
        if not url.startswith(("http://", "https://")):
            raise BadEvent("restart: the page's URL is missing")
        self.drafts.clear()
        self.start(url)
        if not self._named[0]:
            self.process = self._page[0]
        if not self._named[1]:
            self.title = self._page[1]
        self.message = "Starting here: do the task."

    def undo(self) -> None:
        """Take the last step back."""
        if self.drafts:
            self.drafts.pop()
            self.message = "Last step removed."
        else:
            self.message = "Nothing to undo."

    # -- the result -------------------------------------------------------------------------

    def steps(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        used: set[str] = set()
        for draft in self.drafts:
            base = draft.step_id()
            step_id, n = base, 2
            while step_id in used:
                step_id, n = f"{base[:58]}-{n}", n + 1
            used.add(step_id)
            out.append(draft.render(step_id))
        return out

    def state(self) -> dict[str, Any]:
        """What the toolbar shows."""
        last = None
        if self.drafts:
            draft = self.drafts[-1]
            last = {
                "number": len(self.drafts),
                "id": self.steps()[-1]["id"],
                "text": draft.text or draft.auto_text(),
                "destructive": draft.destructive,
                "expect": draft.expect_appears,
                "private": bool(draft.private),
            }
        return {
            "count": len(self.drafts),
            "last": last,
            "message": self.message,
            "finished": self.finished,
            "private_targets": self.private_targets,
        }

    def walkthrough(self) -> dict[str, Any]:
        """The walkthrough file's content (validate it before writing)."""
        content: dict[str, Any] = {
            "id": self.walkthrough_id,
            "title": self.title or self.walkthrough_id.replace("-", " ").capitalize(),
            "version": 1,
            "process": self.process or self.walkthrough_id,
            "description": "Recorded with tandem record.",
        }
        if self.start_url:
            content["applies"] = {"urls": [path_pattern(self.start_url)]}
        content["steps"] = self.steps()
        return content
