// @ts-check
// The client's encoder against the Python server's golden vectors (tests/golden/vectors.py).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import * as protocol from "../src/protocol.js";

/** @type {{name: string, kind: string, hex: string}[]} */
const VECTORS = JSON.parse(readFileSync(new URL("../../tests/golden/protocol_vectors.json", import.meta.url), "utf8"));
const TAB = "t3Kq9vXbLw2mZp8R";
const ANON = { anon: "anon-Q2x8mN4pR7sT1vW3", sig: "c2lnbmF0dXJlLW9mLXRoZS1zZXJ2ZXI" };

/** @param {Uint8Array} bytes */
const hex = (bytes) => Buffer.from(bytes).toString("hex");
/** @param {string} name */
const vector = (name) => {
  const found = VECTORS.find((v) => v.name === name);
  assert.ok(found, `no golden vector ${name}`);
  return found.hex;
};

/** The same messages as VECTORS in tests/golden/vectors.py, built with the client's builders. */
const BUILT = {
  "hello-anonymous-first-visit": () => protocol.hello({ site: "demo", tab: TAB, client: "0.1.0" }),
  "hello-with-token": () =>
    protocol.hello({ site: "demo", tab: TAB, client: "0.1.0", identity: { user: "u-ada", token: "eyJhbGciOiJIUzI1NiJ9.e30.sig" } }),
  "hello-returning-anonymous": () => protocol.hello({ v: 1, site: "demo", tab: TAB, anonymous: ANON }),
  identify: () =>
    protocol.identify({
      user: "u-ada",
      token: "eyJ.x.y",
      traits: { first_name: "Ada", seats: 12, trial: false, score: 0.75, team: null },
    }),
  "location-load": () =>
    protocol.location({ cseq: 1, at: 1_795_000_000_123, url: "http://127.0.0.1:8001/home", title: "Welcome back · Acme Billing" }),
  "location-spa-push-with-markers": () =>
    protocol.location({
      cseq: 4_294_967_296,
      at: 1_795_000_000_999,
      url: "http://127.0.0.1:8001/invoices/INV-1007?token=redacted",
      title: "INV-1007 · Acme Billing",
      nav: "push",
      markers: ["find-invoice"],
      referrer: "http://127.0.0.1:8001/home",
    }),
  "step-shown-by-fingerprint": () =>
    protocol.step({ cseq: 12, at: 1_795_000_002_000, run: "run-Zq3xK8mN4pR7sT1v", step: "open-form", event: "shown", strategy: "fingerprint", similarity: 0.875 }),
  "step-completed-branch": () =>
    protocol.step({ cseq: 13, at: 1_795_000_003_000, run: "run-Zq3xK8mN4pR7sT1v", step: "open-form", event: "completed", goto: "send" }),
  "step-failed": () =>
    protocol.step({ cseq: 14, at: 1_795_000_004_000, run: "run-Zq3xK8mN4pR7sT1v", step: "email", event: "failed", reason: "target_missing" }),
  "step-abandoned": () =>
    protocol.step({ cseq: 15, at: 1_795_000_005_000, run: "run-Zq3xK8mN4pR7sT1v", step: "email", event: "abandoned", reason: "closed" }),
  "signal-click-with-effect": () =>
    protocol.signal({ cseq: 16, at: 1_795_000_006_000, signal: "click", x: 412.4, y: 96, target: "button", selector: "[data-testid=invite-open]", effect_ms: 42 }),
  "signal-dead-click": () =>
    protocol.signal({ cseq: 17, at: 1_795_000_007_000, signal: "click", x: 120.25, y: 299.6, target: "button", selector: "[data-testid=dead-button]" }),
  "signal-error": () => protocol.signal({ cseq: 18, at: 1_795_000_007_400, signal: "error", message: "TypeError: x is undefined" }),
  "goal-element": () =>
    protocol.goal({ cseq: 19, at: 1_795_000_008_000, run: "run-Zq3xK8mN4pR7sT1v", process: "invite-teammate", how: "element", detail: "[data-testid=invite-sent]" }),
  chat: () => protocol.chat({ cseq: 22, at: 1_795_000_011_000, session: "sess-Q2x8mN4pR7sT1vW3", text: "It says my card expired — ça marche pas" }),
  typing: () => protocol.typing({ session: "sess-Q2x8mN4pR7sT1vW3" }),
  "mirror-full": () =>
    protocol.mirror({
      session: "sess-Q2x8mN4pR7sT1vW3", page: 1, full: true,
      events: [{ type: 4, data: { href: "https://acme.test/team/invite", width: 1280, height: 720 }, timestamp: 1_795_000_013_000.5 }],
    }),
  "consent-view": () => protocol.consent({ session: "sess-Q2x8mN4pR7sT1vW3", what: "view", granted: true }),
  "remote-done": () => protocol.remoteDone({ session: "sess-Q2x8mN4pR7sT1vW3", id: 3, ok: false, reason: "private" }),
  rating: () => protocol.rating({ cseq: 21, at: 1_795_000_010_000, session: "sess-Q2x8mN4pR7sT1vW3", score: 4 }),
  feedback: () => protocol.feedback({ cseq: 20, at: 1_795_000_009_000, session: "sess-Q2x8mN4pR7sT1vW3", helped: true }),
  focus: () => protocol.focus({ cseq: 300, at: 1_795_000_001_000, focused: false, visible: true }),
  chunk: () => {
    const data = new Uint8Array(512).map((_, i) => i % 256);
    return protocol.chunk({ id: "snap1", index: 1, total: 3, data });
  },
};

test("the golden vectors cover every client kind", () => {
  const kinds = new Set(VECTORS.map((v) => v.kind));
  for (const kind of Object.keys(protocol.SIZE_LIMITS)) assert.ok(kinds.has(kind), kind);
  assert.ok(VECTORS.length >= 15);
});

for (const { name, kind, hex: expected } of VECTORS) {
  test(`golden ${name}: decode and re-encode give the same bytes`, () => {
    const message = protocol.decode(Buffer.from(expected, "hex"));
    assert.equal(message.kind, kind);
    assert.equal(Object.keys(message)[0], "kind");
    assert.equal(hex(protocol.encode(message)), expected);
  });
}

for (const [name, build] of Object.entries(BUILT)) {
  test(`golden ${name}: the builder produces the server's bytes`, () => {
    assert.equal(hex(protocol.encode(build())), vector(name));
  });
}

test("builders omit fields equal to their default", () => {
  assert.deepEqual(Object.keys(protocol.hello({ site: "demo", tab: TAB, client: "", identity: null, anonymous: null })), [
    "kind", "v", "site", "tab",
  ]);
  assert.deepEqual(protocol.identify({ user: "u", token: "t", traits: {} }), { kind: "identify", user: "u", token: "t" });
  assert.deepEqual(
    protocol.location({ cseq: 2, at: 5, url: "https://x.test/", title: "", nav: "load", markers: [], referrer: "" }),
    { kind: "location", cseq: 2, at: 5, url: "https://x.test/" },
  );
});

test("decoded server messages keep every field", () => {
  const welcome = protocol.decode(Buffer.from(vector("welcome-identified"), "hex"));
  assert.deepEqual(welcome, { kind: "welcome", v: 1, tab: TAB, ack: 41, user: "u-ada", max_frame: 66560 });
  const error = protocol.decode(Buffer.from(vector("error-unicode"), "hex"));
  assert.equal(error.message, "le jeton a expiré — token expired ✓");
});

test("decode refuses what is not a message", () => {
  assert.throws(() => protocol.decode(protocol.encode([1, 2])), /map/);
  assert.throws(() => protocol.decode(protocol.encode({ upto: 1 })), /kind/);
  assert.throws(() => protocol.decode(new Uint8Array([0xc1])));
});

test("location cuts long fields to the server's limits and keeps valid markers only", () => {
  const long = "https://x.test/" + "a".repeat(5000);
  const message = protocol.location({
    cseq: 1,
    at: 1,
    url: long + "#frag",
    title: "t".repeat(600),
    referrer: "https://x.test/?q=" + "%20".repeat(2000),
    markers: ["ok", "ok", "Not-A-Slug", "x".repeat(64), ...Array.from({ length: 20 }, (_, i) => `m${i}`)],
  });
  assert.equal(message.url.length, 4096);
  assert.ok(!message.url.includes("#"));
  assert.equal(message.title?.length, 512);
  assert.ok((message.referrer?.length ?? 0) <= 4096);
  assert.ok(!/%.?$/.test(message.referrer ?? ""), "no half escape at the end");
  assert.equal(message.markers?.length, 16);
  assert.deepEqual(message.markers?.slice(0, 3), ["ok", "m0", "m1"]);
  assert.ok(protocol.encodeChecked(message).length <= protocol.SIZE_LIMITS.location);
});

test("truncate never splits a surrogate pair", () => {
  assert.equal(protocol.truncate("ab😀", 3), "ab");
  assert.equal(protocol.truncate("ab😀", 4), "ab😀");
});

test("a message over its kind's limit is refused before it is sent", () => {
  const traits = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`t${i}`, "x".repeat(1000)]));
  const message = protocol.identify({ user: "u", token: "t", traits });
  assert.throws(() => protocol.encodeChecked(message), protocol.MessageTooLarge);
  assert.ok(protocol.encodeChecked(protocol.focus({ cseq: 2 ** 53, at: 2 ** 53, focused: true, visible: true })).length <= 256);
});

test("splitIntoChunks: parts concatenate to the bytes, each chunk fits its limit", () => {
  const bytes = new Uint8Array(150 * 1024).map((_, i) => (i * 7) % 256);
  const parts = protocol.splitIntoChunks(bytes, "snap1");
  assert.equal(parts.length, 3);
  assert.deepEqual(parts.map((p) => [p.index, p.total]), [[0, 3], [1, 3], [2, 3]]);
  const joined = Buffer.concat(parts.map((p) => p.data));
  assert.ok(joined.equals(Buffer.from(bytes)));
  for (const part of parts) assert.ok(protocol.encodeChecked(part).length <= protocol.SIZE_LIMITS.chunk);
  assert.equal(protocol.splitIntoChunks(new Uint8Array(0), "e").length, 1);
  assert.throws(() => protocol.splitIntoChunks(bytes, "bad id"), TypeError);
  assert.throws(() => protocol.splitIntoChunks(new Uint8Array(513), "x", 1), protocol.MessageTooLarge);
});
