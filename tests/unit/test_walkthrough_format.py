"""The walkthrough format: the demo walkthrough loads; each kind of mistake is refused with file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.content import load_site
from server.knowledge.markup import parse_text, render_value
from server.knowledge.sources import ContentInvalid, load_model
from server.knowledge.walkthrough import CandidateKind, WalkthroughFile
from tests.conftest import REPO

GOOD = """\
id: add-card
title: Add a card
version: 2
process: add-payment-method
steps:
  - id: open
    text: Click **Add payment method**.
    target:
      candidates:
        - { kind: testid, value: add-payment-method }
        - { kind: role, value: link, name: Add payment method }
    action: { kind: click }
    advance: { after: url, url: /billing/payment-methods/new }
  - id: name
    text: Type the name on the card.
    target:
      candidates:
        - { kind: label, value: Name on card }
    action: { kind: fill, value: "{{ user.first_name }}" }
    timeout_ms: 5000
    when_missing: skip
"""


def load(text: str) -> WalkthroughFile:
    return load_model(WalkthroughFile, text, "walkthroughs/demo/add-card.yaml")


def test_the_demo_walkthrough_is_valid() -> None:
    site = load_site(REPO / "walkthroughs" / "demo")
    [invite] = site.walkthroughs_for("invite-teammate")
    assert invite.id == "invite-teammate" and len(invite.steps) == 6
    first = invite.steps[0]
    assert first.target is not None
    assert [c.kind for c in first.target.candidates] == [
        CandidateKind.TESTID,
        CandidateKind.ROLE,
        CandidateKind.TEXT,
        CandidateKind.CSS,
    ]
    assert first.target.fingerprint is not None and first.target.fingerprint.heading == "Team"


def test_a_good_file_loads_with_defaults() -> None:
    walkthrough = load(GOOD)
    first, second = walkthrough.steps
    assert (first.placement, first.timeout_ms, first.when_missing, first.destructive) == (
        "auto",
        10_000,
        "wait",
        False,
    )
    assert second.advance.after == "next" and second.when_missing == "skip"


REJECTIONS = [
    ("version: 2", "version: 0", 3, "version", "greater than or equal to 1"),
    ("id: add-card", "id: Add Card", 1, "id", "pattern"),
    (
        "        - { kind: testid, value: add-payment-method }",
        "        - { kind: sizzle, value: x }",
        10,
        "steps[0].target.candidates[0].kind",
        "Input should be",
    ),
    (
        "        - { kind: testid, value: add-payment-method }",
        "        - { kind: testid }",
        10,
        "steps[0].target.candidates[0]",
        "needs a value",
    ),
    (
        "        - { kind: testid, value: add-payment-method }",
        "        - { kind: shadow, chain: [acme-form] }",
        10,
        "steps[0].target.candidates[0]",
        "chain of at least 2",
    ),
    (
        "        - { kind: testid, value: add-payment-method }",
        "        - { kind: css, value: x, name: y }",
        10,
        "steps[0].target.candidates[0]",
        "only role candidates",
    ),
    (
        "      candidates:\n        - { kind: testid, value: add-payment-method }\n        - { kind: role, value: link, name: Add payment method }",
        "      candidates: []",
        9,
        "steps[0].target.candidates",
        "at least 1",
    ),
    (
        "    action: { kind: click }",
        "    action: { kind: eval, value: 'alert(1)' }",
        12,
        "steps[0].action.kind",
        "Input should be",
    ),
    (
        "    action: { kind: click }",
        "    action: { kind: click, value: x }",
        12,
        "steps[0].action",
        "takes no value",
    ),
    (
        '    action: { kind: fill, value: "{{ user.first_name }}" }',
        "    action: { kind: fill }",
        19,
        "steps[1].action",
        "needs value",
    ),
    (
        '    action: { kind: fill, value: "{{ user.first_name }}" }',
        '    action: { kind: fill, value: "{{ config.SECRET }}" }',
        19,
        "steps[1].action",
        "only use user.*",
    ),
    (
        '    action: { kind: fill, value: "{{ user.first_name }}" }',
        '    action: { kind: fill, value: "{{ user. }}" }',
        19,
        "steps[1].action",
        "does not parse",
    ),
    (
        '    action: { kind: fill, value: "{{ user.first_name }}" }',
        "    action: { kind: press, key: F5 }",
        19,
        "steps[1].action",
        "not allowed",
    ),
    (
        '    action: { kind: fill, value: "{{ user.first_name }}" }',
        "    action: { kind: navigate, url: 'https://evil.example/' }",
        19,
        "steps[1].action",
        "path on the site",
    ),
    (
        "    advance: { after: url, url: /billing/payment-methods/new }",
        "    advance: { after: url }",
        13,
        "steps[0].advance",
        "needs a url pattern",
    ),
    (
        "    advance: { after: url, url: /billing/payment-methods/new }",
        "    advance: { after: appears }",
        13,
        "steps[0].advance",
        "needs its selector",
    ),
    (
        "    advance: { after: url, url: /billing/payment-methods/new }",
        "    advance: { on: url }",
        13,
        "steps[0].advance",
        "quote it",
    ),
    (
        "    text: Click **Add payment method**.",
        "    text: Click <b>here</b>",
        7,
        "steps[0].text",
        "HTML is not allowed",
    ),
    (
        "    text: Click **Add payment method**.",
        "    text: 'See [this](javascript:alert(1))'",
        7,
        "steps[0].text",
        "only http(s)",
    ),
    (
        "    text: Click **Add payment method**.",
        "    text: '![x](https://a/b.png)'",
        7,
        "steps[0].text",
        "images are not allowed",
    ),
    (
        "    timeout_ms: 5000",
        "    timeout_ms: 100",
        20,
        "steps[1].timeout_ms",
        "greater than or equal to 500",
    ),
    (
        "    when_missing: skip",
        "    when_missing: panic",
        21,
        "steps[1].when_missing",
        "Input should be",
    ),
    ("  - id: name", "  - id: open", 5, "steps", "step ids are used twice: open"),
    (
        "    when_missing: skip",
        "    when_missing: skip\n    branches: [{ when: { appears: '.x' }, goto: nowhere }]",
        5,
        "steps",
        "branches to 'nowhere'",
    ),
    (
        "    when_missing: skip",
        "    when_missing: skip\n    branches: [{ when: { appears: '.x', url: /a }, goto: open }]",
        22,
        "steps[1].branches[0].when",
        "exactly one",
    ),
    (
        "    when_missing: skip",
        "    when_missing: skip\n    colour: red",
        22,
        "steps[1].colour",
        "unknown field",
    ),
    ("version: 2", "version: 2\nvariant_of: add-card", 1, "", "variant of itself"),
]


@pytest.mark.parametrize(
    ("old", "new", "line", "field", "message"),
    REJECTIONS,
    ids=[r[1].strip()[:40] for r in REJECTIONS],
)
def test_each_rejection_names_file_line_and_field(
    old: str, new: str, line: int, field: str, message: str
) -> None:
    text = GOOD.replace(old, new)
    assert text != GOOD
    with pytest.raises(ContentInvalid) as caught:
        load(text)
    error = next((e for e in caught.value.errors if e.field == field), caught.value.errors[0])
    assert error.file == "walkthroughs/demo/add-card.yaml"
    assert (error.line, error.field) == (line, field), caught.value.errors
    assert message in error.message


def _site_with(tmp_path: Path, walkthrough: str) -> Path:
    folder = tmp_path / "content" / "demo"
    folder.mkdir(parents=True)
    for name in ("site.yaml", "processes.yaml"):
        (folder / name).write_text((REPO / "walkthroughs" / "demo" / name).read_text())
    (folder / "add-card.yaml").write_text(walkthrough)
    return folder


def test_an_unknown_process_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ContentInvalid) as caught:
        load_site(
            _site_with(tmp_path, GOOD.replace("process: add-payment-method", "process: nope"))
        )
    [error] = caught.value.errors
    assert (error.file, error.line, error.field) == ("content/demo/add-card.yaml", 4, "process")


def test_variant_of_an_unknown_walkthrough_is_refused(tmp_path: Path) -> None:
    with pytest.raises(
        ContentInvalid, match=r"add-card.yaml:4: variant_of: no walkthrough 'ghost'"
    ):
        load_site(_site_with(tmp_path, GOOD.replace("process:", "variant_of: ghost\nprocess:")))


def test_step_text_renders_to_safe_spans() -> None:
    spans = parse_text("Click **Save**, then *wait*.\nSee [help](/help) or `Esc`.")
    assert [(s.kind, s.text, s.href) for s in spans] == [
        ("text", "Click ", ""), ("strong", "Save", ""), ("text", ", then ", ""), ("em", "wait", ""), ("text", ".", ""),
        ("br", "", ""), ("text", "See ", ""), ("link", "help", "/help"), ("text", " or ", ""), ("code", "Esc", ""), ("text", ".", ""),
    ]  # fmt: skip


def test_action_values_use_traits_in_a_sandbox() -> None:
    assert render_value("Hi {{ user.first_name }}!", {"first_name": "Ada"}) == "Hi Ada!"
    with pytest.raises(ValueError, match="cannot fill"):
        render_value("{{ user.missing }}", {})
    with pytest.raises(ValueError, match="cannot fill"):
        render_value("{{ user.__class__ }}", {})


def test_rendering_chooses_the_persona_text_and_fills_values() -> None:
    from server.knowledge.render import render_steps

    [invite] = load_site(REPO / "walkthroughs" / "demo").walkthroughs_for("invite-teammate")
    steps = render_steps(invite, traits={"first_name": "Ada"}, persona="guide")
    assert steps[0]["text"].startswith("Let's invite someone!")
    assert steps[1]["text"] == "Type your teammate's **full name**."  # no guide text: the default
    message = next(s for s in steps if s["id"] == "message")
    assert message["action"] == {"kind": "fill", "value": "Hi! Ada here: join me on Acme Billing."}
    assert "persona_text" not in steps[0]


def test_a_value_that_cannot_be_filled_becomes_a_you_do_this_step() -> None:
    from server.knowledge.render import render_steps

    [invite] = load_site(REPO / "walkthroughs" / "demo").walkthroughs_for("invite-teammate")
    message = next(s for s in render_steps(invite, traits={}) if s["id"] == "message")
    assert "action" not in message
    assert "first_name" in message["action_dropped"]


def test_trait_branches_are_decided_when_rendering_and_traits_never_reach_the_page() -> None:
    from server.knowledge.render import render_steps

    text = GOOD.replace(
        "    advance: { after: url, url: /billing/payment-methods/new }\n",
        "    advance: { after: url, url: /billing/payment-methods/new }\n"
        "    branches:\n"
        "      - { when: { trait: { plan: team } }, goto: name }\n"
        "      - { when: { trait: { trial: 'true' } }, goto: name }\n"
        "      - { when: { appears: '#card-form' }, goto: name }\n",
    )
    walkthrough = load(text)
    team = render_steps(walkthrough, traits={"plan": "team", "trial": False, "first_name": "A"})
    assert team[0]["branches"] == [
        {"when": {"always": True}, "goto": "name"},
        {"when": {"appears": "#card-form"}, "goto": "name"},
    ]
    trial = render_steps(walkthrough, traits={"plan": "solo", "trial": True})
    assert [b["when"] for b in trial[0]["branches"]] == [
        {"always": True},
        {"appears": "#card-form"},
    ]
    assert render_steps(walkthrough, traits={})[0]["branches"] == [
        {"when": {"appears": "#card-form"}, "goto": "name"}
    ]
