"""Editing a site's content files from the console: the same YAML files an author keeps in
version control, changed in place — only the value edited, every other byte (comments,
order, layout) as it was; ruamel.yaml says where the value is — and validated as a whole
before they replace the old ones: never a second copy that drifts.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from server.content import load_site
from server.knowledge.site import Site

PROCESSES_FILE = "processes.yaml"
SITE_FILE = "site.yaml"


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
    value = repr(float(threshold))
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


def set_site_value(folder: Path, keys: list[str], value: float) -> tuple[Any, Site]:
    """Set a value of ``site.yaml`` by its keys (``["frustration", "weights", "rage_click"]``).

    Only that value's text changes when it is there; a missing key is added as one line
    (with any missing mappings above it) under the nearest mapping that is there, indented
    like its keys; everything else stays byte for byte. Returns the value it had (None when
    absent) and the site as loaded from the new file. Raises ``ContentInvalid`` (the file left
    as it was) when the result would not load, ``ValueError`` when the place is written in
    flow style (``{…}``), which this does not rewrite.
    """
    path = folder / SITE_FILE
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    node: Any = _yaml().load(text)
    rendered = repr(float(value)) if isinstance(value, float) else str(value)
    depth = 0
    while depth < len(keys) - 1 and isinstance(node.get(keys[depth]), dict):
        node = node[keys[depth]]
        depth += 1
    if getattr(node, "fa", None) is not None and node.fa.flow_style():
        raise ValueError(
            f"{'.'.join(keys[:depth]) or 'the file'} is written as {{…}}: edit it by hand"
        )
    if depth == len(keys) - 1 and keys[-1] in node:
        before = node[keys[-1]]
        line, col = node.lc.value(keys[-1])
        kept = re.match(r"[^#\r\n]*?(?=\s*(#|$))", lines[line][col:])
        end = col + (kept.end() if kept else 0)
        lines[line] = lines[line][:col] + rendered + lines[line][end:]
    else:
        before = None
        missing = keys[depth:]
        if depth == 0:  # at the top level: appended at the end of the file
            at, indent = len(lines), 0
            if lines and not lines[-1].endswith("\n"):
                lines[-1] += "\n"
        else:
            first = next(iter(node))
            line, indent = node.lc.key(first)
            at = line  # before the mapping's first key: its own indentation
        block = [f"{' ' * (indent + 2 * i)}{key}:\n" for i, key in enumerate(missing[:-1])]
        block.append(f"{' ' * (indent + 2 * (len(missing) - 1))}{missing[-1]}: {rendered}\n")
        lines[at:at] = block
    site = _replace(folder, path, "".join(lines))
    return before, site


def _replace(
    folder: Path, path: Path, text: str, check: Callable[[Site], None] | None = None
) -> Site:
    """Check the site loads with ``text`` as ``path`` (and passes ``check``), then write it
    atomically; the new site."""
    with tempfile.TemporaryDirectory() as scratch:
        trial = Path(scratch) / folder.name
        shutil.copytree(folder, trial)
        (trial / path.name).write_text(text, encoding="utf-8")
        site = load_site(trial)  # raises ContentInvalid with file, line and field
        if check is not None:
            check(site)
    _write_atomically(path, text)
    return load_site(folder)


def _write_atomically(path: Path, text: str) -> None:
    """Write beside the file, flushed to disk, with its permissions, then rename over it (a
    symlinked file is written where it points); a failure leaves the file as it was."""
    target = path.resolve()
    mode = target.stat().st_mode & 0o7777 if target.exists() else 0o644
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


FAQ_FILE = "faq.yaml"


def save_faq_entry(folder: Path, entry: dict[str, Any], *, replacing: str | None = None) -> Site:
    """Add an FAQ entry to ``faq.yaml``, or replace the one whose id is ``replacing``.

    The file is written back by ruamel.yaml's round trip: its comments, key order, quoting
    and flow lists stay. Raises ``KeyError`` when ``replacing`` is not there, and
    ``ContentInvalid`` (the file left as it was) when the result would not load — an id
    used twice, an empty answer, an unknown process…
    """
    from ruamel.yaml.comments import CommentedMap, CommentedSeq
    from ruamel.yaml.scalarstring import (
        DoubleQuotedScalarString as Quoted,
    )  # as the file writes text

    path = folder / FAQ_FILE
    yaml = _round_trip()
    document: Any = yaml.load(path.read_text(encoding="utf-8")) if path.is_file() else None
    if document is None:
        document = CommentedMap(entries=CommentedSeq())
    entries = document.setdefault("entries", CommentedSeq())
    questions = CommentedSeq([Quoted(q) for q in entry["questions"]])
    questions.fa.set_flow_style()
    processes = CommentedSeq(entry.get("processes") or [])
    processes.fa.set_flow_style()
    fields = {
        "id": entry["id"],
        "questions": questions,
        "answer": entry["answer"],
        "processes": processes,
    }
    if replacing is None:
        entries.append(CommentedMap(fields))
    else:
        index = next((i for i, e in enumerate(entries) if e.get("id") == replacing), None)
        if index is None:
            raise KeyError(replacing)
        kept = entries[index]
        for key in list(kept):
            if key not in fields:
                del kept[key]
        for key, value in fields.items():
            kept[key] = value
    return _replace(folder, path, _dumped(yaml, document))


def delete_faq_entry(folder: Path, entry_id: str) -> Site:
    """Remove an FAQ entry from ``faq.yaml``; ``KeyError`` when it is not there."""
    path = folder / FAQ_FILE
    yaml = _round_trip()
    document: Any = yaml.load(path.read_text(encoding="utf-8"))
    entries = document.get("entries") or []
    index = next((i for i, e in enumerate(entries) if e.get("id") == entry_id), None)
    if index is None:
        raise KeyError(entry_id)
    del entries[index]
    return _replace(folder, path, _dumped(yaml, document))


def _round_trip() -> YAML:
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096  # long lines stay long: no re-wrapping of what the author wrote
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def _dumped(yaml: YAML, document: Any) -> str:
    import io

    out = io.StringIO()
    yaml.dump(document, out)
    return out.getvalue()


PERSONAE_FILE = "personae.yaml"


def save_persona(
    folder: Path, persona: str, *, name: str, avatar: str, voice: dict[str, str],
    select_when: list[Any] | None = None,
) -> Site:  # fmt: skip
    """Change a persona's name, avatar and voice lines in ``personae.yaml`` (a line left empty
    is removed: the default line is used); its role, skills and rules stay. Round trip, like
    the FAQ; ``KeyError`` for an unknown persona, ``ContentInvalid`` when it would not load."""
    from ruamel.yaml.comments import CommentedMap
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString as Quoted

    path = folder / PERSONAE_FILE
    yaml = _round_trip()
    document: Any = yaml.load(path.read_text(encoding="utf-8"))
    entry = next((p for p in document.get("personae") or [] if p.get("id") == persona), None)
    if entry is None:
        raise KeyError(persona)
    if entry.get("name") != name:
        entry["name"] = name
    if entry.get("avatar") != avatar:
        entry["avatar"] = Quoted(avatar)
    lines = entry.get("voice")
    if lines is None:
        lines = entry["voice"] = CommentedMap()
    for line, text in voice.items():
        if not text:
            lines.pop(line, None)
        elif lines.get(line) != text:
            lines[line] = Quoted(text)
    if not lines:
        del entry["voice"]
    if select_when is not None:  # who it is chosen for (none: anyone, the default persona)
        if select_when:
            entry["select_when"] = select_when
        else:
            entry.pop("select_when", None)
    return _replace(folder, path, _dumped(yaml, document))


def edit_site_list(
    folder: Path, key: str, *, add: Any = None, remove: Callable[[Any], bool] | None = None,
    check: Callable[[Site], None] | None = None,
) -> Site:  # fmt: skip
    """Add an item to a list of ``site.yaml`` (``allowed_origins``, ``signing_keys``), or remove
    the items ``remove`` picks; round trip, validated (and ``check``-ed) before it is written.
    ``KeyError`` when ``remove`` picks nothing."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    path = folder / SITE_FILE
    yaml = _round_trip()
    document: Any = yaml.load(path.read_text(encoding="utf-8"))
    items = document.get(key)
    if items is None:
        items = document[key] = CommentedSeq()
    if remove is not None:
        kept = [i for i, item in enumerate(items) if not remove(item)]
        if len(kept) == len(items):
            raise KeyError(key)
        for index in sorted(set(range(len(items))) - set(kept), reverse=True):
            del items[index]
    if add is not None:
        items.append(CommentedMap(add) if isinstance(add, dict) else add)
    return _replace(folder, path, _dumped(yaml, document), check)


def save_entry(
    folder: Path, file_name: str, list_key: str, fields: dict[str, Any], *,
    replacing: str | None = None, delete: bool = False,
) -> Site:  # fmt: skip
    """Add, change (``replacing``) or delete an entry of a list of ids (``roles``, ``skills``) in
    one of the site's files; round trip, validated first — an id still in use (a persona's
    role) or used twice is refused, the file left as it was. Lists are written in flow style
    (``[a, b]``), as the demo files write them. ``KeyError`` for an unknown ``replacing``."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    path = folder / file_name
    yaml = _round_trip()
    document: Any = yaml.load(path.read_text(encoding="utf-8"))
    entries = document.setdefault(list_key, CommentedSeq())
    index = next((i for i, e in enumerate(entries) if e.get("id") == replacing), None)
    if replacing is not None and index is None:
        raise KeyError(replacing)
    if delete and index is not None:
        del entries[index]
    else:
        values: dict[str, Any] = {}
        for key, value in fields.items():
            if isinstance(value, list):
                value = CommentedSeq(value)
                value.fa.set_flow_style()
            elif isinstance(value, dict):
                value = CommentedMap(value)
                value.fa.set_flow_style()
            values[key] = value
        if index is None:
            entries.append(CommentedMap({k: v for k, v in values.items() if v not in ("", [])}))
        else:
            kept = entries[index]
            for key, value in values.items():
                if value in ("", []):
                    kept.pop(key, None)
                else:
                    kept[key] = value
    return _replace(folder, path, _dumped(yaml, document))
