// @ts-check
// The demo site's snippet (demo/app.js) that hands the visitor to Tandem: a
// signed-out page signs the tab out, so that it is no longer attributed to the
// user who signed out.
import assert from "node:assert/strict";
import { test } from "node:test";

const g = /** @type {Record<string, unknown>} */ (/** @type {unknown} */ (globalThis));
const IDENTITY = { id: "u-ada", token: "tok", traits: { email: "ada@acme.test" } };
let loads = 0;

/**
 * Run demo/app.js on a page with this identity (null: signed out), with or without tandem.js loaded yet.
 * @param {{identity: object | null, tandemLoaded: boolean}} page
 */
async function loadPage({ identity, tandemLoaded }) {
  /** @type {unknown[]} */
  const calls = [];
  const Tandem = { identify: async (/** @type {unknown} */ arg) => (calls.push(arg), { user: null }) };
  /** @type {Map<string, () => void>} */
  const listeners = new Map();
  const config = { variant: "plain", classes: {}, texts: {}, ids: {}, page: "signin", user: null, tandem: { site: "demo", identity } };
  g.HTMLElement ??= class {};
  g.customElements ??= { get: () => undefined, define: () => {} };
  g.window = tandemLoaded ? { Tandem } : {};
  g.document = {
    getElementById: (/** @type {string} */ id) => (id === "acme-config" ? { textContent: JSON.stringify(config) } : null),
    addEventListener: (/** @type {string} */ type, /** @type {() => void} */ fn) => listeners.set(type, fn),
  };
  loads += 1;
  await import(new URL(`../demo/app.js?page=${loads}`, import.meta.url).href);
  /** tandem.js arrives and announces itself. */
  const tandemReady = () => {
    /** @type {Record<string, unknown>} */ (g.window).Tandem = Tandem;
    listeners.get("tandem:ready")?.();
  };
  return { calls, tandemReady };
}

test("a signed-out page calls Tandem.identify(null) when tandem.js is already there", async () => {
  const { calls } = await loadPage({ identity: null, tandemLoaded: true });
  assert.deepEqual(calls, [null]);
});

test("a signed-out page calls Tandem.identify(null) once tandem.js announces itself", async () => {
  const { calls, tandemReady } = await loadPage({ identity: null, tandemLoaded: false });
  assert.deepEqual(calls, []);
  tandemReady();
  assert.deepEqual(calls, [null]);
});

test("a signed-in page still hands Tandem its identity", async () => {
  const { calls, tandemReady } = await loadPage({ identity: IDENTITY, tandemLoaded: false });
  tandemReady();
  assert.deepEqual(calls, [IDENTITY]);
});
