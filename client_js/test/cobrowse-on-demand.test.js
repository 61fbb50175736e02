// @ts-check
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { test } from "node:test";

import { OnDemandCobrowse, wantsVisitor } from "../src/cobrowse/on-demand.js";

/** A state message of the server's, as a page with an agent asking hears it. */
const ASKED = { kind: "cobrowse", session: "s-1", agents: ["Ada Agent"], ask: "view", asker: "Ada Agent", answer_within_ms: 30000 };
/** The state of a session whose visitor said no: nothing to show. */
const DECLINED = { kind: "cobrowse", session: "s-1", agents: ["Ada Agent"] };

function setup() {
  /** @type {Record<string, unknown>[]} */
  const sent = [];
  /** @type {unknown[]} */
  const errors = [];
  /** @type {{options: Record<string, unknown>, messages: Record<string, unknown>[]}[]} */
  const clients = [];
  class CobrowseClient {
    /** @param {Record<string, unknown>} options */
    constructor(options) {
      /** @type {Record<string, unknown>[]} */
      this.messages = [];
      clients.push({ options, messages: this.messages });
    }

    /** @param {Record<string, unknown>} message */
    onMessage(message) {
      this.messages.push(message);
    }
  }
  /** @type {{file: string, global: string, settle: {resolve: (value: any) => void, reject: (error: Error) => void}}[]} */
  const loads = [];
  const load = (/** @type {{file: string, global: string}} */ { file, global }) =>
    new Promise((resolve, reject) => loads.push({ file, global, settle: { resolve, reject } }));
  const connection = {
    notify: (/** @type {Record<string, unknown>} */ message) => sent.push(message) > 0,
    stream: () => true,
  };
  const cobrowse = new OnDemandCobrowse({
    connection, server: "https://tandem.example", win: /** @type {any} */ ({}), doc: /** @type {any} */ ({}),
    onError: (error) => errors.push(error), load: /** @type {any} */ (load),
  }); // prettier-ignore
  return { cobrowse, sent, errors, clients, loads, bundle: { CobrowseClient } };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

test("an ordinary page view loads nothing of co-browsing; an agent's action is refused, not performed", () => {
  const { cobrowse, sent, loads } = setup();
  cobrowse.onMessage(DECLINED);
  cobrowse.onMessage({ kind: "cobrowse", session: "s-1", ended: true });
  cobrowse.onMessage({ kind: "remote", session: "s-1", id: 7, action: "click", node: 3, page: 1 });
  assert.equal(loads.length, 0);
  assert.deepEqual(sent, [{ kind: "remote_done", session: "s-1", id: 7, ok: false, reason: "not_sharing" }]);
});

test("an agent asking loads tandem-cobrowse.js once, and its client hears where the session stands now", async () => {
  const { cobrowse, clients, loads, bundle, sent } = setup();
  cobrowse.onMessage(ASKED);
  const later = { ...ASKED, agents: ["Ada Agent", "Bob Lead"] };
  cobrowse.onMessage(later); // while it loads
  assert.deepEqual(loads.map((l) => [l.file, l.global]), [["tandem-cobrowse.js", "TandemCobrowse"]]);
  loads[0].settle.resolve(bundle);
  await tick();
  assert.equal(clients.length, 1);
  assert.equal(clients[0].options.server, "https://tandem.example");
  assert.deepEqual(clients[0].messages, [later]);
  const remote = { kind: "remote", session: "s-1", id: 8, action: "highlight", node: 3, page: 1 };
  cobrowse.onMessage(remote);
  cobrowse.onMessage(DECLINED);
  assert.deepEqual(clients[0].messages, [later, remote, DECLINED]); // all of it, from now on
  assert.equal(loads.length, 1);
  assert.deepEqual(sent, []);
});

test("when the bundle cannot be loaded the page is not shared: it says no, and tries again when asked again", async () => {
  const { cobrowse, sent, errors, clients, loads, bundle } = setup();
  cobrowse.onMessage({ ...ASKED, ask: "", record: true }); // a site that does not ask first
  loads[0].settle.reject(new Error("Tandem: tandem-cobrowse.js could not be loaded"));
  await tick();
  assert.equal(clients.length, 0);
  assert.equal(errors.length, 1);
  assert.deepEqual(sent, [{ kind: "consent", session: "s-1", what: "view", granted: false }]);

  cobrowse.onMessage(DECLINED); // the server agrees: nothing to load for
  assert.equal(loads.length, 1);
  cobrowse.onMessage(ASKED); // an agent asks again
  assert.equal(loads.length, 2);
  loads[1].settle.resolve(bundle);
  await tick();
  assert.deepEqual(clients[0].messages, [ASKED]);
});

test("a session that ended while the bundle loaded is not answered for", async () => {
  const { cobrowse, sent, loads } = setup();
  cobrowse.onMessage(ASKED);
  cobrowse.onMessage({ kind: "cobrowse", session: "s-1", ended: true });
  loads[0].settle.reject(new Error("offline"));
  await tick();
  assert.deepEqual(sent, []);
});

test("preloading when an agent joins fetches the bundle without showing anything", async () => {
  const { cobrowse, clients, loads, bundle } = setup();
  cobrowse.preload();
  cobrowse.preload();
  assert.equal(loads.length, 1);
  loads[0].settle.resolve(bundle);
  await tick();
  assert.equal(clients.length, 0);
  cobrowse.onMessage(ASKED);
  await tick();
  assert.equal(loads.length, 1);
  assert.deepEqual(clients[0].messages, [ASKED]);
});

test("a failed preload is tried again when the question comes", async () => {
  const { cobrowse, sent, errors, loads } = setup();
  cobrowse.preload();
  loads[0].settle.reject(new Error("offline"));
  await tick();
  assert.deepEqual([sent, errors], [[], []]);
  cobrowse.onMessage(ASKED);
  assert.equal(loads.length, 2);
});

test("what needs the visitor's side: a question, a shared page, control given", () => {
  assert.equal(wantsVisitor(ASKED), true);
  assert.equal(wantsVisitor({ ...DECLINED, record: true }), true);
  assert.equal(wantsVisitor({ ...DECLINED, control: "Ada Agent" }), true);
  assert.equal(wantsVisitor(DECLINED), false);
  assert.equal(wantsVisitor({ ...ASKED, ended: true }), false);
});

const DIST = new URL("../dist/", import.meta.url);
const built = existsSync(new URL("tandem.js", DIST)) && existsSync(new URL("tandem-cobrowse.js", DIST));

test("tandem.js holds no consent question nor banner: tandem-cobrowse.js does", { skip: !built && "the client is not built" }, () => {
  const main = readFileSync(new URL("tandem.js", DIST), "utf8");
  const onDemand = readFileSync(new URL("tandem-cobrowse.js", DIST), "utf8");
  for (const text of ["Share this page with support?", "from support can see this page", "Take back control"]) {
    assert.equal(main.includes(text), false, `${text} is in tandem.js`);
    assert.equal(onDemand.includes(text), true, `${text} is not in tandem-cobrowse.js`);
  }
  assert.match(main, /tandem-cobrowse\.js/);
});
