"""``tandem export playwright FILE``: a walkthrough as a runnable Playwright (Python) test.

Each step becomes the locator Playwright would write for its first candidate that Playwright
can express (test id, role and name, label, placeholder, alt, text, title, CSS), then what
the visitor does there: the step's action, else what its ``advance`` waits for (a click,
some typing), then its expected outcome as an assertion. The test takes the site's address
from ``TANDEM_BASE_URL`` and, when set, a storage state (signed in) from
``TANDEM_STORAGE_STATE``.
"""

from __future__ import annotations

import re
from typing import Any

from server.knowledge.walkthrough import Step, WalkthroughFile

SAMPLE = {"first_name": "Tandem", "last_name": "Export", "email": "export@example.com"}


def _value(template: str | None) -> str:
    return re.sub(
        r"\{\{\s*user\.(\w+)\s*\}\}", lambda m: SAMPLE.get(m.group(1), "Tandem"), template or ""
    )


def locator(step: Step) -> str:
    """The Playwright locator expression for the step's target (its first expressible candidate)."""
    assert step.target is not None
    fingerprint = step.target.fingerprint
    frames = fingerprint.frame if fingerprint else []
    # An element inside iframes: Playwright reaches it through a frame locator per iframe.
    page = "page" + "".join(f".frame_locator({selector!r})" for selector in frames)
    for candidate in step.target.candidates:
        c: dict[str, Any] = candidate.model_dump(exclude_none=True)
        kind, value = c["kind"], c.get("value")
        if kind == "testid":
            return f"{page}.get_by_test_id({value!r})"
        if kind == "role":
            name = f", name={c['name']!r}" if c.get("name") else ""
            return f"{page}.get_by_role({value!r}{name})"
        if kind in ("label", "placeholder", "text", "title"):
            exact = ", exact=True" if c.get("exact", True) else ""
            return f"{page}.get_by_{kind}({value!r}{exact})"
        if kind == "alt":
            return f"{page}.get_by_alt_text({value!r})"
        if kind == "css":
            return f"{page}.locator({value!r})"
        if kind == "xpath":
            return f"{page}.locator({'xpath=' + str(value)!r})"
        if kind == "shadow":  # Playwright's CSS pierces open shadow roots: host, then the element
            chain = c["chain"]
            return f"{page}.locator({chain[0]!r}).locator({chain[-1]!r})"
    raise ValueError(f"step {step.id}: no candidate Playwright can express")


def _step_lines(step: Step) -> list[str]:
    lines = [f"    # {step.id}: {step.text.splitlines()[0][:90]}"]
    action = step.action
    if step.target is None:
        if action is not None and action.kind == "navigate" and action.url:
            return [*lines, f"    page.goto(BASE_URL + {action.url!r})"]
        if action is not None and action.kind == "press" and action.key:
            return [*lines, f"    page.keyboard.press({action.key!r})"]
        return [*lines, "    # (no target: nothing to do on the page)"]
    fingerprint = step.target.fingerprint
    if fingerprint is not None and (fingerprint.attributes or {}).get("type") == "file":
        return [*lines, "    # (an upload: the visitor chooses the file)"]
    target = locator(step)
    if action is not None and action.kind == "click":
        lines.append(f"    {target}.click()")
    elif action is not None and action.kind == "fill":
        lines.append(f"    {target}.fill({_value(action.value)!r})")
    elif action is not None and action.kind == "select":
        lines.append(f"    {target}.select_option({_value(action.value)!r})")
    elif action is not None and action.kind == "check":
        lines.append(f"    {target}.set_checked({action.checked is not False})")
    elif action is not None and action.kind == "press":
        lines.append(f"    {target}.press({(action.key or 'Enter')!r})")
    elif action is not None and action.kind == "hover":
        lines.append(f"    {target}.hover()")
    elif step.advance.after == "input":
        fingerprint = step.target.fingerprint
        kind = (fingerprint.attributes or {}).get("type") if fingerprint else None
        typed = SAMPLE["email"] if kind == "email" else "Tandem Export"
        lines.append(f"    {target}.fill({typed!r})")
    elif step.advance.after in ("click", "url", "appears", "disappears"):
        lines.append(f"    {target}.click()")
    else:
        lines.append(f"    expect({target}).to_be_visible()")
    expect = step.expect
    if expect is not None and expect.appears:
        lines.append(f"    expect(page.locator({expect.appears!r})).to_be_visible()")
    if expect is not None and expect.disappears:
        lines.append(f"    expect(page.locator({expect.disappears!r})).to_be_hidden()")
    if expect is not None and isinstance(expect.url, str):
        pattern = re.escape(expect.url).replace(r"\*", ".*")
        lines.append(f"    expect(page).to_have_url(re.compile({pattern + '$'!r}))")
    if expect is not None and expect.value is not None:
        lines.append(f"    expect({target}).to_have_value({_value(expect.value)!r})")
    return lines


def playwright_test(walkthrough: WalkthroughFile) -> str:
    """The Python source of a pytest test playing the walkthrough with Playwright."""
    urls = [u for u in walkthrough.applies.urls if isinstance(u, str) and u.startswith("/")]
    start = re.sub(r"[:*].*$", "", urls[0]) if urls else "/"
    name = walkthrough.id.replace("-", "_")
    body = [line for step in walkthrough.steps for line in _step_lines(step)]
    return "\n".join([
        f'"""{walkthrough.title} (walkthrough {walkthrough.id} v{walkthrough.version}), exported by',
        'tandem export playwright: run it with pytest-playwright, or as a plain script."""',
        "",
        "import os",
        "import re",
        "",
        "from playwright.sync_api import Page, expect",
        "",
        'BASE_URL = os.environ.get("TANDEM_BASE_URL", "http://127.0.0.1:8001")',
        "",
        "",
        f"def test_{name}(page: Page) -> None:",
        f"    page.goto(BASE_URL + {start!r})",
        *body,
        "",
        "",
        'if __name__ == "__main__":  # a plain script: its own Chromium',
        "    from playwright.sync_api import sync_playwright",
        "",
        '    chromium = os.environ.get("TANDEM_CHROMIUM") or None',
        "    with sync_playwright() as pw:",
        '        browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox"] if chromium else [])',
        '        context = browser.new_context(storage_state=os.environ.get("TANDEM_STORAGE_STATE") or None)',
        f"        test_{name}(context.new_page())",
        "        browser.close()",
        f'    print("passed: {walkthrough.id}")',
        "",
    ])  # fmt: skip
