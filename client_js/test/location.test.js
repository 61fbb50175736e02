// @ts-check
import assert from "node:assert/strict";
import { test } from "node:test";

import { LocationTracker, SETTLE_MS, readMarkers } from "../src/location.js";

/**
 * A page just big enough for the tracker: location, title, referrer, markers, focus, history.
 * @param {string} href
 */
function fakePage(href) {
  /** @type {string[]} */
  const markers = [];
  const doc = Object.assign(new EventTarget(), {
    title: "Home · Acme",
    referrer: "https://mail.test/inbox?session=abc",
    visibilityState: "visible",
    focused: true,
    hasFocus() {
      return this.focused;
    },
    /** @param {string} selector */
    querySelectorAll(selector) {
      assert.equal(selector, "[data-tandem-process]");
      return markers.map((value) => ({ getAttribute: () => value }));
    },
  });
  /** @type {string[]} */
  const historyCalls = [];
  const location = { href };
  const history = {
    /** @param {unknown} _data @param {string} _unused @param {string} url */
    pushState(_data, _unused, url) {
      historyCalls.push(`push ${url}`);
      location.href = new URL(url, location.href).href;
    },
    /** @param {unknown} _data @param {string} _unused @param {string} url */
    replaceState(_data, _unused, url) {
      historyCalls.push(`replace ${url}`);
      location.href = new URL(url, location.href).href;
    },
  };
  const win = Object.assign(new EventTarget(), { document: doc, location, history });
  /** @type {Record<string, unknown>[]} */
  const sent = [];
  let cseq = 0;
  const tracker = new LocationTracker({
    win: /** @type {Window} */ (/** @type {unknown} */ (win)),
    send: (build) => sent.push(build(++cseq)),
    now: () => 1_795_000_000_000 + cseq,
  });
  return { win, doc, location, history, historyCalls, markers, sent, tracker };
}

/** @param {Record<string, unknown>[]} sent @param {string} kind */
const ofKind = (sent, kind) => sent.filter((m) => m.kind === kind);

test("readMarkers: the distinct data-tandem-process values", () => {
  const nodes = ["find-invoice", "", " find-invoice ", "add-card"].map((v) => ({ getAttribute: () => v }));
  const doc = /** @type {Document} */ (/** @type {unknown} */ ({ querySelectorAll: () => nodes }));
  assert.deepEqual(readMarkers(doc), ["find-invoice", "add-card"]);
});

test("on start: a load location after the page settles, sanitized, with the document's referrer", (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const page = fakePage("https://ada:pw@acme.test/home?token=abc#top");
  page.markers.push("find-invoice");
  page.tracker.start();
  t.mock.timers.tick(SETTLE_MS - 1);
  assert.equal(ofKind(page.sent, "location").length, 0, "waits for the page to settle");
  t.mock.timers.tick(1);
  const [load] = ofKind(page.sent, "location");
  assert.deepEqual(load, {
    kind: "location",
    cseq: load.cseq,
    at: load.at,
    url: "https://acme.test/home?token=redacted#top",
    title: "Home · Acme",
    markers: ["find-invoice"],
    referrer: "https://mail.test/inbox?session=redacted",
  });
});

test("pushState: the page's own pushState runs first, then a push location with the previous url as referrer", (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const page = fakePage("https://acme.test/invoices");
  page.tracker.start();
  t.mock.timers.tick(SETTLE_MS);
  page.win.history.pushState({}, "", "/invoices/INV-1007");
  assert.deepEqual(page.historyCalls, ["push /invoices/INV-1007"]);
  assert.equal(page.location.href, "https://acme.test/invoices/INV-1007");
  page.doc.title = "INV-1007 · Acme"; // the SPA renders after the route change
  t.mock.timers.tick(SETTLE_MS);
  const push = ofKind(page.sent, "location")[1];
  assert.equal(push.nav, "push");
  assert.equal(push.url, "https://acme.test/invoices/INV-1007");
  assert.equal(push.title, "INV-1007 · Acme");
  assert.equal(push.referrer, "https://acme.test/invoices");
});

test("replaceState, popstate and hashchange report replace, pop and hash", (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const page = fakePage("https://acme.test/a");
  page.tracker.start();
  t.mock.timers.tick(SETTLE_MS);
  page.win.history.replaceState({}, "", "/b");
  t.mock.timers.tick(SETTLE_MS);
  page.location.href = "https://acme.test/a";
  page.win.dispatchEvent(new Event("popstate"));
  t.mock.timers.tick(SETTLE_MS);
  page.location.href = "https://acme.test/a#faq";
  page.win.dispatchEvent(new Event("popstate"));
  page.win.dispatchEvent(new Event("hashchange"));
  t.mock.timers.tick(SETTLE_MS);
  assert.deepEqual(ofKind(page.sent, "location").map((m) => m.nav ?? "load"), ["load", "replace", "pop", "hash"]);
});

test("quick route changes are each reported, with their own url, in order", (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const page = fakePage("https://acme.test/invoices");
  page.tracker.start();
  page.win.history.pushState({}, "", "/invoices/INV-1003");
  page.doc.title = "INV-1003";
  page.win.history.pushState({}, "", "/invoices");
  page.doc.title = "Invoices";
  page.win.history.pushState({}, "", "/invoices/INV-1004");
  t.mock.timers.tick(SETTLE_MS);
  const reported = ofKind(page.sent, "location").map((m) => [m.nav ?? "load", m.url]);
  assert.deepEqual(reported, [
    ["load", "https://acme.test/invoices"],
    ["push", "https://acme.test/invoices/INV-1003"],
    ["push", "https://acme.test/invoices"],
    ["push", "https://acme.test/invoices/INV-1004"],
  ]);
});

test("leaving the page reports the route change still settling", (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const page = fakePage("https://acme.test/reports");
  page.tracker.start();
  assert.equal(ofKind(page.sent, "location").length, 0);
  page.win.dispatchEvent(new Event("pagehide"));
  assert.equal(ofKind(page.sent, "location")[0].url, "https://acme.test/reports");
  t.mock.timers.tick(SETTLE_MS);
  assert.equal(ofKind(page.sent, "location").length, 1);
});

test("a route change that changes neither url nor title is not reported", (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const page = fakePage("https://acme.test/a");
  page.tracker.start();
  t.mock.timers.tick(SETTLE_MS);
  page.win.history.replaceState({ scroll: 10 }, "", "/a");
  t.mock.timers.tick(SETTLE_MS);
  assert.equal(ofKind(page.sent, "location").length, 1);
  page.doc.title = "New title";
  page.win.history.replaceState({}, "", "/a");
  t.mock.timers.tick(SETTLE_MS);
  assert.equal(ofKind(page.sent, "location").length, 2);
});

test("focus: sent at start and whenever focused or visible actually changes", (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const page = fakePage("https://acme.test/a");
  page.tracker.start();
  t.mock.timers.tick(0);
  page.win.dispatchEvent(new Event("focus")); // no change
  t.mock.timers.tick(0);
  page.doc.focused = false;
  page.win.dispatchEvent(new Event("blur"));
  t.mock.timers.tick(0);
  page.doc.visibilityState = "hidden";
  page.doc.dispatchEvent(new Event("visibilitychange"));
  t.mock.timers.tick(0);
  page.doc.dispatchEvent(new Event("visibilitychange")); // no change
  t.mock.timers.tick(0);
  const states = ofKind(page.sent, "focus").map((m) => [m.focused, m.visible]);
  assert.deepEqual(states, [[true, true], [false, true], [false, false]]);
});

test("resync after a reconnect reports the current place and focus again", (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const page = fakePage("https://acme.test/a");
  page.tracker.start();
  t.mock.timers.tick(SETTLE_MS);
  const before = page.sent.length;
  page.tracker.resync();
  const again = page.sent.slice(before);
  assert.deepEqual(again.map((m) => m.kind), ["location", "focus"]);
  assert.equal(again[0].url, "https://acme.test/a");
});
