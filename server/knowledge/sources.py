"""YAML sources with line numbers, and validation errors that name file, line and field.

Content (sites, processes, later walkthroughs and personae) is authored by
people in YAML. When it is wrong, the author needs the file, the line and the
field, not a traceback. This module parses YAML into plain data while keeping
the line of every mapping key and sequence item, then validates the data with
a pydantic model and turns each pydantic error into a ``ContentError``.

Pure: callers pass the text and the file name; nothing here reads files.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

Path = tuple[str | int, ...]
ModelT = TypeVar("ModelT", bound=BaseModel)


@dataclass(frozen=True)
class ContentError:
    """One problem in one content file."""

    file: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}"
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


class ContentInvalid(ValueError):
    """Raised when one or more content files are invalid; ``errors`` lists each problem."""

    def __init__(self, errors: Sequence[ContentError]) -> None:
        self.errors = list(errors)
        super().__init__("\n".join(str(e) for e in self.errors))


@dataclass(frozen=True)
class LocatedData:
    """Parsed YAML plus the 1-based line of every path in it."""

    file: str
    data: Any
    lines: dict[Path, int] = field(default_factory=dict)

    def line_of(self, path: Sequence[str | int]) -> int:
        """Line of the deepest known prefix of ``path`` (1 for the document itself)."""
        probe = tuple(path)
        while probe:
            if probe in self.lines:
                return self.lines[probe]
            probe = probe[:-1]
        return self.lines.get((), 1)


def format_path(path: Sequence[str | int]) -> str:
    """``("processes", 0, "goal")`` → ``processes[0].goal``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


class _Composer:
    def __init__(self, file: str) -> None:
        self.file = file
        self.lines: dict[Path, int] = {}
        self.errors: list[ContentError] = []
        # A SafeConstructor resolves scalars (ints, bools, dates) exactly as yaml.safe_load does.
        self._constructor = yaml.constructor.SafeConstructor()

    def convert(self, node: yaml.Node, path: Path) -> Any:
        self.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            result: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = self._constructor.construct_object(key_node)
                if not isinstance(key, str):
                    hint = (
                        " (YAML reads a bare on/off/yes/no as true/false: quote it)"
                        if isinstance(key, bool)
                        else ""
                    )
                    self._error(key_node, path, f"mapping keys must be strings{hint}")
                    continue
                if key in result:
                    self._error(key_node, (*path, key), f"duplicate key {key!r}")
                    continue
                self.lines[(*path, key)] = key_node.start_mark.line + 1
                result[key] = self.convert(value_node, (*path, key))
            return result
        if isinstance(node, yaml.SequenceNode):
            return [self.convert(item, (*path, i)) for i, item in enumerate(node.value)]
        return self._constructor.construct_object(node)

    def _error(self, node: yaml.Node, path: Path, message: str) -> None:
        line = node.start_mark.line + 1
        self.errors.append(ContentError(self.file, line, format_path(path), message))


def parse_yaml(text: str, file: str) -> LocatedData:
    """Parse one YAML document, keeping line numbers; raise ``ContentInvalid`` on bad YAML."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise ContentInvalid(
            [ContentError(file, line, "", f"invalid YAML: {exc.problem}")]
        ) from None
    except yaml.YAMLError as exc:  # pragma: no cover - composer errors are all marked
        raise ContentInvalid([ContentError(file, 1, "", f"invalid YAML: {exc}")]) from None
    if node is None:
        return LocatedData(file, None, {(): 1})
    composer = _Composer(file)
    data = composer.convert(node, ())
    if composer.errors:
        raise ContentInvalid(composer.errors)
    return LocatedData(file, data, composer.lines)


def validate(model: type[ModelT], source: LocatedData) -> ModelT:
    """Validate parsed YAML against ``model``; raise ``ContentInvalid`` naming each field."""
    if source.data is None:
        raise ContentInvalid([ContentError(source.file, 1, "", "the file is empty")])
    try:
        return model.model_validate(source.data)
    except ValidationError as exc:
        errors = []
        for err in exc.errors(include_url=False):
            loc = [part for part in err["loc"] if isinstance(part, str | int)]
            # pydantic appends the tag of a failing union member; keep only real keys.
            message = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                message = "unknown field (check the spelling against the schema)"
            errors.append(ContentError(source.file, source.line_of(loc), format_path(loc), message))
        raise ContentInvalid(errors) from None


def load_model(model: type[ModelT], text: str, file: str) -> ModelT:
    """Parse and validate one YAML document in one step."""
    return validate(model, parse_yaml(text, file))
