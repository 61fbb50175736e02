"""The walkthrough player (client_js/src/player, bundled as dist/player.js) in real Chromium.

The player is injected into the demo site with a simple resolver that finds a step's
`testid` candidate (through open shadow roots); each test plays a run and reads the step
events the player reported (window.__events) and why it ended (window.__ended).
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from playwright.async_api import Page, expect

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
    player_page: Page, stack: Stack
) -> None:
    page, base = player_page, stack.demo()
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
    player_page: Page, stack: Stack
) -> None:
    page, base = player_page, stack.demo()
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


async def test_drive_mode_refuses_a_card_number_field(player_page: Page, stack: Stack) -> None:
    page, base = player_page, stack.demo()
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


async def test_an_unexpected_outcome_stops_drive_mode(player_page: Page, stack: Stack) -> None:
    page, base = player_page, stack.demo()
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
    player_page: Page,
    stack: Stack,
    when_missing: str,
    expected: list[tuple[str, str, str | None]],
    ended: list[str],
) -> None:
    page, base = player_page, stack.demo()
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
    player_page: Page, stack: Stack
) -> None:
    page, base = player_page, stack.demo()
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
