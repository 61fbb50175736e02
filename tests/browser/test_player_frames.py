"""The player with the real resolver (dist/resolver.js), as tandem.js plays it: targets inside
same-origin iframes and open shadow roots are found, ringed in place and driven, and every
action kind the format allows is performed."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import FloatRect, Page, expect

from tests.browser.conftest import Stack, sign_in, wait_in_page
from tests.browser.test_player import (
    BUNDLE,
    CURRENT,
    OVERLAY_GONE,
    events,
    one_step_run,
    target,
)
from tests.conftest import REPO

pytestmark = [pytest.mark.browser, pytest.mark.anyio]

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
    player_page: Page, stack: Stack
) -> None:
    page, base = player_page, stack.demo()
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
    player_page: Page, stack: Stack
) -> None:
    page, base = player_page, stack.demo()
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
    player_page: Page, stack: Stack
) -> None:
    page, base = player_page, stack.demo()
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
