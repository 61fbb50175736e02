"""Personae, roles, skills and FAQ files: the demo content loads; mistakes are refused with file, line and field."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from server.content import load_site
from server.knowledge.sources import ContentInvalid
from server.support.persona import candidates_from, choose_persona
from tests.conftest import REPO


def test_demo_support_content_loads() -> None:
    site = load_site(REPO / "walkthroughs" / "demo")
    assert [p.id for p in site.personae] == ["guide", "expert", "coach", "assistant"]
    assert {r.id for r in site.roles} >= {p.role for p in site.personae}
    assert len(site.faq) >= 8


@pytest.mark.parametrize(
    ("traits", "sessions", "failures", "persona"),
    [
        ({"role": "member", "plan": "business"}, 0, 0, "guide"),
        ({"role": "admin", "plan": "starter"}, 2, 0, "expert"),
        ({"role": "viewer", "plan": "starter"}, 2, 1, "coach"),
        ({"role": "viewer", "plan": "starter"}, 2, 0, "assistant"),
    ],
)
def test_demo_personae_are_chosen_by_their_rules(
    traits: dict[str, str], sessions: int, failures: int, persona: str
) -> None:
    site = load_site(REPO / "walkthroughs" / "demo")
    choice = choose_persona(
        candidates_from(site.personae), traits, sessions=sessions, failures=failures
    )
    assert choice is not None and choice.persona == persona


def _broken(tmp_path: Path, file: str, old: str, new: str) -> ContentInvalid:
    folder = tmp_path / "content" / "demo"
    shutil.copytree(REPO / "walkthroughs" / "demo", folder)
    path = folder / file
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(ContentInvalid) as caught:
        load_site(folder)
    return caught.value


@pytest.mark.parametrize(
    ("file", "old", "new", "field", "message"),
    [
        (
            "personae.yaml",
            "role: onboarding-guide",
            "role: wizard",
            "personae[0].role",
            "no role 'wizard'",
        ),
        (
            "personae.yaml",
            "skills: [general, team-admin, payments]",
            "skills: [general, magic]",
            "personae[0].skills[1]",
            "no skill 'magic'",
        ),
        (
            "personae.yaml",
            "      ask_helped: Did that help?",
            "      shout: HEY",
            "personae[0].voice",
            "unknown voice line",
        ),
        (
            "personae.yaml",
            "      ask_helped: Did that help?",
            "      ask_helped: '{{ secrets.key }}'",
            "personae[0].voice",
            "not secrets",
        ),
        (
            "personae.yaml",
            "      - visitor: new",
            "      - visitor: old",
            "personae[0].select_when[0].visitor",
            "Input should be",
        ),
        ("personae.yaml", "  - id: expert", "  - id: guide", "personae", "used twice"),
        (
            "faq.yaml",
            "processes: [export-report]",
            "processes: [exports]",
            "entries[0].processes[0]",
            "no process 'exports'",
        ),
        (
            "faq.yaml",
            '    answer: "Open **Reports**',
            '    answer: "<script>x</script> **Reports**',
            "entries[0].answer",
            "HTML is not allowed",
        ),
        (
            "skills.yaml",
            "processes: [add-payment-method]",
            "processes: [pay]",
            "skills[1].processes[0]",
            "no process 'pay'",
        ),
        (
            "invite-teammate.yaml",
            "      guide:",
            "      robot:",
            "steps[0].persona_text.robot",
            "no persona 'robot'",
        ),
    ],
)
def test_support_content_rejections(
    tmp_path: Path, file: str, old: str, new: str, field: str, message: str
) -> None:
    invalid = _broken(tmp_path, file, old, new)
    error = next((e for e in invalid.errors if e.field == field), None)
    assert error is not None, invalid.errors
    assert error.file == f"content/demo/{file}" and error.line > 1
    assert message in error.message
