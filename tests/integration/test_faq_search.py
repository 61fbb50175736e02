"""FAQ search on both stores: ranking, stemming, the process boost, hostile input, site isolation."""

from __future__ import annotations

import pytest

from server.content import load_site
from server.publishing import publish_site
from server.store import Store
from server.store.base import FaqRecord
from tests.conftest import REPO

pytestmark = [pytest.mark.anyio, pytest.mark.store]


@pytest.fixture
async def demo_faq(store: Store) -> Store:
    await publish_site(store, load_site(REPO / "walkthroughs" / "demo"), now_ms=1)
    return store


async def top(store: Store, query: str, process: str | None = None) -> list[str]:
    return [h.entry for h in await store.search_faq("demo", query, process=process)]


@pytest.mark.parametrize(
    ("question", "best"),
    [
        ("how do I export my invoices?", "export-csv"),
        ("add a credit card", "add-card"),
        ("invite a colleague", "invite"),
        ("reset password", "password"),
        ("what can a viewer do", "roles"),
    ],
)
async def test_the_best_answer_comes_first(demo_faq: Store, question: str, best: str) -> None:
    assert (await top(demo_faq, question))[0] == best


async def test_stemming_matches_other_forms(demo_faq: Store) -> None:
    assert (await top(demo_faq, "exporting reports"))[0] in {"export-csv", "export-schedule"}


async def test_the_current_process_is_boosted(demo_faq: Store) -> None:
    plain = await top(demo_faq, "invoice")
    boosted = await top(demo_faq, "invoice", process="delete-invoice")
    assert "delete-invoice" in plain
    assert boosted[0] == "delete-invoice"


@pytest.mark.parametrize(
    "query",
    [
        '"; DROP TABLE faq_search; --',
        "NEAR(export card)",
        "export*",
        "(((",
        "AND OR NOT",
        "🙂",
        "",
        "   ",
    ],
)
async def test_hostile_or_empty_questions_are_safe(demo_faq: Store, query: str) -> None:
    hits = await demo_faq.search_faq("demo", query)
    assert all(h.score > 0 for h in hits)
    assert (await top(demo_faq, "export"))[0] in {
        "export-csv",
        "export-schedule",
    }  # the index is intact


async def test_no_match_is_an_empty_list(demo_faq: Store) -> None:
    assert await top(demo_faq, "quantum entanglement") == []


async def test_sites_are_separate_and_replacing_drops_old_entries(store: Store) -> None:
    await store.replace_faq("shop", [FaqRecord("refunds", ("How do I get a refund?",), "Ask us.")])
    await store.replace_faq("demo", [FaqRecord("export", ("Export invoices",), "Use Reports.")])
    assert await store.search_faq("demo", "refund") == []
    assert [h.entry for h in await store.search_faq("shop", "refund")] == ["refunds"]
    await store.replace_faq(
        "shop", [FaqRecord("returns", ("How do I return an item?",), "Ship it back.")]
    )
    assert await store.search_faq("shop", "refund") == []
