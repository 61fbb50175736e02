// @ts-check
/** The player's pure parts: step text, private fields, URL patterns, expected outcomes. */
import assert from "node:assert/strict";
import { test } from "node:test";

import { takenBranch } from "../src/player/branch.js";
import { actionAllowed, describeAction } from "../src/player/drive.js";
import { parseText, renderText } from "../src/player/markup.js";
import { outcomeMet, waitForOutcome } from "../src/player/outcome.js";
import { isPrivateAttributes } from "../src/player/private-field.js";
import { urlMatches } from "../src/player/url-match.js";

/** A document just big enough for renderText: elements with attributes and text. */
const fakeDoc = {
  /** @param {string} tag */
  createElement(tag) {
    /** @type {Record<string, string>} */
    const attributes = {};
    return { tag, textContent: "", attributes, setAttribute: (/** @type {string} */ k, /** @type {string} */ v) => void (attributes[k] = v) };
  },
  /** @param {string} text */
  createTextNode: (text) => ({ text }),
};

test("step text parses like the server's parse_text", () => {
  assert.deepEqual(parseText("Click **Invite** or *not*, run `make`.\nSee [docs](https://x.test/a)"), [
    { kind: "text", text: "Click " },
    { kind: "strong", text: "Invite" },
    { kind: "text", text: " or " },
    { kind: "em", text: "not" },
    { kind: "text", text: ", run " },
    { kind: "code", text: "make" },
    { kind: "text", text: "." },
    { kind: "br", text: "" },
    { kind: "text", text: "See " },
    { kind: "link", text: "docs", href: "https://x.test/a" },
  ]);
});

test("links to other schemes stay text; HTML stays text", () => {
  assert.deepEqual(parseText("[x](javascript:alert(1)) <b>hi</b>").map((s) => s.kind), ["text", "text"]);
  assert.deepEqual(parseText("[x](//evil.test/)").map((s) => s.kind), ["text"]);
});

test("rendered links open safely: new tab for http(s), same tab for paths", () => {
  const nodes = /** @type {any[]} */ (renderText(/** @type {any} */ (fakeDoc), "[a](https://x.test) [b](/team)"));
  assert.deepEqual(nodes[0].attributes, { href: "https://x.test", rel: "noopener noreferrer", target: "_blank" });
  assert.equal(nodes[0].textContent, "a");
  assert.deepEqual(nodes[2].attributes, { href: "/team", rel: "noopener noreferrer" });
});

test("private fields: passwords, one-time codes, cc-*, *-password, marked", () => {
  assert.equal(isPrivateAttributes({ tag: "INPUT", type: "password" }), true);
  assert.equal(isPrivateAttributes({ tag: "input", autocomplete: "one-time-code" }), true);
  assert.equal(isPrivateAttributes({ tag: "input", autocomplete: "billing cc-number" }), true);
  assert.equal(isPrivateAttributes({ tag: "input", autocomplete: "new-password" }), true);
  assert.equal(isPrivateAttributes({ tag: "textarea", marked: true }), true);
  assert.equal(isPrivateAttributes({ tag: "input", type: "email", autocomplete: "off" }), false);
  assert.equal(isPrivateAttributes({ tag: "select", autocomplete: "country" }), false);
});

test("URL patterns: URLPattern when present, else the same pathname syntax by hand", () => {
  assert.equal(urlMatches("/team/invite", "https://a.test/team/invite?x=1"), true);
  assert.equal(urlMatches("/team/invite", "https://a.test/team"), false);
  if ("URLPattern" in globalThis) assert.equal(urlMatches("/invoices/:id", "https://a.test/invoices/INV-1"), true);
  // Without URLPattern: `:name` is one segment, `*` anything, the rest literal — as URLPattern reads them.
  assert.equal(urlMatches("/invoices/:id", "https://a.test/invoices/INV-1", null), true);
  assert.equal(urlMatches("/invoices/:id", "https://a.test/invoices/INV-1/pdf", null), false);
  assert.equal(urlMatches("/billing/*", "https://a.test/billing/cards/new", null), true);
  assert.equal(urlMatches("/team", "https://a.test/team/invite", null), false);
  assert.equal(urlMatches("/a.b", "https://a.test/axb", null), false);
  assert.equal(urlMatches("https://a.test/team", "https://a.test/team", null), true);
});

test("expected outcomes: url, appears, disappears and value must all hold", () => {
  const probe = { href: "https://a.test/team/invite", shown: (/** @type {string} */ s) => s === "#sent", value: "member" };
  assert.equal(outcomeMet(undefined, probe), true);
  assert.equal(outcomeMet({ url: "/team/invite", appears: "#sent", value: "member" }, probe), true);
  assert.equal(outcomeMet({ appears: "#nope" }, probe), false);
  assert.equal(outcomeMet({ disappears: "#sent" }, probe), false);
  assert.equal(outcomeMet({ value: "admin" }, probe), false);
});

test("an outcome that never comes fails at the deadline", async () => {
  const probe = () => ({ href: "https://a.test/", shown: () => false, value: null });
  const started = Date.now();
  assert.equal(await waitForOutcome({ appears: "#x" }, probe, { deadlineMs: 150, intervalMs: 20 }), false);
  assert.ok(Date.now() - started >= 150);
});

test("drive mode allows only the listed keys and same-site paths", () => {
  const win = /** @type {any} */ ({ location: { href: "https://a.test/team", origin: "https://a.test" } });
  assert.equal(actionAllowed({ kind: "press", key: "Enter" }, null, win), true);
  assert.equal(actionAllowed({ kind: "press", key: "F5" }, null, win), false);
  assert.equal(actionAllowed({ kind: "navigate", url: "/reports" }, null, win), true);
  assert.equal(actionAllowed({ kind: "navigate", url: "https://evil.test/" }, null, win), false);
  assert.equal(actionAllowed({ kind: "navigate", url: "//evil.test/" }, null, win), false);
  assert.equal(actionAllowed({ kind: "click" }, null, win), false);
  assert.equal(describeAction({ kind: "select", value: "admin" }), "Choosing “admin”…");
});

test("a completed step takes the first branch whose condition holds, to a step the run has", () => {
  const page = { doc: /** @type {any} */ ({ querySelector: () => null, querySelectorAll: () => [] }), href: "https://shop.test/billing/cards" };
  const exists = (/** @type {string} */ id) => ["send", "done"].includes(id);
  const step = (/** @type {any[]} */ branches) => ({ id: "a", text: "", branches });
  assert.equal(takenBranch(step([]), page, exists), null);
  assert.equal(takenBranch(step([{ when: { appears: "#x" }, goto: "send" }, { when: { url: "/billing/*" }, goto: "done" }]), page, exists), "done");
  assert.equal(takenBranch(step([{ when: { always: true }, goto: "gone" }, { when: { always: true }, goto: "send" }]), page, exists), "send");
  assert.equal(takenBranch(step([{ when: { url: "/team" }, goto: "send" }]), page, exists), null);
});
