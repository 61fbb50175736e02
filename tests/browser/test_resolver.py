"""The target resolver (client_js/src/resolver, bundled as dist/resolver.js) in real Chromium.

The demo site in both variants, the late element, shadow roots and iframes, and a
table of decoys on fixture pages (tests/browser/resolver_pages): each row says what
the resolver must answer, and which element when it finds one.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from playwright.async_api import Browser, Page

from server.knowledge.walkthrough import Fingerprint, Target
from tests.browser.conftest import Stack, sign_in
from tests.conftest import REPO

pytestmark = [pytest.mark.browser, pytest.mark.anyio]

BUNDLE = REPO / "client_js" / "dist" / "resolver.js"
PAGES = Path(__file__).parent / "resolver_pages"
WALKTHROUGH = REPO / "walkthroughs" / "demo" / "invite-teammate.yaml"
FORM_FIELDS = {"name", "email", "role", "message"}

# Resolve in the page and report what was found by attributes the descriptors do not use.
RESOLVE = """async ([descriptor, options]) => {
  const r = await window.TandemResolver.resolve(descriptor, options);
  const el = r.element;
  return {
    status: r.status, strategy: r.strategy, candidate: r.candidate, similarity: r.similarity, tried: r.tried,
    testid: el ? el.getAttribute('data-testid') : null, expect: el ? el.getAttribute('data-expect') : null,
  };
}"""

# Describe the element a selector picks (optionally inside an iframe or open shadow root).
DESCRIBE = """([selector, inside]) => {
  let root = document;
  if (inside) root = document.querySelector(inside);
  root = root.shadowRoot || root.contentDocument || root;
  return window.TandemResolver.describe(root.querySelector(selector)).fingerprint;
}"""


@pytest.fixture
async def csp_free_page(browser: Browser) -> AsyncIterator[Page]:
    """A page whose context bypasses Content-Security-Policy.

    The demo site allows scripts from 'self' only, and Playwright's
    ``add_script_tag(path=...)`` inlines the bundle, which that policy would block.
    """
    if not BUNDLE.exists():
        pytest.fail(f"{BUNDLE.relative_to(REPO)} is missing: run `node build.mjs` in client_js")
    context = await browser.new_context(viewport={"width": 1280, "height": 800}, bypass_csp=True)
    context.set_default_timeout(15_000)
    page = await context.new_page()
    yield page
    await context.close()


async def goto(page: Page, url: str, ready: str | None = None) -> None:
    """Open a page, wait for an element to be rendered, and inject the resolver."""
    await page.goto(url)
    if ready:
        await page.wait_for_selector(ready)
    await page.add_script_tag(path=BUNDLE)


async def resolve(page: Page, descriptor: dict[str, Any], **options: Any) -> dict[str, Any]:
    result: dict[str, Any] = await page.evaluate(RESOLVE, [descriptor, options])
    return result


def invite_steps() -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = yaml.safe_load(WALKTHROUGH.read_text())["steps"]
    return steps


def intended(step: dict[str, Any]) -> str:
    """The test id of a step's target, from its testid candidate."""
    return str(next(c["value"] for c in step["target"]["candidates"] if c["kind"] == "testid"))


def without_testids(descriptor: dict[str, Any]) -> dict[str, Any]:
    stripped = copy.deepcopy(descriptor)
    stripped["candidates"] = [c for c in stripped["candidates"] if c["kind"] != "testid"]
    return stripped


async def resolve_walkthrough(page: Page, base: str, strip: bool) -> dict[str, dict[str, Any]]:
    """Resolve every step of the invite walkthrough on its page: step id → result."""
    results: dict[str, dict[str, Any]] = {}
    for number, step in enumerate(invite_steps()):
        if number <= 1:  # the first step on /team, the rest on /team/invite
            path, ready = ("/team", None) if number == 0 else ("/team/invite", "form input")
            await goto(page, f"{base}{path}", ready)
        target = without_testids(step["target"]) if strip else step["target"]
        results[step["id"]] = await resolve(page, target)
    return results


# -- 1. The demo walkthrough, in both variants ------------------------------------------


@pytest.mark.parametrize("variant", ["standard", "mutated"])
async def test_invite_walkthrough_resolves_in_both_variants(
    csp_free_page: Page, stack: Stack, variant: str
) -> None:
    page, base = csp_free_page, stack.demo(variant)
    await sign_in(page, base)
    for step in invite_steps():
        assert without_testids(step["target"])["candidates"], "every step has other candidates"

    full = await resolve_walkthrough(page, base, strip=False)
    for step in invite_steps():
        result = full[step["id"]]
        assert (result["status"], result["testid"]) == ("found", intended(step)), result
        assert (result["strategy"], result["candidate"]) == ("testid", 0)

    stripped = await resolve_walkthrough(page, base, strip=True)
    for step in invite_steps():
        result = stripped[step["id"]]
        if variant == "standard" or step["id"] in FORM_FIELDS:
            assert (result["status"], result["testid"]) == ("found", intended(step)), result
        elif result["status"] in ("found", "not_visible"):
            assert result["testid"] == intended(step), f"wrong element for {step['id']}: {result}"
        else:
            assert result["status"] in ("not_found", "ambiguous"), result


@pytest.mark.parametrize("variant", ["standard", "mutated"])
async def test_a_described_element_is_found_again_by_its_fingerprint(
    csp_free_page: Page, stack: Stack, variant: str
) -> None:
    page, base = csp_free_page, stack.demo(variant)
    await sign_in(page, base)
    await goto(page, f"{base}/team/invite", "form input")
    for testid in ["invite-name", "invite-email", "invite-role", "invite-message", "invite-submit"]:
        fingerprint = await page.evaluate(DESCRIBE, [f"[data-testid={testid}]", None])
        Fingerprint.model_validate(fingerprint)  # the walkthrough format's own shape
        assert fingerprint["heading"] == "Invite a teammate"
        assert fingerprint["landmark"] == "main"
        assert fingerprint["attributes"]["data-testid"] == testid
        # Only the fingerprint can find it: the one candidate matches nothing.
        descriptor = {"candidates": [{"kind": "css", "value": "#gone"}], "fingerprint": fingerprint}
        result = await resolve(page, descriptor)
        assert (result["status"], result["testid"], result["strategy"]) == (
            "found",
            testid,
            "fingerprint",
        ), result
        assert result["similarity"] == pytest.approx(1.0)


# -- 2. The late element -----------------------------------------------------------------

LATE_PANEL_ACTION: dict[str, Any] = {
    "candidates": [
        {"kind": "testid", "value": "late-panel-action"},
        {"kind": "role", "value": "link", "name": "Turn on autopay"},
        {"kind": "text", "value": "Turn on autopay"},
    ],
    "fingerprint": {
        "tag": "a",
        "role": "link",
        "name": "Turn on autopay",
        "text": "Turn on autopay",
        "attributes": {"href": "/billing"},
        "heading": "Set up automatic payments",
        "landmark": "main",
    },
}


async def test_the_late_panel_is_waited_for(csp_free_page: Page, stack: Stack) -> None:
    page, base = csp_free_page, stack.demo()
    await sign_in(page, base)
    await goto(page, f"{base}/home")
    now = await resolve(page, LATE_PANEL_ACTION, timeoutMs=0)
    assert now["status"] == "not_found", now
    assert [t["matches"] for t in now["tried"]] == [0, 0, 0]
    later = await resolve(page, LATE_PANEL_ACTION, timeoutMs=8000)
    assert (later["status"], later["testid"], later["strategy"]) == (
        "found",
        "late-panel-action",
        "testid",
    ), later


async def test_waiting_gives_up_at_the_deadline(csp_free_page: Page, stack: Stack) -> None:
    page, base = csp_free_page, stack.demo()
    await sign_in(page, base)
    await goto(page, f"{base}/team")
    missing = {"candidates": [{"kind": "testid", "value": "never-there"}]}
    took = await page.evaluate(
        """async (d) => { const t = performance.now();
             const r = await window.TandemResolver.resolve(d, {timeoutMs: 600});
             return [r.status, performance.now() - t]; }""",
        missing,
    )
    assert took[0] == "not_found"
    assert 550 <= took[1] < 3000


# -- 3. Shadow roots and iframes on the demo site ------------------------------------------


async def test_an_input_in_an_open_shadow_root(csp_free_page: Page, stack: Stack) -> None:
    page, base = csp_free_page, stack.demo()
    await sign_in(page, base)
    await goto(page, f"{base}/billing")
    by_chain: dict[str, Any] = {
        "candidates": [{"kind": "shadow", "chain": ["acme-address-form", "input[name=line1]"]}],
        "fingerprint": {"tag": "input", "role": "textbox", "name": "Street address"},
    }
    by_label: dict[str, Any] = {"candidates": [{"kind": "label", "value": "Street address"}]}
    for descriptor, strategy in [(by_chain, "shadow"), (by_label, "label")]:
        result = await resolve(page, descriptor)
        assert (result["status"], result["testid"], result["strategy"]) == (
            "found",
            "address-line1",
            strategy,
        ), result

    fingerprint = await page.evaluate(DESCRIBE, ["input[name=line1]", "acme-address-form"])
    assert fingerprint["name"] == "Street address"
    assert fingerprint["heading"] == "Billing address"
    assert fingerprint["shadow_hosts"] == ['acme-address-form[data-testid="address-form"]']
    # A plain CSS selector does not cross the shadow boundary.
    plain = await resolve(
        page, {"candidates": [{"kind": "css", "value": "acme-address-form input"}]}
    )
    assert plain["status"] == "not_found"


async def test_a_button_in_a_same_origin_iframe(csp_free_page: Page, stack: Stack) -> None:
    page, base = csp_free_page, stack.demo()
    await sign_in(page, base)
    await goto(page, f"{base}/settings")
    await (
        page.frame_locator("[data-testid=notifications-frame]")
        .get_by_test_id("iframe-save")
        .wait_for()
    )
    descriptor = {
        "candidates": [
            {"kind": "role", "value": "button", "name": "Save notification settings"},
            {"kind": "css", "value": "button[type=submit]"},
        ],
        "fingerprint": {
            "tag": "button",
            "role": "button",
            "name": "Save notification settings",
            "frame": ["[data-testid=notifications-frame]"],
        },
    }
    result = await resolve(page, descriptor)
    assert (result["status"], result["testid"], result["strategy"]) == (
        "found",
        "iframe-save",
        "role",
    ), result
    # Following the frame, the css candidate agrees: the page's own submit buttons are not searched.
    assert [t["matches"] for t in result["tried"]] == [1, 1]
    fingerprint = await page.evaluate(DESCRIBE, ["[data-testid=iframe-save]", "iframe"])
    assert fingerprint["frame"] == ['iframe[data-testid="notifications-frame"]']
    assert fingerprint["heading"] == "Email notifications"


# -- 4. Decoys ---------------------------------------------------------------------------

SAVE_FINGERPRINT: dict[str, Any] = {
    "tag": "button",
    "role": "button",
    "name": "Save",
    "text": "Save",
}
DELETE_ACCOUNT: dict[str, Any] = {
    "tag": "button",
    "role": "button",
    "name": "Delete account",
    "text": "Delete account",
    "attributes": {"type": "button"},
    "heading": "Danger zone",
    "landmark": "main",
}
EXPORT: dict[str, Any] = {
    "tag": "button",
    "role": "button",
    "name": "Export report",
    "text": "Export report",
    "attributes": {"type": "button"},
    "heading": "Reports",
    "landmark": "main",
    "position": {"x": 0.92, "y": 0.04},
}


def role(value: str, name: str) -> dict[str, Any]:
    return {"kind": "role", "value": value, "name": name}


def by_testid(value: str) -> dict[str, Any]:
    return {"kind": "testid", "value": value}


def hidden_row(testid_value: str, status: str = "not_visible") -> Any:
    return pytest.param(
        "hidden.html",
        {"candidates": [by_testid(testid_value)]},
        status,
        testid_value,
        id=f"hidden-{testid_value}",
    )


# page, descriptor, expected status, expected data-expect of the element (found / not_visible)
DECOYS = [
    pytest.param(
        "duplicate-text.html",
        {
            "candidates": [{"kind": "text", "value": "Save"}, role("button", "Save")],
            "fingerprint": dict(SAVE_FINGERPRINT, heading="Billing details"),
        },
        "found",
        "billing-save",
        id="duplicate-text-heading-decides",
    ),
    pytest.param(
        "duplicate-text.html",
        {
            "candidates": [{"kind": "text", "value": "Save"}, role("button", "Save")],
            "fingerprint": SAVE_FINGERPRINT,
        },
        "ambiguous",
        None,
        id="duplicate-text-without-heading",
    ),
    pytest.param(
        "duplicate-text.html",
        {
            "candidates": [
                {"kind": "css", "value": ".profile button"},
                {"kind": "xpath", "value": "//section[2]/button"},
            ],
            "fingerprint": SAVE_FINGERPRINT,
        },
        "ambiguous",
        None,
        id="candidates-disagree-alike",
    ),
    pytest.param(
        "duplicate-testid.html",
        {"candidates": [by_testid("save"), {"kind": "text", "value": "Publish"}]},
        "found",
        "publish",
        id="duplicate-testid-text-decides",
    ),
    pytest.param(
        "duplicate-testid.html",
        {
            "candidates": [by_testid("save")],
            "fingerprint": {"tag": "button", "role": "button", "name": "Save draft"},
        },
        "found",
        "draft",
        id="duplicate-testid-fingerprint-decides",
    ),
    pytest.param(
        "duplicate-testid.html",
        {
            "candidates": [by_testid("twin")],
            "fingerprint": {"tag": "button", "role": "button", "name": "Retry", "heading": "Jobs"},
        },
        "ambiguous",
        None,
        id="duplicate-testid-identical",
    ),
    pytest.param(
        "moved.html",
        {
            "candidates": [
                {"kind": "css", "value": ".page-head > button"},
                role("button", "Export report"),
            ],
            "fingerprint": EXPORT,
        },
        "found",
        "export",
        id="moved-found-by-role",
    ),
    pytest.param(
        "moved.html",
        {"candidates": [{"kind": "css", "value": "#export-open"}], "fingerprint": EXPORT},
        "found",
        "export",
        id="moved-found-by-fingerprint",
    ),
    pytest.param(
        "removed.html",
        {
            "candidates": [
                by_testid("delete-account"),
                role("button", "Delete account"),
                {"kind": "xpath", "value": "//section[@id='danger']/button[1]"},
                {"kind": "css", "value": "#danger > button.danger"},
            ],
            "fingerprint": DELETE_ACCOUNT,
        },
        "not_found",
        None,
        id="removed-not-the-neighbour",
    ),
    pytest.param(
        "removed.html",
        {"candidates": [role("button", "Delete account")], "fingerprint": DELETE_ACCOUNT},
        "not_found",
        None,
        id="removed-no-fingerprint-lookalike",
    ),
    pytest.param(
        "duplicate-text.html",
        {
            "candidates": [{"kind": "css", "value": ".profile .primary"}],
            "fingerprint": dict(SAVE_FINGERPRINT, name="Store", text="Store"),
        },
        "found",
        "profile-save",
        id="first-candidate-alone-decides",
    ),
    hidden_row("display-none"),
    hidden_row("visibility-hidden"),
    hidden_row("zero-size"),
    hidden_row("inert"),
    hidden_row("parent-hidden"),
    hidden_row("in-details"),
    hidden_row("summary", "found"),
    hidden_row("shown", "found"),
    pytest.param(
        "kinds.html",
        {"candidates": [{"kind": "label", "value": "Email address"}]},
        "found",
        "email",
        id="label-for",
    ),
    pytest.param(
        "kinds.html",
        {"candidates": [{"kind": "label", "value": "company"}]},
        "found",
        "company",
        id="label-wrapping",
    ),
    pytest.param(
        "kinds.html",
        {"candidates": [role("textbox", "Phone")]},
        "found",
        "phone",
        id="role-name-labelledby",
    ),
    pytest.param(
        "kinds.html",
        {"candidates": [{"kind": "placeholder", "value": "to search", "exact": False}]},
        "found",
        "search",
        id="placeholder-partial",
    ),
    pytest.param(
        "kinds.html",
        {"candidates": [role("img", "Company logo"), {"kind": "alt", "value": "Company logo"}]},
        "found",
        "logo",
        id="alt",
    ),
    pytest.param(
        "kinds.html",
        {"candidates": [{"kind": "title", "value": "Open the help centre"}]},
        "found",
        "help",
        id="title",
    ),
    pytest.param(
        "kinds.html",
        {"candidates": [{"kind": "xpath", "value": "//form/button"}]},
        "found",
        "submit",
        id="xpath",
    ),
    pytest.param(
        "kinds.html",
        {"candidates": [{"kind": "css", "value": "#nope"}, {"kind": "xpath", "value": "//["}]},
        "not_found",
        None,
        id="invalid-selectors-match-nothing",
    ),
    pytest.param(
        "kinds.html",
        {
            "candidates": [role("button", "Save preferences")],
            "fingerprint": {"tag": "button", "frame": ["iframe[name=inner]"]},
        },
        "found",
        "frame-save",
        id="iframe-followed-cross-origin-skipped",
    ),
    pytest.param(
        "kinds.html",
        {"candidates": [{"kind": "shadow", "chain": ["outer-card", "inner-field", "input"]}]},
        "found",
        "nick",
        id="nested-shadow-chain",
    ),
    pytest.param(
        "kinds.html",
        {"candidates": [{"kind": "label", "value": "Nickname"}]},
        "found",
        "nick",
        id="label-in-nested-shadow-root",
    ),
    pytest.param(
        "kinds.html",
        {"candidates": [{"kind": "label", "value": "Secret"}]},
        "not_found",
        None,
        id="closed-shadow-root-out-of-reach",
    ),
]


@pytest.mark.parametrize(("fixture", "descriptor", "status", "element"), DECOYS)
async def test_decoys(
    csp_free_page: Page,
    fixture: str,
    descriptor: dict[str, Any],
    status: str,
    element: str | None,
) -> None:
    Target.model_validate(descriptor)  # every row is a valid descriptor
    page = csp_free_page
    await page.set_content((PAGES / fixture).read_text())
    await page.add_script_tag(path=BUNDLE)
    result = await resolve(page, descriptor)
    assert (result["status"], result["expect"]) == (status, element), result
