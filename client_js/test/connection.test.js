// @ts-check
import assert from "node:assert/strict";
import { test } from "node:test";

import { createApi } from "../src/api.js";
import { ANON, FakeSocket, TOKEN, setup } from "./harness.js";
import { Connection } from "../src/connection.js";
import { IDENTITY_KEY, anonymousKey } from "../src/identity.js";
import { MemoryStorage } from "../src/storage.js";

/** @param {FakeSocket} socket */
const sentCseqs = (socket) => socket.sent.filter((m) => m.kind === "focus" || m.kind === "location").map((m) => m.cseq);

/** @param {import("node:test").TestContext} t */
const quiet = (t) => t.mock.method(console, "error", () => {});

test("connects to socketUrl?site=KEY with binary frames", () => {
  const { connection, socket } = setup();
  connection.start();
  assert.equal(socket().url, "ws://127.0.0.1:8000/ws?site=demo");
  assert.equal(socket().binaryType, "arraybuffer");
  assert.equal(connection.status().state, "connecting");
});

test("hello on open: version, site, tab, client; nothing else on a first visit", () => {
  const { connection, socket, outbox } = setup();
  connection.start();
  socket().open();
  assert.deepEqual(socket().sent, [{ kind: "hello", v: 1, site: "demo", tab: outbox.tab, client: "0.1.0" }]);
});

test("hello carries the tab's token identity from sessionStorage", () => {
  const session = new MemoryStorage();
  session.setItem(IDENTITY_KEY, JSON.stringify(TOKEN));
  const { connection, socket } = setup({ session });
  connection.start();
  socket().open();
  assert.deepEqual(socket().sent[0].identity, TOKEN);
  assert.equal(socket().sent[0].anonymous, undefined);
});

test("hello carries the returning visitor's anonymous id from localStorage", () => {
  const local = new MemoryStorage();
  local.setItem(anonymousKey("demo"), JSON.stringify(ANON));
  const { connection, socket } = setup({ local });
  connection.start();
  socket().open();
  assert.deepEqual(socket().sent[0].anonymous, ANON);
  assert.equal(socket().sent[0].identity, undefined);
});

test("an anonymous id that is not well formed is not sent", () => {
  const local = new MemoryStorage();
  local.setItem(anonymousKey("demo"), JSON.stringify({ anon: "someone", sig: "x" }));
  const { connection, socket } = setup({ local });
  connection.start();
  socket().open();
  assert.equal(socket().sent[0].anonymous, undefined);
});

test("welcome.anonymous is kept in localStorage for the next visit", () => {
  const { connect, local, connection, eventsOf } = setup();
  connect({ anonymous: ANON });
  assert.deepEqual(JSON.parse(local.getItem(anonymousKey("demo")) ?? "null"), ANON);
  assert.equal(connection.status().anonymous, ANON.anon);
  assert.equal(connection.status().connected, true);
  assert.deepEqual(eventsOf("tandem:connected"), [{ tab: connection.status().tab, user: ANON.anon, anonymous: ANON.anon }]);
});

test("messages queued while connecting wait for welcome; those ≤ welcome.ack are dropped, the rest resent in order", () => {
  const { connection, socket, sendFocus, outbox } = setup();
  connection.start();
  sendFocus();
  sendFocus();
  sendFocus();
  socket().open();
  assert.deepEqual(socket().sent.map((m) => m.kind), ["hello"]);
  socket().receive({ kind: "welcome", v: 1, tab: outbox.tab, ack: 1, user: "u" });
  assert.deepEqual(sentCseqs(socket()), [2, 3]);
  assert.deepEqual(outbox.pending().map((m) => m.cseq), [2, 3]);
  assert.equal(connection.status().lastAck, 1);
});

test("pending messages survive a reload and are resent by the next page's connection", () => {
  const session = new MemoryStorage();
  const first = setup({ session });
  first.connect();
  first.sendFocus();
  first.sendFocus();
  first.socket().receive({ kind: "ack", upto: 1 });
  const second = setup({ session });
  assert.equal(second.outbox.tab, first.outbox.tab);
  second.connection.start();
  second.socket().open();
  assert.equal(second.socket().sent[0].tab, first.outbox.tab);
  second.socket().receive({ kind: "welcome", v: 1, tab: first.outbox.tab, ack: 1, user: "u" });
  assert.deepEqual(sentCseqs(second.socket()), [2]);
});

test("when connected, data messages go out at once and stay in the outbox until acknowledged", () => {
  const { connect, sendFocus, outbox, connection } = setup();
  const socket = connect();
  sendFocus();
  sendFocus();
  assert.deepEqual(sentCseqs(socket), [1, 2]);
  assert.equal(outbox.size, 2);
  socket.receive({ kind: "ack", upto: 1 });
  assert.deepEqual(outbox.pending().map((m) => m.cseq), [2]);
  socket.receive({ kind: "ack", upto: 2 });
  assert.equal(outbox.size, 0);
  assert.equal(connection.status().lastAck, 2);
  assert.equal(connection.status().pending, 0);
});

test("a message over its kind's limit is never queued", (t) => {
  quiet(t);
  const { connect, connection, outbox, eventsOf } = setup();
  const socket = connect();
  const result = connection.send((cseq) => ({ kind: "focus", cseq, at: 1, focused: true, visible: true, extra: "x".repeat(300) }));
  assert.equal(result, null);
  assert.equal(outbox.size, 0);
  assert.equal(outbox.cseq, 0);
  assert.equal(sentCseqs(socket).length, 0);
  assert.equal(eventsOf("tandem:error")[0].code, "too_large");
});

test("needs_identity: data is held until identified, then sent in order", async () => {
  const { connect, sendFocus, connection, session, eventsOf } = setup();
  const socket = connect({ user: "", needs_identity: true });
  sendFocus();
  sendFocus();
  assert.deepEqual(sentCseqs(socket), []);
  assert.equal(connection.status().needsIdentity, true);
  const identified = connection.identify({ id: "u-ada", token: "tok", traits: { plan: "pro" } });
  assert.deepEqual(socket.sentOf("identify"), [{ kind: "identify", user: "u-ada", token: "tok", traits: { plan: "pro" } }]);
  assert.deepEqual(JSON.parse(session.getItem(IDENTITY_KEY) ?? "null"), { user: "u-ada", token: "tok" });
  socket.receive({ kind: "identified", user: "u-ada" });
  assert.deepEqual(await identified, { user: "u-ada" });
  assert.deepEqual(sentCseqs(socket), [1, 2]);
  assert.deepEqual(eventsOf("tandem:identified"), [{ user: "u-ada" }]);
  assert.equal(connection.status().user, "u-ada");
});

test("identity_required refuses a message without dropping it: it is resent once identified", async () => {
  const { connect, sendFocus, connection, outbox, eventsOf } = setup();
  const socket = connect({ user: "" });
  sendFocus();
  socket.receive({ kind: "error", code: "identity_required", message: "needs a visitor", cseq: 1 });
  assert.equal(outbox.size, 1);
  sendFocus();
  assert.deepEqual(sentCseqs(socket), [1], "held after identity_required");
  const done = connection.identify({ id: "u-ada", token: "tok" });
  socket.receive({ kind: "identified", user: "u-ada" });
  await done;
  assert.deepEqual(sentCseqs(socket), [1, 1, 2]);
  assert.equal(eventsOf("tandem:error")[0].code, "identity_required");
});

test("an identify() before connecting goes in hello; welcome.user settles it without an identify message", async () => {
  const { connection, socket, outbox, eventsOf } = setup();
  const done = connection.identify({ id: TOKEN.user, token: TOKEN.token });
  assert.equal(connection.status().state, "connecting");
  socket().open();
  assert.deepEqual(socket().sent[0].identity, TOKEN);
  socket().receive({ kind: "welcome", v: 1, tab: outbox.tab, ack: 0, user: TOKEN.user });
  assert.deepEqual(await done, { user: TOKEN.user });
  assert.deepEqual(socket().sentOf("identify"), []);
  assert.deepEqual(eventsOf("tandem:identified"), [{ user: TOKEN.user }]);
});

test("traits given before connecting are sent with identify after welcome (hello has no traits)", async () => {
  const { connection, socket, outbox } = setup();
  const done = connection.identify({ id: TOKEN.user, token: TOKEN.token, traits: { seats: 12 } });
  socket().open();
  socket().receive({ kind: "welcome", v: 1, tab: outbox.tab, ack: 0, user: TOKEN.user });
  assert.deepEqual(socket().sentOf("identify"), [{ kind: "identify", ...TOKEN, traits: { seats: 12 } }]);
  socket().receive({ kind: "identified", user: TOKEN.user });
  assert.deepEqual(await done, { user: TOKEN.user });
});

test("identity_refused rejects identify() and forgets the token", async () => {
  const { connect, connection, session, eventsOf } = setup();
  const socket = connect();
  const done = connection.identify({ id: "u-ada", token: "expired" });
  socket.receive({ kind: "error", code: "identity_refused", message: "token expired" });
  await assert.rejects(done, /identity refused: token expired/);
  assert.equal(session.getItem(IDENTITY_KEY), null);
  assert.equal(eventsOf("tandem:error")[0].code, "identity_refused");
});

test("identify() rejects a malformed argument without sending anything", async () => {
  const { connect, connection } = setup();
  const socket = connect();
  await assert.rejects(connection.identify(null), TypeError);
  await assert.rejects(connection.identify({ id: "", token: "t" }), /id must be/);
  await assert.rejects(connection.identify({ id: "u", token: 5 }), /token must be/);
  await assert.rejects(connection.identify({ id: "u", token: "t", traits: { nested: { a: 1 } } }), /trait "nested"/);
  await assert.rejects(connection.identify({ id: "u", token: "t", traits: "x" }), /traits must be/);
  assert.deepEqual(socket.sentOf("identify"), []);
});

test("an error naming a cseq drops that message (it would be refused again) and is reported", () => {
  const { connect, sendFocus, outbox, eventsOf } = setup();
  const socket = connect();
  sendFocus();
  sendFocus();
  socket.receive({ kind: "error", code: "invalid", message: "Expected `str`", field: "url", cseq: 1 });
  assert.deepEqual(outbox.pending().map((m) => m.cseq), [2]);
  assert.deepEqual(eventsOf("tandem:error"), [{ code: "invalid", message: "Expected `str`", field: "url", cseq: 1 }]);
});

for (const [code, reason, expected] of [
  [1002, "unsupported protocol version 1; supported: 2", "unsupported_version"],
  [1008, "site_mismatch: this connection is for site 'other'", "site_mismatch"],
  [1008, "too many invalid messages", "policy"],
]) {
  test(`close ${code} (${expected}) stops: no reconnect, tandem:error`, (t) => {
    quiet(t);
    const { connect, connection, liveTimers, sockets, eventsOf, sendFocus } = setup();
    const socket = connect();
    socket.serverClose(Number(code), String(reason));
    assert.equal(connection.status().state, "stopped");
    assert.equal(liveTimers().length, 0);
    sendFocus();
    assert.equal(sockets.length, 1, "no new socket");
    assert.deepEqual(eventsOf("tandem:error"), [{ code: expected, message: reason, close: code }]);
    assert.equal(eventsOf("tandem:disconnected").length, 1);
  });
}

test("close 1008 tab_taken: this page becomes a tab of its own and sends what it has under the new id", () => {
  const { connect, connection, outbox, sockets, socket, sendFocus, eventsOf } = setup();
  const first = connect();
  const oldTab = outbox.tab;
  sendFocus();
  sendFocus();
  first.serverClose(1008, "tab_taken: a newer connection of this tab replaced this one");
  assert.equal(sockets.length, 2, "connects again at once");
  socket().open();
  const [hello] = socket().sent;
  assert.notEqual(hello.tab, oldTab);
  socket().receive({ kind: "welcome", v: 1, tab: hello.tab, ack: 0, user: "anon-Q2x8mN4pR7sT1vW3" });
  assert.deepEqual(socket().sentOf("focus").map((m) => m.cseq), [1, 2], "renumbered for the new tab");
  assert.equal(connection.status().state, "ready");
  assert.deepEqual(eventsOf("tandem:error"), []);
});

test("close 1008 for a refused identity forgets it; a new identify() connects again", async (t) => {
  quiet(t);
  const session = new MemoryStorage();
  session.setItem(IDENTITY_KEY, JSON.stringify(TOKEN));
  const { connection, socket, sockets } = setup({ session });
  connection.start();
  socket().open();
  socket().serverClose(1008, "identity_refused: token expired");
  assert.equal(connection.status().state, "stopped");
  assert.equal(session.getItem(IDENTITY_KEY), null);
  const again = connection.identify({ id: "u-ada", token: "fresh" });
  assert.equal(sockets.length, 2);
  socket().open();
  assert.deepEqual(socket().sent[0].identity, { user: "u-ada", token: "fresh" });
  socket().receive({ kind: "welcome", v: 1, tab: connection.outbox.tab, ack: 0, user: "u-ada" });
  assert.deepEqual(await again, { user: "u-ada" });
});

for (const code of [1001, 1006, 1009, 1011]) {
  test(`close ${code} schedules a reconnect with backoff`, () => {
    const { connect, connection, liveTimers, sockets, eventsOf } = setup();
    const socket = connect();
    socket.serverClose(code, "bye");
    assert.equal(connection.status().state, "waiting");
    const [timer] = liveTimers();
    assert.ok(timer.ms >= 250 && timer.ms <= 500, `${timer.ms}`);
    assert.deepEqual(eventsOf("tandem:disconnected"), [{ code, reason: "bye", retryIn: timer.ms }]);
    timer.fn();
    assert.equal(sockets.length, 2);
    assert.equal(connection.status().state, "connecting");
  });
}

test("failed attempts back off further; a welcome resets the backoff", () => {
  const { connection, socket, liveTimers, outbox } = setup();
  connection.start();
  /** @type {number[]} */
  const delays = [];
  for (let i = 0; i < 4; i++) {
    socket().serverClose(1006);
    const timer = liveTimers().at(-1);
    assert.ok(timer);
    delays.push(timer.ms);
    timer.fn();
  }
  assert.deepEqual(delays, [375, 750, 1500, 3000]);
  socket().open();
  socket().receive({ kind: "welcome", v: 1, tab: outbox.tab, ack: 0, user: "u" });
  socket().serverClose(1011);
  assert.equal(liveTimers().at(-1)?.ms, 375);
});

test("close 1012 (server restarting) reconnects within 1 s", () => {
  const { connection, socket, liveTimers } = setup();
  connection.start();
  for (let i = 0; i < 5; i++) {
    socket().serverClose(1006);
    liveTimers().at(-1)?.fn();
  }
  socket().serverClose(1012, "restarting");
  const timer = liveTimers().at(-1);
  assert.ok(timer && timer.ms <= 1000, `${timer?.ms}`);
});

test("close 1000 with nothing to send waits until the page needs the connection", () => {
  const { connect, connection, liveTimers, sockets, sendFocus } = setup();
  const socket = connect();
  socket.serverClose(1000);
  assert.equal(connection.status().state, "idle");
  assert.equal(liveTimers().length, 0);
  sendFocus();
  assert.equal(sockets.length, 2);
});

test("close 1000 with unacknowledged messages reconnects", () => {
  const { connect, liveTimers, sendFocus } = setup();
  const socket = connect();
  sendFocus();
  socket.serverClose(1000);
  assert.equal(liveTimers().length, 1);
});

test("after a reconnect everything unacknowledged is sent again on the new socket", () => {
  const { connect, sendFocus, socket, liveTimers, outbox, welcomes } = setup();
  const first = connect();
  sendFocus();
  sendFocus();
  sendFocus();
  first.receive({ kind: "ack", upto: 1 });
  first.serverClose(1006);
  liveTimers()[0].fn();
  socket().open();
  socket().receive({ kind: "welcome", v: 1, tab: outbox.tab, ack: 2, user: "u" });
  assert.deepEqual(sentCseqs(socket()), [3]);
  assert.deepEqual(welcomes, [true, false]);
});

test("a welcome that knows the tab further than this tab numbered: the tab was duplicated, so it becomes a new tab", () => {
  const { connection, socket, sockets, outbox, sendFocus } = setup();
  const oldTab = outbox.tab;
  connection.start();
  sendFocus();
  socket().open();
  socket().receive({ kind: "welcome", v: 1, tab: oldTab, ack: 40, user: "u" });
  assert.equal(sockets.length, 2);
  assert.ok(sockets[0].closed);
  assert.notEqual(outbox.tab, oldTab);
  socket().open();
  assert.equal(socket().sent[0].tab, outbox.tab);
  socket().receive({ kind: "welcome", v: 1, tab: outbox.tab, ack: 0, user: "u" });
  assert.deepEqual(sentCseqs(socket()), [1]);
});

test("a hello the server refuses (bad stored anonymous id) is not waited on: forget it and retry", () => {
  const local = new MemoryStorage();
  local.setItem(anonymousKey("demo"), JSON.stringify(ANON));
  const { connection, socket, liveTimers, eventsOf } = setup({ local });
  connection.start();
  socket().open();
  socket().receive({ kind: "error", code: "invalid", message: "bad signature", field: "anonymous.sig" });
  assert.equal(local.getItem(anonymousKey("demo")), null);
  assert.equal(connection.status().state, "waiting");
  assert.equal(liveTimers().length, 1);
  assert.equal(eventsOf("tandem:error")[0].field, "anonymous.sig");
});

test("a frame that is not a message is reported, not thrown", (t) => {
  quiet(t);
  const { connect, eventsOf } = setup();
  const socket = connect();
  socket.onmessage?.({ data: new Uint8Array([0xc1]).buffer });
  socket.onmessage?.({ data: "text" });
  assert.equal(eventsOf("tandem:error").length, 2);
  assert.ok(eventsOf("tandem:error").every((d) => d.code === "client"));
});

test("pause closes without reconnecting; start connects again", () => {
  const { connect, connection, liveTimers, sockets } = setup();
  const socket = connect();
  connection.pause();
  assert.equal(socket.closed?.code, 1000);
  assert.equal(connection.status().state, "idle");
  socket.serverClose(1006); // a late close event changes nothing
  assert.equal(liveTimers().length, 0);
  connection.start();
  assert.equal(sockets.length, 2);
});

// --- sign-out: Tandem.identify(null) ---------------------------------------------------

/** The page's `window.Tandem` around a test connection. @param {Connection} connection */
const tandemFor = (connection) =>
  createApi({ version: "test", config: { site: "demo", server: "http://127.0.0.1:8000", socketUrl: connection.socketUrl, widget: false }, connection });

/** Let promise callbacks run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

/** @template T @param {Promise<T>} promise @returns {{done: boolean, value?: T}} */
function track(promise) {
  /** @type {{done: boolean, value?: T}} */
  const state = { done: false };
  promise.then((value) => Object.assign(state, { done: true, value }));
  return state;
}

test("identify(null) signs out: forgets the tab's identity and reconnects; the new hello carries none; resolves on its welcome", async () => {
  const session = new MemoryStorage();
  session.setItem(IDENTITY_KEY, JSON.stringify(TOKEN));
  const local = new MemoryStorage();
  local.setItem(anonymousKey("demo"), JSON.stringify(ANON));
  const { connection, connect, socket, sockets, outbox } = setup({ session, local });
  const first = connect({ user: TOKEN.user });
  assert.deepEqual(first.sent[0].identity, TOKEN);

  const signedOut = track(tandemFor(connection).identify(null));
  assert.equal(session.getItem(IDENTITY_KEY), null, "the identity is forgotten at once");
  assert.equal(sockets.length, 2, "the socket known by the token is replaced");
  assert.deepEqual(first.closed, { code: 4000, reason: "signed out" });
  assert.equal(connection.status().user, "");
  socket().open();
  assert.equal(socket().sent[0].identity, undefined, "the next hello carries no identity");
  assert.deepEqual(socket().sent[0].anonymous, ANON, "a lenient site's anonymous id is presented again");
  await settle();
  assert.equal(signedOut.done, false, "waits for the server to see the tab without the identity");
  socket().receive({ kind: "welcome", v: 1, tab: outbox.tab, ack: 0, user: ANON.anon, anonymous: ANON });
  await settle();
  assert.deepEqual(signedOut, { done: true, value: { user: null } });
  assert.equal(connection.status().anonymous, ANON.anon);
});

test("identify(null) on a strict site: the new connection waits for an identity and holds data", async () => {
  const session = new MemoryStorage();
  session.setItem(IDENTITY_KEY, JSON.stringify(TOKEN));
  const { connection, connect, socket, sendFocus, outbox } = setup({ session });
  connect({ user: TOKEN.user });
  const done = tandemFor(connection).identify(null);
  socket().open();
  assert.equal(socket().sent[0].identity, undefined);
  socket().receive({ kind: "welcome", v: 1, tab: outbox.tab, ack: 0, user: "", needs_identity: true });
  assert.deepEqual(await done, { user: null });
  sendFocus();
  assert.deepEqual(sentCseqs(socket()), [], "held until identified");
  assert.equal(connection.status().needsIdentity, true);
});

test("identify(null) with nothing stored is a no-op: no reconnect, resolves at once", async () => {
  const { connect, connection, sockets } = setup();
  const socket = connect({ user: ANON.anon, anonymous: ANON });
  assert.deepEqual(await tandemFor(connection).identify(null), { user: null });
  assert.equal(sockets.length, 1);
  assert.equal(socket.closed, null);
  assert.equal(connection.status().state, "ready");
});

test("identify(null) before the socket opened: no reconnect needed, its hello carries no identity", async () => {
  const session = new MemoryStorage();
  session.setItem(IDENTITY_KEY, JSON.stringify(TOKEN));
  const { connection, socket, sockets } = setup({ session });
  connection.start();
  assert.deepEqual(await tandemFor(connection).identify(null), { user: null });
  socket().open();
  assert.equal(sockets.length, 1);
  assert.equal(socket().sent[0].identity, undefined);
});

test("identify(null) while hello's identity awaits welcome reconnects without it", async () => {
  const session = new MemoryStorage();
  session.setItem(IDENTITY_KEY, JSON.stringify(TOKEN));
  const { connection, socket, sockets, outbox } = setup({ session });
  connection.start();
  socket().open();
  const done = tandemFor(connection).identify(null);
  assert.equal(sockets.length, 2);
  socket().open();
  assert.equal(socket().sent[0].identity, undefined);
  socket().receive({ kind: "welcome", v: 1, tab: outbox.tab, ack: 0, user: ANON.anon, anonymous: ANON });
  assert.deepEqual(await done, { user: null });
});

test("identify(null) fails the identify() calls still waiting; they are not sent again", async () => {
  const { connect, connection, socket, sockets, outbox, session } = setup();
  const first = connect({ user: ANON.anon, anonymous: ANON });
  const pending = connection.identify({ id: "u-ada", token: "tok" });
  assert.equal(first.sentOf("identify").length, 1);
  const done = tandemFor(connection).identify(null);
  await assert.rejects(pending, (error) => /** @type {{code?: string}} */ (error).code === "signed_out");
  assert.equal(session.getItem(IDENTITY_KEY), null);
  assert.equal(sockets.length, 2, "an identify in flight may have been accepted: reconnect");
  socket().open();
  socket().receive({ kind: "welcome", v: 1, tab: outbox.tab, ack: 0, user: ANON.anon, anonymous: ANON });
  assert.deepEqual(await done, { user: null });
  assert.deepEqual(socket().sentOf("identify"), []);
});

test("Tandem.identify() still refuses anything but an identity or null", async () => {
  const { connect, connection } = setup();
  connect();
  await assert.rejects(tandemFor(connection).identify(/** @type {any} */ (undefined)), /expects an object/);
});
