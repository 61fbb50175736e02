"""YAML sources keep line numbers; errors name file, line and field."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ConfigDict

from server.knowledge.sources import ContentInvalid, format_path, load_model, parse_yaml


class Inner(BaseModel):
    model_config = ConfigDict(extra="forbid")
    size: int


class Outer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    items: list[Inner]


def test_line_numbers_are_kept_for_keys_and_items() -> None:
    source = parse_yaml("name: x\nitems:\n  - size: 1\n  - size: 2\n", "f.yaml")
    assert source.line_of(["name"]) == 1
    assert source.line_of(["items", 1, "size"]) == 4
    assert source.line_of(["items", 7, "size"]) == 2  # unknown index: nearest known parent


def test_a_wrong_type_names_file_line_and_field() -> None:
    with pytest.raises(ContentInvalid) as caught:
        load_model(Outer, "name: x\nitems:\n  - size: 1\n  - size: big\n", "dir/f.yaml")
    [error] = caught.value.errors
    assert (error.file, error.line, error.field) == ("dir/f.yaml", 4, "items[1].size")
    assert "integer" in error.message
    assert str(error).startswith("dir/f.yaml:4: items[1].size: ")


def test_unknown_field_is_refused_with_its_line() -> None:
    with pytest.raises(ContentInvalid) as caught:
        load_model(Outer, "name: x\nitems: []\nsizee: 3\n", "f.yaml")
    [error] = caught.value.errors
    assert (error.line, error.field) == (3, "sizee")
    assert "unknown field" in error.message


def test_missing_field_points_at_its_parent() -> None:
    with pytest.raises(ContentInvalid) as caught:
        load_model(Outer, "name: x\nitems:\n  - {}\n", "f.yaml")
    [error] = caught.value.errors
    assert (error.line, error.field) == (3, "items[0].size")


def test_duplicate_keys_are_refused_not_silently_overwritten() -> None:
    with pytest.raises(ContentInvalid) as caught:
        parse_yaml("name: a\nitems: []\nname: b\n", "f.yaml")
    [error] = caught.value.errors
    assert (error.line, error.field) == (3, "name")
    assert "duplicate key" in error.message


def test_malformed_yaml_names_the_line() -> None:
    with pytest.raises(ContentInvalid) as caught:
        parse_yaml("name: x\nitems: [1, 2\nother: 3\n", "f.yaml")
    [error] = caught.value.errors
    assert error.line == 3
    assert "invalid YAML" in error.message


def test_empty_file_is_refused() -> None:
    with pytest.raises(ContentInvalid, match="empty"):
        load_model(Outer, "# only a comment\n", "f.yaml")


def test_every_error_is_reported_at_once() -> None:
    with pytest.raises(ContentInvalid) as caught:
        load_model(Outer, "name: [1]\nitems:\n  - size: a\n  - size: b\n", "f.yaml")
    assert [e.line for e in caught.value.errors] == [1, 3, 4]


def test_format_path() -> None:
    assert format_path(("processes", 0, "goal", "url")) == "processes[0].goal.url"
    assert format_path(()) == ""
