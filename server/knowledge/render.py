"""A walkthrough version rendered for one visitor: what the player receives.

The persona's text is chosen where the step has one; action values are filled
from the visitor's traits in the sandbox. A value that cannot be filled (a
trait the visitor does not have) drops the action: the step becomes one the
visitor does, never one that types a blank. Branch conditions on traits are
decided here, so traits never reach the page: a branch whose trait matches
becomes ``{"when": {"always": true}}``, one that does not is left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from server.knowledge.markup import render_value
from server.knowledge.walkthrough import WalkthroughFile


def render_steps(
    walkthrough: WalkthroughFile, *, traits: Mapping[str, Any], persona: str | None = None
) -> list[dict[str, Any]]:
    """The steps as plain data for the wire, personalised for one visitor."""
    rendered = []
    for step in walkthrough.steps:
        data = step.model_dump(mode="json", exclude_none=True, exclude={"persona_text"})
        data["text"] = step.persona_text.get(persona, step.text) if persona else step.text
        action = data.get("action")
        if action is not None and "value" in action:
            try:
                action["value"] = render_value(action["value"], traits)
            except ValueError as exc:
                data.pop("action")
                data["action_dropped"] = str(exc)
        data["branches"] = _branches(data.get("branches", []), traits)
        rendered.append(data)
    return rendered


def _branches(branches: list[dict[str, Any]], traits: Mapping[str, Any]) -> list[dict[str, Any]]:
    kept = []
    for branch in branches:
        wanted = branch["when"].get("trait")
        if wanted is None:
            kept.append(branch)
        elif all(_trait_text(traits.get(k)) == v for k, v in wanted.items()):
            kept.append({"when": {"always": True}, "goto": branch["goto"]})
    return kept


def _trait_text(value: Any) -> str | None:
    """A trait as a condition compares it: booleans as ``true``/``false``, others as text."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
