"""Editing processes.yaml from the console keeps the file's comments and layout, and never
leaves a file that does not load."""

from __future__ import annotations

import difflib
import shutil
from pathlib import Path

import pytest

from server.content_edit import set_process_threshold
from server.knowledge.site import Site
from server.knowledge.sources import ContentInvalid
from tests.conftest import REPO


def threshold_of(site: Site, process: str) -> float | None:
    found = site.process(process)
    assert found is not None
    return found.effectiveness_threshold


def demo(tmp_path: Path) -> Path:
    folder = tmp_path / "demo"
    shutil.copytree(REPO / "walkthroughs" / "demo", folder)
    return folder


def test_a_threshold_is_changed_in_place_keeping_everything_else(tmp_path: Path) -> None:
    folder = demo(tmp_path)
    original = (folder / "processes.yaml").read_text()
    before, site = set_process_threshold(folder, "invite-teammate", 0.75)
    assert before == 0.6
    assert threshold_of(site, "invite-teammate") == 0.75
    changed = (folder / "processes.yaml").read_text()
    assert (
        changed.replace("effectiveness_threshold: 0.75", "effectiveness_threshold: 0.6") == original
    )
    # A process without one gets one; the site's default applied before.
    before, site = set_process_threshold(folder, "find-invoice", 0.4)
    assert before is None and threshold_of(site, "find-invoice") == 0.4
    assert (
        "# User-actionable processes of the demo site." in (folder / "processes.yaml").read_text()
    )


def test_a_value_that_does_not_validate_leaves_the_file_as_it_was(tmp_path: Path) -> None:
    folder = demo(tmp_path)
    original = (folder / "processes.yaml").read_text()
    with pytest.raises(ContentInvalid) as refused:
        set_process_threshold(folder, "invite-teammate", 7.0)
    assert "effectiveness_threshold" in str(refused.value)
    assert (folder / "processes.yaml").read_text() == original
    with pytest.raises(KeyError):
        set_process_threshold(folder, "no-such-process", 0.5)
    assert [p.name for p in folder.iterdir() if p.name.startswith(".")] == []


def test_a_site_value_is_set_added_or_refused_keeping_the_rest(tmp_path: Path) -> None:
    from server.content_edit import set_site_value

    folder = demo(tmp_path)
    original = (folder / "site.yaml").read_text()
    before, site = set_site_value(folder, ["frustration", "weights", "rage_click"], 4.5)
    assert before is None and site.config.frustration.weights["rage_click"] == 4.5
    text = (folder / "site.yaml").read_text()
    assert (
        text.startswith(original.rstrip("\n"))
        and "frustration:\n  weights:\n    rage_click: 4.5\n" in text
    )
    before, site = set_site_value(folder, ["frustration", "weights", "dead_click"], 2.0)
    assert before is None and site.config.frustration.weights == {
        "rage_click": 4.5,
        "dead_click": 2.0,
    }
    before, site = set_site_value(folder, ["frustration", "weights", "rage_click"], 6.0)
    assert before == 4.5 and site.config.frustration.weights["rage_click"] == 6.0
    before, site = set_site_value(folder, ["frustration", "threshold"], 9.0)
    assert before is None and site.config.frustration.threshold == 9.0
    edited = (folder / "site.yaml").read_text()
    with pytest.raises(ContentInvalid):
        set_site_value(folder, ["frustration", "threshold"], -1.0)
    assert (folder / "site.yaml").read_text() == edited


def test_faq_entries_are_added_replaced_and_deleted_keeping_the_file_s_style(
    tmp_path: Path,
) -> None:
    from server.content_edit import delete_faq_entry, save_faq_entry

    folder = demo(tmp_path)
    original = (folder / "faq.yaml").read_text()
    site = save_faq_entry(folder, {"id": "vat", "questions": ["Do prices include VAT?", "Is tax included?"],
                                   "answer": "Prices exclude **VAT**; it is added at checkout.",
                                   "processes": ["add-payment-method"]})  # fmt: skip
    assert [e.id for e in site.faq][-1] == "vat"
    text = (folder / "faq.yaml").read_text()
    assert text.startswith(original)  # everything before stays as it was, comments included
    assert '    questions: ["Do prices include VAT?", "Is tax included?"]\n' in text
    site = save_faq_entry(folder, {"id": "vat", "questions": ["Is VAT included?"], "answer": "No: VAT is added at checkout.",
                                   "processes": []}, replacing="vat")  # fmt: skip
    [vat] = [e for e in site.faq if e.id == "vat"]
    assert (vat.questions, vat.answer, vat.processes) == (
        ["Is VAT included?"],
        "No: VAT is added at checkout.",
        [],
    )
    before = (folder / "faq.yaml").read_text()
    with pytest.raises(ContentInvalid):
        save_faq_entry(
            folder, {"id": "vat", "questions": ["x"], "answer": "twice"}
        )  # an id used twice
    with pytest.raises(ContentInvalid):
        save_faq_entry(folder, {"id": "empty", "questions": ["x"], "answer": ""})
    with pytest.raises(KeyError):
        save_faq_entry(folder, {"id": "nope", "questions": ["x"], "answer": "y"}, replacing="nope")
    assert (folder / "faq.yaml").read_text() == before
    site = delete_faq_entry(folder, "vat")
    assert "vat" not in [e.id for e in site.faq]
    assert (folder / "faq.yaml").read_text() == original


def test_a_persona_s_name_avatar_and_voice_are_changed_and_the_rest_stays(tmp_path: Path) -> None:
    from server.content_edit import save_persona

    folder = demo(tmp_path)
    original = (folder / "personae.yaml").read_text()
    site = save_persona(folder, "guide", name="Robin", avatar="🧭", voice={
        "greeting": "Hi {{ user.first_name }}, I'm Robin. New here? I'll show you around.",
        "offer_walkthrough": "Let me show you **{{ offer.title }}**.", "resume": "", "ask_helped": "Did that help?",
    })  # fmt: skip
    [guide] = [p for p in site.personae if p.id == "guide"]
    assert guide.voice["offer_walkthrough"] == "Let me show you **{{ offer.title }}**."
    assert "resume" not in guide.voice and guide.skills == ["general", "team-admin", "payments"]
    text = (folder / "personae.yaml").read_text()
    assert text.splitlines()[:3] == original.splitlines()[:3]  # the comments stay
    removed = [
        line
        for line in difflib.ndiff(original.splitlines(), text.splitlines())
        if line.startswith("- ")
    ]
    # The two voice lines, and flow maps re-spaced ({ a: b } → {a: b}): the same YAML.
    assert len(removed) <= 4 and all(
        "offer_walkthrough" in r or "resume" in r or "{ " in r for r in removed
    )
    with pytest.raises(ContentInvalid):
        save_persona(folder, "guide", name="", avatar="🧭", voice={})
    with pytest.raises(KeyError):
        save_persona(folder, "nobody", name="X", avatar="", voice={})


def test_roles_and_skills_are_added_changed_and_deleted_unless_in_use(tmp_path: Path) -> None:
    from server.content_edit import save_entry

    folder = demo(tmp_path)
    original = (folder / "skills.yaml").read_text()
    site = save_entry(folder, "skills.yaml", "skills", {"id": "tax", "title": "Taxes", "processes": ["add-payment-method"]})  # fmt: skip
    assert [s.processes for s in site.skills if s.id == "tax"] == [["add-payment-method"]]
    assert (folder / "skills.yaml").read_text().startswith(original)
    site = save_entry(folder, "skills.yaml", "skills", {"id": "tax", "title": "Taxes and VAT", "processes": []}, replacing="tax")  # fmt: skip
    assert [(s.title, s.processes) for s in site.skills if s.id == "tax"] == [("Taxes and VAT", [])]
    site = save_entry(folder, "skills.yaml", "skills", {}, replacing="tax", delete=True)
    assert (folder / "skills.yaml").read_text() == original
    roles = (folder / "roles.yaml").read_text()
    with pytest.raises(ContentInvalid):  # a persona plays it
        save_entry(folder, "roles.yaml", "roles", {}, replacing="onboarding-guide", delete=True)
    assert (folder / "roles.yaml").read_text() == roles
    site = save_entry(folder, "roles.yaml", "roles", {"id": "onboarding-guide", "title": "Guide", "description": ""}, replacing="onboarding-guide")  # fmt: skip
    assert [(r.title, r.description) for r in site.roles if r.id == "onboarding-guide"] == [
        ("Guide", "")
    ]


def test_a_saved_file_keeps_its_permissions_and_a_symlink_stays_one(tmp_path: Path) -> None:
    import os
    import stat

    folder = demo(tmp_path)
    real = tmp_path / "real-processes.yaml"
    real.write_text((folder / "processes.yaml").read_text())
    os.chmod(real, 0o664)
    (folder / "processes.yaml").unlink()
    (folder / "processes.yaml").symlink_to(real)
    set_process_threshold(folder, "invite-teammate", 0.7)
    assert (folder / "processes.yaml").is_symlink()
    assert "effectiveness_threshold: 0.7" in real.read_text()
    assert stat.S_IMODE(real.stat().st_mode) == 0o664
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
