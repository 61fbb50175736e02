"""The server's re-check of the mirror: nothing secret or dangerous is relayed to agents.

The visitor's browser records the page with rrweb and masks it before sending
(client_js/src/cobrowse/recorder.js and scrub.js): form values become a fixed
MASK, private fields are blocked, text inside ``[data-tandem-mask]`` is masked.
A modified client could skip all of that, so the server applies the same rules
again to every event before an agent sees it, and a few more that keep the
agent's replay inert (no event handlers, no script URLs, no redirects, no
scripts, no custom or plugin events).

To judge a mutation or an input event the scrubber must know the node it
targets: it keeps a registry, id → ``NodeInfo``, built from each full snapshot
(which starts it afresh) and from the nodes mutations add and remove. An event
about a node it does not know is treated as the worst case. What changed of
the registry (``take_changes``) goes into the stream with the events, so that
agents' actions can be checked wherever the stream is read
(``server.cobrowse.nodes``).

Pure: no I/O, no clock. The caller's events are never changed; what changes is copied.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from server.cobrowse.nodes import Fact, NodeChanges
from server.knowledge.location import redact_url

#: What the browser sends for a masked field's value: fixed, so not even its length is told.
MASK = "********"

# Event types (rrweb v2).
DOM_CONTENT_LOADED = 0
LOAD = 1
FULL_SNAPSHOT = 2
INCREMENTAL = 3
META = 4
# Incremental sources handled here; every other source passes unchanged.
MUTATION = 0
INPUT = 5
# Serialized node types (rrweb-snapshot).
DOCUMENT, DOCUMENT_TYPE, ELEMENT, TEXT, CDATA, COMMENT = range(6)
_NODE_TAGS = {
    DOCUMENT: "#document",
    DOCUMENT_TYPE: "#doctype",
    TEXT: "#text",
    CDATA: "#cdata-section",
    COMMENT: "#comment",
}

FIELDS = frozenset({"input", "textarea", "select", "option"})
#: Text an element carries in attributes: gone from masked elements (fields also lose placeholder).
MASKED_TEXT_ATTRIBUTES = frozenset(
    {
        "title",
        "aria-label",
        "aria-description",
        "aria-valuetext",
        "aria-placeholder",
        "aria-roledescription",
    }
)
FIELD_TEXT_ATTRIBUTES = MASKED_TEXT_ATTRIBUTES | {"placeholder"}
URL_ATTRIBUTES = frozenset(
    {
        "href",
        "src",
        "action",
        "formaction",
        "xlink:href",
        "poster",
        "data",
        "background",
        "cite",
        "ping",
    }
)
#: URL attributes whose query values are redacted (the rest are only checked for script URLs).
REDACTED_URL_ATTRIBUTES = frozenset({"href", "src", "action", "formaction"})
SCRIPT_URL_PREFIXES = ("javascript:", "vbscript:", "data:text/html")
#: All a private element keeps: its box (rrweb's placeholder) and class (plus a type that is not hidden).
PRIVATE_KEEPS = frozenset({"class", "rr_width", "rr_height"})

_DROP = object()  # an attribute's cleaned "value": remove it


@dataclass(frozen=True)
class NodeInfo:
    """What the scrubber remembers of a node relayed to agents."""

    tag: str  # lower-case tag name; "#text" for text nodes
    field: bool  # input / textarea / select / option
    masked: bool  # its value or text must be masked (every form field; anything inside [data-tandem-mask])
    private: bool  # never relayed / never controlled


_ROOT = NodeInfo("#root", field=False, masked=False, private=False)
#: A node the registry does not know: every text-bearing attribute goes (as for a hidden field).
_UNKNOWN = NodeInfo("", field=True, masked=True, private=False)


class MirrorScrubber:
    """Re-checks one mirror stream's events; keep one per stream (it remembers the stream's nodes)."""

    def __init__(self) -> None:
        self._nodes: dict[int, NodeInfo] = {}
        self._parent: dict[int, int] = {}
        self._children: dict[int, set[int]] = {}
        self._detached: list[dict[str, Any]] = []  # removes owed to the agent, per mutation
        # What changed of the registry since ``take_changes`` (a node's latest state; None: gone).
        self._journal: dict[int, NodeInfo | None] = {}
        self._journal_reset = True  # a new registry: what it becomes is all there is

    def reset(self) -> None:
        """Forget every node (a new full snapshot starts)."""
        self._nodes.clear()
        self._parent.clear()
        self._children.clear()
        self._journal.clear()
        self._journal_reset = True

    def take_changes(self) -> NodeChanges:
        """What became of the registry (tags, privacy, nodes gone) since the last call."""
        journal, reset = self._journal, self._journal_reset
        self._journal, self._journal_reset = {}, False
        return NodeChanges(
            reset=reset,
            known={i: Fact(n.tag, n.private) for i, n in journal.items() if n is not None},
            gone=frozenset(i for i, n in journal.items() if n is None),
        )

    def node(self, node_id: int) -> NodeInfo | None:
        """What is known of a relayed node, or None."""
        return self._nodes.get(node_id)

    def scrub(self, events: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
        """The events safe to relay, and how many things were removed or masked."""
        out: list[dict[str, Any]] = []
        count = 0
        for event in events:
            kept, removed = self._event(event)
            out.extend(kept)
            count += removed
        return out, count

    # -- events ---------------------------------------------------------------------------

    def _event(self, event: Any) -> tuple[list[dict[str, Any]], int]:
        if not isinstance(event, dict) or not _is_int(event.get("type")):
            return [], 1
        kind = event["type"]
        data = event.get("data")
        if kind in (DOM_CONTENT_LOADED, LOAD):
            return [event], 0
        if not isinstance(data, dict):
            return [], 1
        if kind == META:
            return _meta(event, data)
        if kind == FULL_SNAPSHOT:
            return self._full_snapshot(event, data)
        if kind == INCREMENTAL:
            if data.get("source") == MUTATION:
                return self._mutation(event, data)
            if data.get("source") == INPUT:
                return self._input(event, data)
            return [event], 0
        return [], 1  # custom, plugin and unknown events: agents get none

    def _full_snapshot(
        self, event: dict[str, Any], data: dict[str, Any]
    ) -> tuple[list[dict[str, Any]], int]:
        self.reset()
        node, _, count = self._subtree(data.get("node"), _ROOT, None)
        if node is None:
            return [], count
        return [{**event, "data": {**data, "node": node}}], count

    def _input(
        self, event: dict[str, Any], data: dict[str, Any]
    ) -> tuple[list[dict[str, Any]], int]:
        node_id = _id(data.get("id"))
        info = None if node_id is None else self._nodes.get(node_id)
        if node_id is None or info is None or self._private(node_id):
            return [], 1
        text = data.get("text")
        if (info.masked or info.field) and not _masked_value(text):
            return [{**event, "data": {**data, "text": MASK}}], 1
        return [event], 0

    def _mutation(
        self, event: dict[str, Any], data: dict[str, Any]
    ) -> tuple[list[dict[str, Any]], int]:
        """In the order the replayer applies them: removes, adds, texts, attributes.

        Attributes that make a known node private or masked are taken into account first,
        so this mutation's adds under it are judged by what it has become.
        """
        self._detached = []
        removes, dropped_removes = _entries(data, "removes")
        for remove in removes:
            node_id = _id(remove.get("id"))
            if node_id is not None:
                self._forget(node_id)
        changes, dropped_changes = _entries(data, "attributes")
        for change in changes:
            self._update_flags(change)
        adds, dropped_adds = self._adds(*_entries(data, "adds"))
        texts, dropped_texts = self._texts(*_entries(data, "texts"))
        attributes, cleaned = self._attribute_changes(changes)
        count = dropped_removes + dropped_changes + dropped_adds + dropped_texts + cleaned
        scrubbed = {
            **data,
            "removes": removes,
            "adds": adds,
            "texts": texts,
            "attributes": attributes,
        }
        out = [{**event, "data": scrubbed}]
        if self._detached:
            # Children of a node that just became private: the agent's replay loses them.
            follow = {
                "source": MUTATION,
                "texts": [],
                "attributes": [],
                "removes": self._detached,
                "adds": [],
            }
            out.append({**event, "data": follow})
            count += len(self._detached)
            self._detached = []
        return out, count

    # -- mutation entries -----------------------------------------------------------------

    def _adds(self, adds: list[dict[str, Any]], count: int) -> tuple[list[dict[str, Any]], int]:
        """Each add judged under its parent; an add whose parent comes later in the list waits for it."""
        placed: dict[int, dict[str, Any]] = {}
        waiting: dict[int, list[int]] = {}
        for index, add in enumerate(adds):
            parent_id = _id(add.get("parentId"))
            if parent_id is None:
                count += 1
                continue
            waiting.setdefault(parent_id, []).append(index)
            ready = [parent_id] if parent_id in self._nodes else []
            while ready:
                for waiter in waiting.pop(ready.pop(), []):
                    out, new_ids, removed = self._add(adds[waiter])
                    count += removed
                    if out is not None:
                        placed[waiter] = out
                    ready.extend(new_ids)
        count += sum(len(indexes) for indexes in waiting.values())  # parents never relayed
        return [placed[index] for index in sorted(placed)], count

    def _add(self, add: dict[str, Any]) -> tuple[dict[str, Any] | None, list[int], int]:
        parent_id: int = add["parentId"]
        parent = self._nodes.get(parent_id)  # gone again if an add before made its parent private
        if parent is None or parent.private or parent.tag == "script":
            return None, [], 1  # their children are never relayed
        node, new_ids, count = self._subtree(add.get("node"), parent, parent_id)
        if node is None:
            return None, [], count
        return {**add, "node": node}, new_ids, count

    def _texts(self, texts: list[dict[str, Any]], count: int) -> tuple[list[dict[str, Any]], int]:
        out = []
        for entry in texts:
            node_id = _id(entry.get("id"))
            info = None if node_id is None else self._nodes.get(node_id)
            if node_id is not None and info is not None and self._private(node_id):
                count += 1
                continue
            if info is None or info.masked:  # an unknown node's text may be anyone's
                value, masked = _mask_text(entry.get("value"))
                if masked:
                    entry = {**entry, "value": value}
                    count += 1
            out.append(entry)
        return out, count

    def _attribute_changes(self, changes: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
        out = []
        count = 0
        for change in changes:
            node_id = _id(change.get("id"))
            attributes = change.get("attributes")
            if node_id is None or not isinstance(attributes, dict):
                count += 1
                continue
            self._update_flags(change)  # for nodes this mutation added
            info = self._nodes.get(node_id, _UNKNOWN)
            cleaned, removed = _clean_attributes(info, attributes, unknown=info is _UNKNOWN)
            out.append({**change, "attributes": cleaned})
            count += removed
        return out, count

    def _update_flags(self, change: dict[str, Any]) -> None:
        """An attribute change may make a known node private or masked; neither is ever undone."""
        node_id = _id(change.get("id"))
        attributes = change.get("attributes")
        info = None if node_id is None else self._nodes.get(node_id)
        if node_id is None or info is None or not isinstance(attributes, dict):
            return
        present = _present(attributes)
        private = info.private or _declares_private(info.tag, present)
        masked = info.masked or private or _masks(present)
        self._set(node_id, replace(info, private=private, masked=masked))

    # -- serialized nodes -----------------------------------------------------------------

    def _subtree(
        self, root: Any, parent: NodeInfo, parent_id: int | None
    ) -> tuple[dict[str, Any] | None, list[int], int]:
        """A scrubbed copy of a serialized subtree (None if dropped); the ids registered; the count.

        Iterative, so a deeply nested page cannot exhaust the stack.
        """
        top: list[dict[str, Any]] = []
        stack: list[tuple[Any, NodeInfo, int | None, list[dict[str, Any]]]] = [
            (root, parent, parent_id, top)
        ]
        new_ids: list[int] = []
        count = 0
        while stack:
            node, above, above_id, siblings = stack.pop()
            scrubbed = self._node(node, above)
            if scrubbed is None:
                count += 1
                continue
            out, info, removed = scrubbed
            count += removed
            node_id: int = node["id"]
            siblings.append(out)
            self._register(node_id, info, above_id)
            new_ids.append(node_id)
            if "childNodes" not in node:
                continue
            children = node["childNodes"]
            kept: list[dict[str, Any]] = []
            out["childNodes"] = kept
            if not isinstance(children, list):
                count += 1
            elif info.private or info.tag == "script":
                count += len(children)  # never relayed
            else:
                stack.extend((child, info, node_id, kept) for child in reversed(children))
        return (top[0] if top else None), new_ids, count

    def _node(self, node: Any, parent: NodeInfo) -> tuple[dict[str, Any], NodeInfo, int] | None:
        """One node's scrubbed copy (children not yet done), what it is, and the count; None: drop it."""
        if (
            not isinstance(node, dict)
            or not _is_int(node.get("id"))
            or not _is_int(node.get("type"))
        ):
            return None
        kind = node["type"]
        if kind == ELEMENT:
            return self._element(node, parent)
        if kind in (TEXT, CDATA, COMMENT):
            return _character_data(node, parent)
        if kind in (DOCUMENT, DOCUMENT_TYPE):
            info = NodeInfo(
                _NODE_TAGS[kind], field=False, masked=parent.masked, private=parent.private
            )
            return dict(node), info, 0
        return None

    def _element(
        self, node: dict[str, Any], parent: NodeInfo
    ) -> tuple[dict[str, Any], NodeInfo, int]:
        tag = str(node.get("tagName", "")).lower()
        attributes = node.get("attributes")
        attributes = attributes if isinstance(attributes, dict) else {}
        present = _present(attributes)
        private = parent.private or _declares_private(tag, present)
        masked = (
            parent.masked or tag in FIELDS or private or _masks(present)
        )  # a rich-text editor's text is what the visitor types
        info = NodeInfo(tag, field=tag in FIELDS, masked=masked, private=private)
        known = self._nodes.get(node["id"])  # a node moved: what it became stays
        if known is not None and known.tag == tag:
            info = replace(
                info, masked=info.masked or known.masked, private=info.private or known.private
            )
        cleaned, count = _clean_attributes(info, attributes)
        out = {**node, "attributes": cleaned}
        if tag == "script":
            out["tagName"] = "noscript"
        return out, info, count

    # -- the registry ---------------------------------------------------------------------

    def _register(self, node_id: int, info: NodeInfo, parent_id: int | None) -> None:
        old_parent = self._parent.pop(node_id, None)
        if old_parent is not None:
            self._children.get(old_parent, set()).discard(node_id)
        if parent_id is not None:
            self._parent[node_id] = parent_id
            self._children.setdefault(parent_id, set()).add(node_id)
        self._set(node_id, info)

    def _set(self, node_id: int, info: NodeInfo) -> None:
        """Record what a node is; a known node turned private loses its children, turned masked masks them."""
        old = self._nodes.get(node_id)
        self._nodes[node_id] = info
        if old is None or (old.tag, old.private) != (info.tag, info.private):
            self._journal[node_id] = info
        if old is None:
            return
        if info.private and not old.private:
            for child in sorted(self._children.get(node_id, ())):
                self._detached.append({"parentId": node_id, "id": child})
                self._forget(child)
        elif info.masked and not old.masked:
            self._mask_descendants(node_id)

    def _mask_descendants(self, node_id: int) -> None:
        stack = [node_id]
        seen = {node_id}  # a forged stream may make a node its own ancestor
        while stack:
            current = stack.pop()
            info = self._nodes.get(current)
            if info is None or info.tag == "style":
                continue  # style text stays readable
            for child in self._children.get(current, set()) - seen:
                seen.add(child)
                known = self._nodes.get(child)
                if known is not None:
                    self._nodes[child] = replace(known, masked=True)
                    stack.append(child)

    def _forget(self, node_id: int) -> None:
        """Drop a node and every descendant known."""
        parent_id = self._parent.pop(node_id, None)
        if parent_id is not None:
            self._children.get(parent_id, set()).discard(node_id)
        stack = [node_id]
        while stack:
            current = stack.pop()
            if self._nodes.pop(current, None) is not None:
                self._journal[current] = None
            self._parent.pop(current, None)
            stack.extend(self._children.pop(current, ()))

    def _private(self, node_id: int) -> bool:
        """The node, or its parent, is private."""
        info = self._nodes.get(node_id)
        parent = self._nodes.get(self._parent.get(node_id, -1))
        return (info is not None and info.private) or (parent is not None and parent.private)


# -- events without nodes -----------------------------------------------------------------


def _meta(event: dict[str, Any], data: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
    href = data.get("href")
    if not isinstance(href, str):
        return [event], 0
    redacted = _redact(href)
    clean = "" if redacted is _DROP else redacted
    if clean == href:
        return [event], 0
    return [{**event, "data": {**data, "href": clean}}], 1


def _entries(data: dict[str, Any], key: str) -> tuple[list[dict[str, Any]], int]:
    """A mutation's list of entries (dicts only), and how many were not."""
    value = data.get(key)
    if value is None:
        return [], 0
    if not isinstance(value, list):
        return [], 1
    entries = [entry for entry in value if isinstance(entry, dict)]
    return entries, len(value) - len(entries)


# -- nodes and attributes -----------------------------------------------------------------


def _character_data(node: dict[str, Any], parent: NodeInfo) -> tuple[dict[str, Any], NodeInfo, int]:
    """Text, CDATA and comments: masked inside a masked element (a style sheet's text excepted)."""
    style = node.get("isStyle") is True and parent.tag == "style"
    kind: int = node["type"]
    info = NodeInfo(
        _NODE_TAGS[kind], field=False, masked=parent.masked and not style, private=parent.private
    )
    if not info.masked:
        return dict(node), info, 0
    text, masked = _mask_text(node.get("textContent"))
    if not masked:
        return dict(node), info, 0
    return {**node, "textContent": text}, info, 1


def _clean_attributes(
    info: NodeInfo, attributes: Mapping[Any, Any], *, unknown: bool = False
) -> tuple[dict[Any, Any], int]:
    """A copy of an element's attributes (or an attribute change) under the rules; and the count."""
    present = _present(attributes)
    hidden = unknown or (info.tag == "input" and _word(present.get("type")) == "hidden")
    refresh = info.tag == "meta" and _word(present.get("http-equiv")) == "refresh"
    out: dict[Any, Any] = {}
    count = 0
    for name, value in attributes.items():
        clean = _clean_attribute(info, str(name).lower(), value, hidden=hidden, refresh=refresh)
        if clean is _DROP or clean != value:
            count += 1
        if clean is not _DROP:
            out[name] = clean
    return out, count


def _clean_attribute(info: NodeInfo, name: str, value: Any, *, hidden: bool, refresh: bool) -> Any:
    """The attribute's value to relay, or _DROP. None (the attribute was removed) stays."""
    if info.private:
        keep = name in PRIVATE_KEEPS or (name == "type" and not hidden)
        return value if keep else _DROP
    if value is None:
        return None
    if _dangerous(info.tag, name, value, refresh=refresh):
        return _DROP
    if info.field:
        if name in FIELD_TEXT_ATTRIBUTES:
            return _DROP
        if name == "value":
            return _DROP if hidden else (value if _masked_value(value) else MASK)
    elif info.masked and name in MASKED_TEXT_ATTRIBUTES:
        return _DROP
    if name in REDACTED_URL_ATTRIBUTES and isinstance(value, str):
        return _redact(value)
    if name in ("srcset", "imagesrcset") and isinstance(value, str):
        return _redact_srcset(value)
    if name == "style" and isinstance(value, str) and "url(" in value.lower():
        return _CSS_URL.sub(lambda m: _css_url(m), value)
    return value


def _masks(present: Mapping[str, Any]) -> bool:
    """The element masks its content: marked so, or editable by the visitor (``contenteditable``)."""
    editable = present.get("contenteditable")
    return "data-tandem-mask" in present or (
        editable is not None and _word(editable) not in ("false",)
    )


def _redact_srcset(value: str) -> Any:
    """Each candidate URL of a ``srcset`` without sensitive query values."""
    out = []
    for candidate in value.split(","):
        parts = candidate.strip().split(maxsplit=1)
        if not parts:
            continue
        url = _redact(parts[0])
        if url is _DROP:
            continue
        out.append(" ".join([str(url), *parts[1:]]))
    return ", ".join(out)


_CSS_URL = re.compile(r"""url\(\s*(['"]?)([^'")]*)\1\s*\)""", re.IGNORECASE)


def _css_url(match: re.Match[str]) -> str:
    url = match.group(2)
    if _script_url(url):
        return "url()"
    redacted = _redact(url) if "?" in url or "#" in url else url
    return f"url({match.group(1)}{'' if redacted is _DROP else redacted}{match.group(1)})"


def _dangerous(tag: str, name: str, value: Any, *, refresh: bool) -> bool:
    """Would run code, navigate or re-point the agent's replay."""
    return (
        name.startswith("on")
        or name == "srcdoc"
        or (name in URL_ATTRIBUTES and _script_url(value))
        or (tag == "base" and name in ("href", "target"))
        or (refresh and name in ("http-equiv", "content"))
        or (tag == "script" and name == "src")
    )


def _script_url(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    bare = "".join(ch for ch in value if not _blank(ch)).lower()
    return bare.startswith(SCRIPT_URL_PREFIXES)


def _blank(ch: str) -> bool:
    """Whitespace or a control character: browsers ignore some of these inside a URL's scheme."""
    return ch.isspace() or ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F


def _redact(url: str) -> Any:
    """The URL without sensitive query values; _DROP when it cannot even be parsed."""
    try:
        return redact_url(url)
    except ValueError:
        return _DROP


def _declares_private(tag: str, present: Mapping[str, Any]) -> bool:
    """Private by its own attributes: marked, blocked by rrweb, a password or a card / one-time-code field."""
    if "data-tandem-private" in present or "rr_width" in present:
        return True
    if tag == "input" and _word(present.get("type")) == "password":
        return True
    return any(_private_token(token) for token in _word(present.get("autocomplete")).split())


def _private_token(token: str) -> bool:
    return token == "one-time-code" or token.startswith("cc-") or token.endswith("-password")


def _present(attributes: Mapping[Any, Any]) -> dict[str, Any]:
    """The attributes set (not removed), by lower-case name."""
    return {str(name).lower(): value for name, value in attributes.items() if value is not None}


def _word(value: Any) -> str:
    return "" if value is None else str(value).strip().lower()


def _masked_value(value: Any) -> bool:
    """Nothing to mask: no value, an empty one, or one made of ``*`` only."""
    text = "" if value is None else str(value)
    return _only(text, "*")


def _mask_text(value: Any) -> tuple[Any, bool]:
    """Text as ``*`` (at most 8 of them), unless it is blank or masked already; and whether it changed."""
    if value is None:
        return None, False
    text = str(value)
    if _only(text, "*", blank=True):
        return value, False
    return "*" * min(len(text), len(MASK)), True


def _only(text: str, chars: Iterable[str], *, blank: bool = False) -> bool:
    allowed = set(chars)
    return all(ch in allowed or (blank and ch.isspace()) for ch in text)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _id(value: Any) -> int | None:
    """A node id, or None when the value is not one."""
    return value if _is_int(value) else None
