"""The README, Makefile, Procfile, CI script and docs say the same thing."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

from server.content import RESERVED
from server.knowledge.site import SCHEMAS, json_schema
from server.settings import env_names
from tests.conftest import REPO


def _quick_start_commands() -> list[str]:
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
    return [line.strip() for block in blocks for line in block.splitlines() if line.strip()]


def _make_targets() -> set[str]:
    makefile = (REPO / "Makefile").read_text()
    return set(re.findall(r"^([a-z][a-z0-9-]*):", makefile, re.M))


def test_readme_quick_start_is_exactly_make_run_and_make_test() -> None:
    assert _quick_start_commands() == ["make run", "make test"]


def test_quick_start_commands_are_makefile_targets() -> None:
    targets = _make_targets()
    for command in _quick_start_commands():
        assert command.split()[1] in targets


def test_make_test_runs_every_check_and_layer() -> None:
    makefile = (REPO / "Makefile").read_text()
    test_rule = re.search(r"^test:(.*)\n\t(.*)$", makefile, re.M)
    assert test_rule is not None
    prerequisites, recipe = test_rule.groups()
    for needed in ("lint", "typecheck", "$(CHROME_STAMP)", "$(CLIENT)"):
        assert needed in prerequisites
    assert "pytest" in recipe and recipe.rstrip().endswith("tests")
    assert "ruff check" in makefile and "mypy" in makefile and "tsc -p" in makefile


def test_ci_runs_make_test_with_ci_true() -> None:
    script = (REPO / ".ci" / "run").read_text()
    assert "export CI=true" in script
    assert re.search(r"^make test$", script, re.M)


def test_procfile_runs_the_server_and_the_demo_site() -> None:
    processes = dict(
        line.split(":", 1) for line in (REPO / "Procfile").read_text().splitlines() if line.strip()
    )
    assert processes["server"].split()[:2] == ["tandem", "serve"]
    assert processes["demo"].split()[:2] == ["tandem", "demo-site"]
    assert "honcho start -f Procfile" in (REPO / "Makefile").read_text()


def test_every_setting_is_documented() -> None:
    doc = (REPO / "docs" / "configuration.md").read_text()
    for name in env_names():
        assert f"`{name}`" in doc, f"{name} is missing from docs/configuration.md"


def test_every_cli_command_is_documented() -> None:
    from server.cli import main

    doc = (REPO / "docs" / "cli.md").read_text()
    for name in main.commands:
        assert f"`tandem {name}" in doc, f"tandem {name} is missing from docs/cli.md"


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_published_schema_is_current(name: str) -> None:
    published = json.loads((REPO / "docs" / "schemas" / f"{name}.json").read_text())
    assert published == json_schema(name), (
        f"regenerate with: tandem schema {name} > docs/schemas/{name}.json"
    )


def _demo_files(kind: str) -> list[Path]:
    folder = REPO / "walkthroughs" / "demo"
    if kind == "walkthrough":
        return [p for p in sorted(folder.glob("*.yaml")) if p.name not in RESERVED]
    return [folder / f"{kind}.yaml"]


@pytest.mark.parametrize("name", sorted(set(SCHEMAS) - {"handoff"}))  # handoff: not content
def test_demo_content_validates_against_the_published_schema(name: str) -> None:
    schema = json.loads((REPO / "docs" / "schemas" / f"{name}.json").read_text())
    files = _demo_files(name)
    assert files, f"the demo site has no {name} file"
    for path in files:
        jsonschema.Draft202012Validator(schema).validate(yaml.safe_load(path.read_text()))
