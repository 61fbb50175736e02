"""Every demo page in Chromium, in both variants: each documented test id is there and works."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Frame, Page, expect

from tests.browser.conftest import PageProblems, Stack, sign_in
from tests.conftest import REPO

pytestmark = [pytest.mark.browser, pytest.mark.anyio]

# Every data-testid in the page, open shadow roots included.
COLLECT_TEST_IDS = """() => {
  const ids = new Set();
  const walk = (root) => {
    for (const el of root.querySelectorAll('*')) {
      if (el.dataset && el.dataset.testid) ids.add(el.dataset.testid);
      if (el.shadowRoot) walk(el.shadowRoot);
    }
  };
  walk(document);
  return [...ids];
}"""


def documented_test_ids() -> set[str]:
    """The test ids listed in docs/demo-site.md, with INV-1001 standing for any invoice."""
    doc = (REPO / "docs" / "demo-site.md").read_text()
    table = doc.split("| page |", 1)[1].split("\n\n", 1)[0]
    ids: set[str] = set()
    for row in table.splitlines()[2:]:
        ids.update(re.findall(r"`([a-z0-9-]+(?:-INV-\d+)?)`", row.rsplit("|", 2)[1]))
    return ids


class Seen:
    def __init__(self) -> None:
        self.ids: set[str] = set()

    async def __call__(self, target: Page | Frame) -> None:
        self.ids.update(await target.evaluate(COLLECT_TEST_IDS))


@pytest.mark.parametrize("variant", ["standard", "mutated"])
async def test_every_documented_test_id_is_reachable(
    page: Page, stack: Stack, problems: PageProblems, variant: str
) -> None:
    base = stack.demo(variant)
    seen = Seen()

    # Sign-in, with a wrong password first.
    await page.goto(f"{base}/signin")
    await page.get_by_test_id("signin-email").fill("ada@acme.test")
    await page.get_by_test_id("signin-password").fill("wrong")
    await page.get_by_test_id("signin-submit").click()
    await expect(page.get_by_test_id("signin-error")).to_be_visible()
    await seen(page)
    await sign_in(page, base)

    # Home: the late panel is not there at first and arrives about 2 s later.
    assert await page.get_by_test_id("late-panel").count() == 0
    await expect(page.get_by_test_id("late-panel")).to_be_visible(timeout=10_000)
    await seen(page)

    # Invoices: list, SPA navigation to one invoice, delete with confirmation.
    await page.get_by_test_id("nav-invoices").click()
    await expect(page.get_by_test_id("invoice-scroll")).to_be_visible()
    await seen(page)
    await page.evaluate("window.__sameDocument = true")
    await page.get_by_test_id("invoice-link-INV-1007").click()
    await expect(page.get_by_test_id("invoice-detail")).to_contain_text("INV-1007")
    assert page.url == f"{base}/invoices/INV-1007"
    assert await page.evaluate("window.__sameDocument") is True, (
        "the router must not reload the page"
    )
    await page.get_by_test_id("invoice-delete").click()
    await expect(page.get_by_test_id("invoice-delete-panel")).to_be_visible()
    await seen(page)
    await page.get_by_test_id("invoice-delete-confirm").click()
    await expect(page.get_by_test_id("invoice-deleted")).to_be_visible()
    assert page.url == f"{base}/invoices"
    await expect(page.get_by_test_id("invoice-row-INV-1007")).to_have_count(0)
    await seen(page)
    await page.get_by_test_id("invoice-link-INV-1001").click()
    await seen(page)
    await page.go_back()
    await expect(page.get_by_test_id("invoice-scroll")).to_be_visible()

    # Billing: a card (bad, then good) and the address form in the shadow root.
    await page.get_by_test_id("nav-billing").click()
    await page.get_by_test_id("add-payment-method").click()
    await page.get_by_test_id("card-name").fill("Ada Lovelace")
    await page.get_by_test_id("card-number").fill("4000 0000 0000 0001")
    await page.get_by_test_id("card-expiry").fill("04/29")
    await page.get_by_test_id("card-cvc").fill("123")
    await page.get_by_test_id("payment-submit").click()
    await expect(page.get_by_test_id("payment-error")).to_be_visible()
    await seen(page)
    await page.get_by_test_id("card-number").fill("4000 0000 0000 0002")
    await page.get_by_test_id("card-expiry").fill("04/29")
    await page.get_by_test_id("card-cvc").fill("123")
    await page.get_by_test_id("payment-submit").click()
    await expect(page.get_by_test_id("payment-method-added")).to_contain_text("0002")
    await page.get_by_test_id("address-line1").fill("12 Analytical Row")
    await page.get_by_test_id("address-save").click()
    await expect(page.get_by_test_id("address-saved")).to_be_visible()
    assert (
        await page.evaluate("document.querySelector('acme-address-form').shadowRoot.mode") == "open"
    )
    await seen(page)

    # Team: the Preact-controlled invite form, invalid then valid.
    await page.get_by_test_id("nav-team").click()
    await seen(page)
    await page.get_by_test_id("invite-open").click()
    await page.get_by_test_id("invite-name").fill("Linus Torvalds")
    await page.get_by_test_id("invite-email").fill("not-an-email")
    await page.get_by_test_id("invite-submit").click()
    await expect(page.get_by_test_id("invite-error")).to_be_visible()
    await seen(page)
    await page.get_by_test_id("invite-email").fill("linus@acme.test")
    await page.get_by_test_id("invite-role").select_option("admin")
    await page.get_by_test_id("invite-message").fill("Welcome aboard")
    await page.get_by_test_id("invite-submit").click()
    await expect(page.get_by_test_id("invite-sent")).to_contain_text("linus@acme.test")
    await expect(page.get_by_test_id("invite-email")).to_have_value(
        ""
    )  # the component reset its state
    await seen(page)

    # Reports: the native modal dialog.
    await page.get_by_test_id("nav-reports").click()
    await page.get_by_test_id("export-open").click()
    dialog = page.get_by_test_id("export-dialog")
    await expect(dialog).to_be_visible()
    assert await dialog.evaluate("d => d.open && d.matches(':modal')")
    await seen(page)
    await page.get_by_test_id("export-format").select_option("pdf")
    await page.get_by_test_id("export-confirm").click()
    await expect(dialog).to_be_hidden()
    await expect(page.get_by_test_id("export-result")).to_contain_text("acme-report-2026-11.pdf")
    await seen(page)

    # Settings: the iframe's button, the dead button and the throwing one.
    await page.get_by_test_id("nav-settings").click()
    frame = page.frame_locator("[data-testid=notifications-frame]")
    await frame.get_by_test_id("iframe-save").click()
    await expect(frame.get_by_test_id("iframe-saved")).to_be_visible()
    inner = next(f for f in page.frames if f.url.endswith("/embed/notifications"))
    await seen(inner)
    url_before = page.url
    await page.get_by_test_id("dead-button").click()
    assert page.url == url_before
    assert problems.errors == []
    async with page.expect_event("pageerror") as thrown:
        await page.get_by_test_id("error-button").click()
    assert "ledger service did not answer" in str(await thrown.value)
    await seen(page)

    # The page scrolls under the sticky header: the header stays at the top of the viewport.
    header = page.get_by_test_id("app-header")
    await page.get_by_test_id("activity-download").scroll_into_view_if_needed()
    assert await page.evaluate("window.scrollY") > 300
    box = await header.bounding_box()
    assert box is not None
    assert box["y"] == 0

    missing = documented_test_ids() - seen.ids
    assert not missing, f"documented but not found in the {variant} variant: {sorted(missing)}"
    assert problems.csp_violations == []
