// @ts-check
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { createApi } from "../src/api.js";
import { encode } from "../src/protocol.js";
import { Requests, help, launcher, resume, start } from "../src/requests.js";
import { setup } from "./harness.js";

/** @type {{name: string, hex: string}[]} */
const VECTORS = JSON.parse(readFileSync(new URL("../../tests/golden/protocol_vectors.json", import.meta.url), "utf8"));
/** @param {string} name */
const vector = (name) => VECTORS.find((v) => v.name === name)?.hex;
/** @param {Uint8Array} bytes */
const hex = (bytes) => Buffer.from(bytes).toString("hex");

test("request builders give the server's golden bytes", () => {
  assert.equal(hex(encode(launcher({ req: 7 }))), vector("launcher"));
  assert.equal(hex(encode(start({ req: 8, walkthrough: "invite-teammate" }))), vector("start"));
  assert.equal(hex(encode(resume({ req: 9, run: "run-Zq3xK8mN4pR7sT1v" }))), vector("resume"));
  assert.equal(hex(encode(help({ req: 10, question: "How do I export my invoices?" }))), vector("help-with-question"));
  assert.deepEqual(help({ req: 1 }), { kind: "help", req: 1 }, "an empty question is left out");
  assert.equal(hex(encode(help({ req: 11, person: true }))), vector("help-person"));
});

test("requests settle by req; failAll rejects what is left; a timeout rejects", async () => {
  /** @type {(() => void)[]} */
  const timers = [];
  const requests = new Requests({ setTimer: (fn) => timers.push(fn), clearTimer: () => {} });
  const a = requests.open();
  const b = requests.open();
  assert.notEqual(a.req, b.req);
  assert.equal(requests.settle(a.req, { kind: "offers", req: a.req }), true);
  assert.equal(requests.settle(a.req, {}), false, "settled once");
  assert.deepEqual(await a.answer, { kind: "offers", req: a.req });
  requests.failAll(Object.assign(new Error("gone"), { code: "disconnected" }));
  await assert.rejects(b.answer, { code: "disconnected" });
  const c = requests.open();
  timers.at(-1)?.();
  await assert.rejects(c.answer, { code: "timeout" });
});

function apiOn() {
  const h = setup();
  const api = createApi({ version: "t", config: { site: "demo", server: "http://x", socketUrl: "ws://x/ws", widget: false }, connection: h.connection });
  return { ...h, api };
}

test("Tandem.help() sends help and resolves with the answer of the same req", async () => {
  const { api, connect } = apiOn();
  const socket = connect();
  const answer = api.help("how do I export?");
  const [sent] = socket.sentOf("help");
  assert.equal(sent.question, "how do I export?");
  socket.receive({ kind: "help_answer", req: 999, session: "sess-other", offer: "faq" }); // not ours
  socket.receive({ kind: "help_answer", req: sent.req, session: "sess-1", offer: "walkthrough", walkthrough: "invite-teammate" });
  const got = await answer;
  assert.equal(got.session, "sess-1");
  assert.equal(got.walkthrough, "invite-teammate");
});

test("an error with the request's req rejects it with the server's code", async (t) => {
  t.mock.method(console, "error", () => {});
  t.mock.method(console, "warn", () => {});
  const { api, connect } = apiOn();
  const socket = connect();
  const started = api.start("nope", { session: "sess-1" });
  const [sent] = socket.sentOf("start");
  assert.deepEqual([sent.walkthrough, sent.session], ["nope", "sess-1"]);
  socket.receive({ kind: "error", code: "unknown_walkthrough", message: "no published walkthrough 'nope'", req: sent.req });
  await assert.rejects(started, { code: "unknown_walkthrough" });
});

test("requests before the welcome are refused, and a close fails the waiting ones", async () => {
  const { api, connection, connect } = apiOn();
  await assert.rejects(api.launcher(), { code: "not_connected" });
  const socket = connect();
  const waiting = api.resume("run-abcdefgh1234");
  socket.serverClose(1012, "restart");
  await assert.rejects(waiting, { code: "disconnected" });
  assert.equal(connection.status().connected, false);
});

test("a request about the visitor's place goes after the route change still settling", () => {
  const h = setup();
  const api = createApi({
    version: "t",
    config: { site: "demo", server: "http://x", socketUrl: "ws://x/ws", widget: false },
    connection: h.connection,
    settle: () => {
      h.connection.send((cseq) => ({ kind: "location", cseq, at: 1, url: "https://shop.test/team/invite", title: "", nav: "load", markers: [], referrer: "" }));
    },
  });
  const socket = h.connect();
  void api.help("how do I add a colleague?").catch(() => {});
  void api.launcher().catch(() => {});
  void api.resume("run-abcdefgh1234").catch(() => {});
  const kinds = socket.sent.map((m) => m.kind).filter((k) => k !== "hello");
  assert.deepEqual(kinds, ["location", "help", "location", "launcher", "resume"], "resume is about a run, not the place");
});

test("a help answer nobody on this page asked for is announced as tandem:help", () => {
  const { connect, events } = setup();
  const socket = connect();
  socket.receive({ kind: "help_answer", req: 0, session: "sess-1", offer: "person", text: "Let me find a person." });
  const [announced] = events.filter((e) => e.type === "tandem:help");
  assert.deepEqual([announced.detail.session, announced.detail.offer], ["sess-1", "person"]);
});

test("the late answer of a request that timed out is not announced as help nobody asked for", async () => {
  const { connect, connection, events } = setup();
  const socket = connect();
  const asked = connection.request((req) => help({ req, question: "slow" }));
  const [sent] = socket.sentOf("help");
  connection.requests.fail(Number(sent.req), Object.assign(new Error("timeout"), { code: "timeout" }));
  await assert.rejects(asked, { code: "timeout" });
  socket.receive({ kind: "help_answer", req: sent.req, session: "sess-late", offer: "faq" });
  assert.equal(events.filter((e) => e.type === "tandem:help").length, 0);
});
