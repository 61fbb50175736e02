"""The walkthrough file's text, as the recorder writes it: short lists and maps of scalars on
one line (candidates, positions), the rest as blocks."""

from __future__ import annotations

from typing import Any

import yaml


class _Dumper(yaml.SafeDumper):
    """Short lists and maps of scalars on one line (candidates, positions), the rest as blocks."""


def _represent_dict(dumper: yaml.SafeDumper, data: dict[str, Any]) -> yaml.Node:
    flat = len(data) <= 4 and all(
        isinstance(v, (str, int, float, bool)) or v is None for v in data.values()
    )
    return dumper.represent_mapping("tag:yaml.org,2002:map", data.items(), flow_style=flat)


def _represent_list(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.Node:
    flat = all(isinstance(v, str) for v in data) and sum(len(v) for v in data) < 80
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flat)


_Dumper.add_representer(dict, _represent_dict)
_Dumper.add_representer(list, _represent_list)


def to_yaml(content: dict[str, Any], *, when: str = "") -> str:
    """The walkthrough file's text."""
    head = f"# Recorded with tandem record{' on ' + when if when else ''}. Typed secrets were never captured.\n"
    body = yaml.dump(content, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=110)
    return head + body
