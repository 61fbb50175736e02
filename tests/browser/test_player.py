"""The walkthrough player (client_js/src/player, bundled as dist/player.js) in real Chromium.

The player is injected into the demo site with a simple resolver that finds a step's
`testid` candidate (through open shadow roots); each test plays a run and reads the step
events the player reported (window.__events) and why it ended (window.__ended).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import yaml
from playwright.async_api import Browser, FloatRect, Page, expect

from server.knowledge.render import render_steps
from server.knowledge.walkthrough import WalkthroughFile
from tests.browser.conftest import PageProblems, Stack, sign_in, wait_in_page
from tests.conftest import REPO

pytestmark = [pytest.mark.browser, pytest.mark.anyio]

BUNDLE = REPO / "client_js" / "dist" / "player.js"
WALKTHROUGH = REPO / "walkthroughs" / "demo" / "invite-teammate.yaml"

# Create a player with a resolver that finds the descriptor's testid candidate.
START = """([run, startAt]) => {
  const find = (root, id) => {
    const hit = root.querySelector(`[data-testid="${id}"]`);
    if (hit) return hit;
    for (const el of root.querySelectorAll('*')) {
      const inner = el.shadowRoot && find(el.shadowRoot, id);
      if (inner) return inner;
    }
    return null;
  };
  const resolve = async (descriptor, { timeoutMs }) => {
    const testid = (descriptor.candidates || []).find((c) => c.kind === 'testid');
    const until = Date.now() + timeoutMs;
    for (;;) {
      const element = testid && find(document, testid.value);
      if (element) return { status: 'found', element, strategy: 'testid', similarity: 1 };
      if (Date.now() >= until) return { status: 'not_found', element: null, strategy: null, similarity: 0 };
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  window.__events = [];
  window.__ended = [];
  window.__player = window.TandemPlayer.createPlayer({
    resolve,
    onEvent: (e) => window.__events.push(e),
    onEnd: (e) => window.__ended.push(e.reason),
  });
  window.__player.play(run, startAt === null ? {} : { startAt });
}"""

OVERLAY_GONE = "document.querySelector('tandem-player') === null"
CURRENT = "(window.__player.current() || {}).step"


@pytest.fixture
async def csp_free_page(browser: Browser) -> AsyncIterator[Page]:
    """A page whose context bypasses Content-Security-Policy.

    Only because Playwright's ``add_script_tag(path=...)`` inlines the bundle, which the
    demo's policy (scripts from 'self' only) would block; the player itself uses no
    inline script or style.
    """
    if not BUNDLE.exists():
        pytest.fail(f"{BUNDLE.relative_to(REPO)} is missing: run `node build.mjs` in client_js")
    context = await browser.new_context(viewport={"width": 1280, "height": 800}, bypass_csp=True)
    context.set_default_timeout(15_000)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    await context.close()
    assert errors == [], errors


def invite_run() -> dict[str, Any]:
    """The demo walkthrough rendered for Ada, as a `run` message carries it."""
    data = yaml.safe_load(WALKTHROUGH.read_text())
    steps = render_steps(WalkthroughFile.model_validate(data), traits={"first_name": "Ada"})
    return {"run": "run-1", "title": data["title"], "step": steps[0]["id"], "steps": steps}


def one_step_run(**step: Any) -> dict[str, Any]:
    return {"run": "run-1", "title": "Test", "steps": [{"id": "only", "text": "Do this.", **step}]}


def target(testid: str) -> dict[str, Any]:
    return {"candidates": [{"kind": "testid", "value": testid}]}


async def play(page: Page, url: str, run: dict[str, Any], start_at: str | None = None) -> None:
    await page.goto(url)
    await page.add_script_tag(path=BUNDLE)
    await page.evaluate(START, [run, start_at])


async def events(page: Page) -> list[tuple[str, str, str | None]]:
    found: list[dict[str, Any]] = await page.evaluate("window.__events")
    return [(e["step"], e["event"], e.get("reason")) for e in found]


async def test_first_step_shows_a_labelled_dialog_and_escape_ends_it(
    csp_free_page: Page, stack: Stack
) -> None:
    page, base = csp_free_page, stack.demo()
    await sign_in(page, base)
    await page.goto(f"{base}/team")
    await page.get_by_test_id("nav-team").focus()
    await page.add_script_tag(path=BUNDLE)
    await page.evaluate(START, [invite_run(), None])

    dialog = page.get_by_role("dialog", name="Click Invite a teammate to open the invitation form.")
    await expect(dialog).to_be_visible()
    await expect(dialog).to_have_accessible_description("Step 1 of 6")
    assert await page.evaluate("document.querySelector('tandem-player').matches(':popover-open')")
    # The highlight surrounds the target.
    ring = await page.evaluate(
        "document.querySelector('tandem-player').shadowRoot.querySelector('.highlight').getBoundingClientRect().toJSON()"
    )
    box = await page.get_by_test_id("invite-open").bounding_box()
    assert box is not None
    assert ring["x"] < box["x"] and ring["y"] < box["y"]
    assert ring["x"] + ring["width"] > box["x"] + box["width"]
    assert ring["y"] + ring["height"] > box["y"] + box["height"]
    # Focus moved into the dialog.
    assert await page.evaluate(
        "document.activeElement.localName === 'tandem-player'"
        " && document.activeElement.shadowRoot.activeElement.getAttribute('role') === 'dialog'"
    )
    assert await events(page) == [("open-form", "shown", None)]

    await page.keyboard.press("Escape")
    await wait_in_page(page, OVERLAY_GONE, within=5)
    assert await page.evaluate("window.__ended") == ["closed"]
    assert await page.evaluate("document.activeElement.dataset.testid") == "nav-team"


async def test_drive_mode_fills_the_preact_form_and_sends_the_invitation(
    csp_free_page: Page, stack: Stack
) -> None:
    page, base = csp_free_page, stack.demo()
    await sign_in(page, base)
    run = invite_run()
    role = next(s for s in run["steps"] if s["id"] == "role")
    role["action"]["value"] = role["expect"]["value"] = "admin"  # not the default: a real change
    await play(page, f"{base}/team/invite", run, "name")

    await wait_in_page(page, f"{CURRENT} === 'name'", within=10)
    await page.get_by_test_id("invite-name").fill("Grace Hopper")
    await wait_in_page(page, f"{CURRENT} === 'email'", within=10)
    await page.get_by_test_id("invite-email").fill("grace.h@acme.test")
    await wait_in_page(page, f"{CURRENT} === 'role'", within=10)
    do_it = page.get_by_role("button", name="Do it for me")
    await do_it.click()
    await wait_in_page(page, f"{CURRENT} === 'message'", within=10)
    await expect(page.get_by_test_id("invite-role")).to_have_value("admin")
    await do_it.click()
    await wait_in_page(page, f"{CURRENT} === 'send'", within=10)
    async with page.expect_request("**/api/team/invites") as sent:
        await do_it.click()
    body = (await sent.value).post_data_json
    assert body == {
        "name": "Grace Hopper",
        "email": "grace.h@acme.test",
        "role": "admin",
        "message": "Hi! Ada here: join me on Acme Billing.",
    }
    await expect(page.get_by_test_id("invite-sent")).to_contain_text("grace.h@acme.test")
    await wait_in_page(page, OVERLAY_GONE, within=5)
    assert await page.evaluate("window.__ended") == ["completed"]
    assert [e for e in await events(page) if e[1] != "shown"] == [
        (step, "completed", None) for step in ("name", "email", "role", "message", "send")
    ]


async def test_drive_mode_refuses_a_card_number_field(csp_free_page: Page, stack: Stack) -> None:
    page, base = csp_free_page, stack.demo()
    await sign_in(page, base)
    run = one_step_run(
        target=target("card-number"), action={"kind": "fill", "value": "4242 4242 4242 4242"}
    )
    await play(page, f"{base}/billing/payment-methods/new", run)
    await wait_in_page(page, f"{CURRENT} === 'only'", within=10)
    # Never offered, and refused when asked for anyway.
    await expect(page.get_by_role("button", name="Do it for me")).to_be_hidden()
    await expect(page.get_by_text("You do this one")).to_be_visible()
    await page.evaluate("window.__player.drive()")
    assert await events(page) == [("only", "shown", None), ("only", "failed", "private_field")]
    await expect(page.get_by_test_id("card-number")).to_have_value("")
    await page.evaluate("window.__player.stop()")
    await wait_in_page(page, OVERLAY_GONE, within=5)


async def test_an_unexpected_outcome_stops_drive_mode(csp_free_page: Page, stack: Stack) -> None:
    page, base = csp_free_page, stack.demo()
    await sign_in(page, base)
    run = one_step_run(
        target=target("invite-role"),
        action={"kind": "select", "value": "viewer"},
        expect={"appears": "[data-testid=never-there]"},
    )
    await play(page, f"{base}/team/invite", run)
    await page.get_by_role("button", name="Do it for me").click()
    stop = page.get_by_role("button", name="Stop")
    await expect(stop).to_be_visible()
    await expect(page.get_by_text("Choosing “viewer”")).to_be_visible()
    await wait_in_page(page, OVERLAY_GONE, within=6)
    await expect(stop).to_have_count(0)
    assert await events(page) == [("only", "shown", None), ("only", "failed", "unexpected_outcome")]
    assert await page.evaluate("window.__ended") == ["unexpected_outcome"]


@pytest.mark.parametrize(
    ("when_missing", "expected", "ended"),
    [
        ("skip", [("missing", "skipped", "target_missing"), ("open", "shown", None)], []),
        ("abort", [("missing", "failed", "target_missing")], ["target_missing"]),
        ("escalate", [("missing", "failed", "escalate")], ["escalate"]),
    ],
)
async def test_a_missing_target_follows_when_missing(
    csp_free_page: Page,
    stack: Stack,
    when_missing: str,
    expected: list[tuple[str, str, str | None]],
    ended: list[str],
) -> None:
    page, base = csp_free_page, stack.demo()
    await sign_in(page, base)
    missing = {"id": "missing", "text": "Nowhere.", "target": target("no-such-thing")}
    run = {
        "run": "run-1",
        "steps": [
            {**missing, "timeout_ms": 500, "when_missing": when_missing},
            {"id": "open", "text": "Open the form.", "target": target("invite-open")},
        ],
    }
    await play(page, f"{base}/team", run)
    await wait_in_page(page, "window.__events.length > 0 && window.__events.at(-1).step", within=5)
    await page.wait_for_timeout(300)
    assert await events(page) == expected
    assert await page.evaluate("window.__ended") == ended
    if ended:
        assert await page.evaluate(OVERLAY_GONE)
    else:
        await expect(page.get_by_role("dialog", name="Open the form.")).to_be_visible()
        await page.evaluate("window.__player.stop()")
        assert await page.evaluate(OVERLAY_GONE)


async def test_the_tooltip_stays_clickable_above_a_modal_dialog(
    csp_free_page: Page, stack: Stack
) -> None:
    page, base = csp_free_page, stack.demo()
    await sign_in(page, base)
    await page.goto(f"{base}/reports")
    await page.get_by_test_id("export-open").click()
    assert await page.get_by_test_id("export-dialog").evaluate("d => d.matches(':modal')")
    await page.add_script_tag(path=BUNDLE)
    run = {
        "run": "run-1",
        "steps": [
            {"id": "format", "text": "Pick a **format**.", "target": target("export-format")},
            {"id": "confirm", "text": "Then export.", "target": target("export-confirm")},
        ],
    }
    await page.evaluate(START, [run, None])
    await expect(page.get_by_role("dialog", name="Pick a format.")).to_be_visible()
    assert (
        await page.evaluate("document.querySelector('tandem-player').parentElement.dataset.testid")
        == "export-dialog"
    )
    assert await page.evaluate("document.querySelector('tandem-player').matches(':popover-open')")
    await page.get_by_role("button", name="Next").click()  # fails if anything covers it
    await expect(page.get_by_role("dialog", name="Then export.")).to_be_visible()
    assert await events(page) == [
        ("format", "shown", None),
        ("format", "completed", None),
        ("confirm", "shown", None),
    ]
    await page.get_by_role("button", name="Close the walkthrough").click()
    await wait_in_page(page, OVERLAY_GONE, within=5)


async def test_the_player_runs_under_the_demo_csp_and_becomes_a_bottom_sheet_when_narrow(
    page: Page, stack: Stack, problems: PageProblems
) -> None:
    """No bypass here: the bundle is served from the demo's own origin, as tandem.js would be."""
    base = stack.demo()
    await sign_in(page, base)
    await page.route(
        f"{base}/test-assets/player.js",
        lambda route: route.fulfill(path=BUNDLE, content_type="text/javascript"),
    )
    await page.set_viewport_size({"width": 480, "height": 800})
    await page.goto(f"{base}/team")
    await page.add_script_tag(url=f"{base}/test-assets/player.js")
    await page.evaluate(START, [invite_run(), None])
    dialog = page.get_by_role("dialog", name="Click Invite a teammate to open the invitation form.")
    await expect(dialog).to_be_visible()
    assert await dialog.evaluate("d => d.classList.contains('sheet')")
    box = await dialog.bounding_box()
    assert box is not None
    assert box["x"] == 0 and box["width"] == 480 and round(box["y"] + box["height"]) == 800
    await page.get_by_role("button", name="Close the walkthrough").click()
    await wait_in_page(page, OVERLAY_GONE, within=5)
    assert problems.csp_violations == []
    assert problems.errors == []


RESOLVER = REPO / "client_js" / "dist" / "resolver.js"

# The same player with the real resolver (dist/resolver.js), as tandem.js plays it.
START_REAL = """([run]) => {
  window.__events = [];
  window.__ended = [];
  window.__player = window.TandemPlayer.createPlayer({
    resolve: (descriptor, options) => window.TandemResolver.resolve(descriptor, options),
    onEvent: (e) => window.__events.push(e),
    onEnd: (e) => window.__ended.push(e.reason),
  });
  window.__player.play(run);
}"""


async def play_real(page: Page, url: str, run: dict[str, Any]) -> None:
    await page.goto(url)
    await page.add_script_tag(path=RESOLVER)
    await page.add_script_tag(path=BUNDLE)
    await page.evaluate(START_REAL, [run])


async def ring_around(page: Page, box: FloatRect | None) -> None:
    """The highlight surrounds `box` (page coordinates of the target)."""
    ring = await page.evaluate(
        "document.querySelector('tandem-player').shadowRoot.querySelector('.highlight').getBoundingClientRect().toJSON()"
    )
    assert box is not None
    assert ring["x"] < box["x"] < ring["x"] + 8 and ring["y"] < box["y"] < ring["y"] + 8, (
        ring,
        box,
    )
    assert abs(ring["width"] - 8 - box["width"]) < 2 and abs(ring["height"] - 8 - box["height"]) < 2


async def test_steps_inside_an_iframe_are_highlighted_in_place_and_driven(
    csp_free_page: Page, stack: Stack
) -> None:
    page, base = csp_free_page, stack.demo()
    await sign_in(page, base)
    frame = ["[data-testid=notifications-frame]"]
    run = {
        "run": "run-1",
        "title": "Notifications",
        "steps": [
            {
                "id": "paid",
                "text": "Tick **Payment received**.",
                "target": {
                    "candidates": [{"kind": "css", "value": "input[name=paid]"}],
                    "fingerprint": {"tag": "input", "frame": frame},
                },
                "action": {"kind": "check", "checked": True},
                "expect": {"value": "on"},
            },
            {
                "id": "save",
                "text": "Save.",
                "target": {
                    "candidates": [{"kind": "testid", "value": "iframe-save"}],
                    "fingerprint": {"tag": "button", "frame": frame},
                },
                "action": {"kind": "click"},
                "advance": {"after": "appears", "selector": "[data-testid=iframe-saved]"},
                "expect": {"appears": "[data-testid=iframe-saved]"},
            },
        ],
    }
    await play_real(page, f"{base}/settings", run)
    await wait_in_page(page, f"{CURRENT} === 'paid'", within=10)
    inner = page.frame_locator("[data-testid=notifications-frame]")
    await ring_around(page, await inner.locator("input[name=paid]").bounding_box())
    do_it = page.get_by_role("button", name="Do it for me")
    await do_it.click()
    await wait_in_page(page, f"{CURRENT} === 'save'", within=10)
    await expect(inner.locator("input[name=paid]")).to_be_checked()
    await ring_around(page, await inner.get_by_test_id("iframe-save").bounding_box())
    await do_it.click()
    await expect(inner.get_by_test_id("iframe-saved")).to_be_visible()
    await wait_in_page(page, OVERLAY_GONE, within=10)
    assert await page.evaluate("window.__ended") == ["completed"]
    assert [e[1] for e in await events(page)] == ["shown", "completed", "shown", "completed"]


async def test_a_field_in_a_shadow_root_is_found_highlighted_and_filled(
    csp_free_page: Page, stack: Stack
) -> None:
    page, base = csp_free_page, stack.demo()
    await sign_in(page, base)
    run = one_step_run(
        target={
            "candidates": [
                {"kind": "shadow", "chain": ["acme-address-form", "input[name=city]"]},
                {"kind": "testid", "value": "address-city"},
            ],
            "fingerprint": {"tag": "input", "shadow_hosts": ["acme-address-form"]},
        },
        action={"kind": "fill", "value": "Paris"},
        expect={"value": "Paris"},
    )
    await play_real(page, f"{base}/billing", run)
    await wait_in_page(page, f"{CURRENT} === 'only'", within=10)
    city = page.get_by_test_id("address-city")
    await ring_around(page, await city.bounding_box())
    shown = (await page.evaluate("window.__events"))[0]
    assert shown["strategy"] == "shadow"
    await page.get_by_role("button", name="Do it for me").click()
    await wait_in_page(page, OVERLAY_GONE, within=10)
    await expect(city).to_have_value("Paris")
    assert await page.evaluate("window.__ended") == ["completed"]


async def test_press_scroll_wait_and_navigate_steps_are_driven(
    csp_free_page: Page, stack: Stack
) -> None:
    page, base = csp_free_page, stack.demo()
    await sign_in(page, base)
    run = {
        "run": "run-1",
        "title": "Every kind",
        "steps": [
            {"id": "scroll", "text": "Down there.", "target": target("activity-download"), "action": {"kind": "scroll"}},
            {"id": "press", "text": "Press Enter.", "target": target("dead-button"), "action": {"kind": "press", "key": "Enter"}},
            {"id": "pause", "text": "A moment.", "action": {"kind": "wait", "ms": 300}},
            {"id": "go", "text": "To the reports.", "action": {"kind": "navigate", "url": "/reports"}, "expect": {"url": "/reports"}},
        ],
    }  # fmt: skip
    await play_real(page, f"{base}/settings", run)
    await page.evaluate(
        "window.__keys = []; document.querySelector('[data-testid=dead-button]')"
        ".addEventListener('keydown', (e) => window.__keys.push(e.key))"
    )
    await wait_in_page(page, f"{CURRENT} === 'scroll'", within=10)
    # A target below the fold is brought into view (clear of the sticky header) to be shown.
    await expect(page.get_by_test_id("activity-download")).to_be_in_viewport()
    assert await page.evaluate("scrollY") > 0
    do_it = page.get_by_role("button", name="Do it for me")
    await do_it.click()
    await wait_in_page(page, f"{CURRENT} === 'press'", within=10)
    await do_it.click()
    await wait_in_page(page, f"{CURRENT} === 'pause'", within=10)
    assert await page.evaluate("window.__keys") == ["Enter"]
    await do_it.click()
    await wait_in_page(page, f"{CURRENT} === 'go'", within=10)
    await do_it.click()
    await page.wait_for_url(f"{base}/reports")
