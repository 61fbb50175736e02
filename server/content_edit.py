"""Editing a site's content files from the console: the same YAML files an author keeps in
version control, changed in place — only the value edited, every other byte (comments,
order, layout) as it was; ruamel.yaml says where the value is — and validated as a whole
before they replace the old ones: never a second copy that drifts.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from server.content import load_site
from server.knowledge.site import Site

PROCESSES_FILE = "processes.yaml"


def _yaml() -> YAML:
    return YAML()  # round trip: it knows the line and column of every key and value


def set_process_threshold(
    folder: Path, process: str, threshold: float
) -> tuple[float | None, Site]:
    """Set a process's ``effectiveness_threshold`` in the site folder's ``processes.yaml``.

    Only that value's text changes (or one line is added after the process's ``id``);
    every other byte of the file stays. Returns the value it had (None: the site's default
    applied) and the site as loaded from the new files. Raises ``KeyError`` for an unknown
    process and ``ContentInvalid`` (leaving the files as they were) when the result would
    not load.
    """
    path = folder / PROCESSES_FILE
    text = path.read_text(encoding="utf-8")
    document: Any = _yaml().load(text)
    entry = next((p for p in document.get("processes") or [] if p.get("id") == process), None)
    if entry is None:
        raise KeyError(process)
    before = entry.get("effectiveness_threshold")
    lines = text.splitlines(keepends=True)
    value = f"{threshold:g}"
    if before is not None:
        line, col = entry.lc.value("effectiveness_threshold")
        rest = lines[line][col:]
        kept = re.match(r"[^#\r\n]*?(?=\s*(#|$))", rest)
        end = col + (kept.end() if kept else 0)
        lines[line] = lines[line][:col] + value + lines[line][end:]
    else:
        line, col = entry.lc.key("id")
        lines.insert(line + 1, f"{' ' * col}effectiveness_threshold: {value}\n")
    site = _replace(folder, path, "".join(lines))
    return (float(before) if before is not None else None), site


def _replace(folder: Path, path: Path, text: str) -> Site:
    """Check the site loads with ``text`` as ``path``, then write it atomically; the new site."""
    with tempfile.TemporaryDirectory() as scratch:
        trial = Path(scratch) / folder.name
        shutil.copytree(folder, trial)
        (trial / path.name).write_text(text, encoding="utf-8")
        load_site(trial)  # raises ContentInvalid with file, line and field
    fd, temporary = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(temporary, path)
    return load_site(folder)
