"""The mutated demo variant differs from the standard one where it should, and only there."""

from __future__ import annotations

from server.demo_site.data import check_card, luhn_ok
from server.demo_site.variants import CLASSES, MUTATED, MUTATED_TEXTS, STANDARD, TEXTS


def test_standard_variant_uses_logical_names() -> None:
    assert STANDARD.id("invite-open") == "invite-open"
    assert STANDARD.cls("btn", "btn-primary") == "btn btn-primary"
    assert STANDARD.t("invite.open") == "Invite a teammate"


def test_mutated_variant_renames_every_id_and_class() -> None:
    assert MUTATED.id("invite-open") != "invite-open"
    assert MUTATED.id("invite-open") == MUTATED.id("invite-open")  # stable between runs
    renamed = {MUTATED.cls(c) for c in CLASSES}
    assert not renamed & set(CLASSES)
    assert len(renamed) == len(CLASSES)


def test_mutated_variant_rewords_some_texts_and_keeps_the_rest() -> None:
    changed = [k for k in TEXTS if MUTATED.t(k) != STANDARD.t(k)]
    assert sorted(changed) == sorted(MUTATED_TEXTS)
    assert MUTATED.t("invite.open") == "Add a team member"


def test_mutated_variant_moves_elements() -> None:
    assert STANDARD.layout["export_button"] != MUTATED.layout["export_button"]
    assert STANDARD.layout["add_card"] != MUTATED.layout["add_card"]


def test_stylesheet_classes_are_renamed_in_the_mutated_variant() -> None:
    css = ".btn { a: 1 } .btn-primary:hover { b: 2 } .nav-link.active { c: 0.5em }"
    rewritten = MUTATED.rewrite_css(css)
    for logical in ("btn", "btn-primary", "nav-link", "active"):
        assert f".{logical} " not in rewritten and f".{logical}:" not in rewritten
        assert f".{MUTATED.cls(logical)}" in rewritten
    assert "0.5em" in rewritten
    assert STANDARD.rewrite_css(css) == css


def test_card_checks() -> None:
    assert luhn_ok("4242424242424242")
    assert not luhn_ok("4242424242424241")
    method, error = check_card("Ada", "4242 4242 4242 4242", "04/29", "123")
    assert error == "" and method is not None
    assert (method.brand, method.last4) == ("Visa", "4242")
    assert "4242424242424242" not in repr(method)
    for bad in (("", "4242424242424242", "04/29", "123"), ("A", "1234", "04/29", "123"),
                ("A", "4242424242424242", "13/29", "123"), ("A", "4242424242424242", "04/29", "12")):  # fmt: skip
        assert check_card(*bad)[0] is None
