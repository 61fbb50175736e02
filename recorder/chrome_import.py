"""``tandem import chrome RECORDING.json``: a Chrome DevTools Recorder recording as a walkthrough.

Each click or change becomes a step whose target descriptor has the recording's selectors as
candidates, best first: a ``[data-testid=…]`` CSS becomes a ``testid`` candidate,
``aria/Name[role="r"]`` a ``role`` candidate (``aria/Name`` a ``label`` one), ``text/…`` a
``text`` one, ``xpath/…`` an ``xpath`` one, ``pierce/…`` and plain CSS ``css`` ones. The
visitor does each step (nothing is driven); a change asks them to type — the value the
recording holds is never written (recordings keep typed values verbatim, passwords
included). The first navigation gives where the walkthrough starts.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import yaml

_TESTID = re.compile(r"""^\[data-testid=["']?([^"'\]]+)["']?\]$""")
_ARIA = re.compile(r"""^(.*?)(?:\[role=["']([a-z]+)["']\])?$""")


def candidate(selector: str) -> dict[str, Any] | None:
    """One recording selector as a descriptor candidate (None when it says nothing usable)."""
    if selector.startswith("aria/"):
        name, role = _ARIA.match(selector[5:]).groups()  # type: ignore[union-attr]
        if not name:
            return None
        return (
            {"kind": "role", "value": role, "name": name}
            if role
            else {"kind": "label", "value": name}
        )
    if selector.startswith("text/"):
        return {"kind": "text", "value": selector[5:]} if selector[5:] else None
    if selector.startswith("xpath/"):
        return {"kind": "xpath", "value": selector[6:]}
    if selector.startswith("pierce/"):
        return {"kind": "css", "value": selector[7:]}
    found = _TESTID.match(selector)
    if found:
        return {"kind": "testid", "value": found.group(1)}
    return {"kind": "css", "value": selector}


def _candidates(step: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for group in step.get("selectors") or []:
        chain = group if isinstance(group, list) else [group]
        if (
            len(chain) != 1
        ):  # a path through frames or shadow roots: its last part names the element
            chain = chain[-1:]
        made = candidate(str(chain[0]))
        if made is not None and made not in out:
            out.append(made)
    rank = {"testid": 0, "role": 1, "label": 2, "text": 3, "css": 4, "xpath": 5}
    return sorted(out, key=lambda c: rank.get(c["kind"], 9))


def _name(candidates: list[dict[str, Any]]) -> str:
    for c in candidates:
        if c["kind"] in ("role", "label", "text"):
            return str(c.get("name") or c["value"])
    return "this"


def walkthrough(recording: dict[str, Any], *, walkthrough_id: str, process: str) -> dict[str, Any]:
    """The walkthrough file's content for a recording."""
    steps: list[dict[str, Any]] = []
    start = None
    for step in recording.get("steps") or []:
        kind = step.get("type")
        if kind == "navigate" and start is None:
            start = urlsplit(str(step.get("url", ""))).path or "/"
            continue
        if kind not in ("click", "change", "doubleClick"):
            continue
        candidates = _candidates(step)
        if not candidates:
            continue
        name = _name(candidates)
        entry: dict[str, Any] = {
            "id": f"step-{len(steps) + 1}",
            "target": {"candidates": candidates},
        }
        if kind == "change":
            entry["text"] = f"Type in **{name}**."
            entry["advance"] = {"after": "input"}
        else:
            entry["text"] = f"Click **{name}**."
            entry["advance"] = {"after": "click"}
        steps.append(entry)
    return {
        "id": walkthrough_id, "title": str(recording.get("title") or walkthrough_id), "version": 1,
        "process": process, "description": "Imported from a Chrome DevTools Recorder recording.",
        **({"applies": {"urls": [start]}} if start else {}),
        "steps": steps,
    }  # fmt: skip


def to_yaml(content: dict[str, Any]) -> str:
    head = "# Imported by tandem import chrome; typed values were left out.\n"
    return head + yaml.safe_dump(content, sort_keys=False, allow_unicode=True, width=100)
