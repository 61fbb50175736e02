// @ts-check
import assert from "node:assert/strict";
import { test } from "node:test";

import { KEYS, Outbox, newTabId } from "../src/outbox.js";
import { focus, location, signal, step } from "../src/protocol.js";
import { MemoryStorage } from "../src/storage.js";

/** @param {number} cseq */
const focusAt = (cseq) => focus({ cseq, at: 1000 + cseq, focused: true, visible: true });

test("a tab id is 22 characters of A-Za-z0-9_- and random", () => {
  const ids = new Set(Array.from({ length: 200 }, () => newTabId()));
  assert.equal(ids.size, 200);
  for (const id of ids) assert.match(id, /^[A-Za-z0-9_-]{22}$/);
});

test("numbering starts at 1 and each message is kept until acknowledged", () => {
  const box = new Outbox(new MemoryStorage());
  assert.equal(box.next(focusAt).cseq, 1);
  assert.equal(box.next(focusAt).cseq, 2);
  assert.equal(box.next((cseq) => location({ cseq, at: 5, url: "https://x.test/" })).cseq, 3);
  assert.deepEqual(box.pending().map((m) => m.cseq), [1, 2, 3]);
  assert.equal(box.size, 3);
});

test("a build that throws does not use a number", () => {
  const box = new Outbox(new MemoryStorage());
  assert.throws(() => box.next(() => { throw new Error("too big"); }));
  assert.equal(box.next(focusAt).cseq, 1);
});

test("a new outbox over the same storage continues the tab: id, numbering, pending messages", () => {
  const storage = new MemoryStorage();
  const first = new Outbox(storage);
  first.next(focusAt);
  first.next(focusAt);
  first.next(focusAt);
  first.ackUpTo(1);
  const reloaded = new Outbox(storage);
  assert.equal(reloaded.tab, first.tab);
  assert.deepEqual(reloaded.pending(), first.pending());
  assert.equal(reloaded.next(focusAt).cseq, 4);
  assert.ok(storage.getItem(KEYS.outbox)?.includes('"cseq":4'));
});

test("numbering continues after everything was acknowledged", () => {
  const storage = new MemoryStorage();
  const first = new Outbox(storage);
  first.next(focusAt);
  first.next(focusAt);
  first.ackUpTo(2);
  const reloaded = new Outbox(storage);
  assert.equal(reloaded.size, 0);
  assert.equal(reloaded.next(focusAt).cseq, 3);
});

test("ackUpTo drops everything up to and including n", () => {
  const box = new Outbox(new MemoryStorage());
  for (let i = 0; i < 5; i++) box.next(focusAt);
  assert.equal(box.ackUpTo(3), 3);
  assert.deepEqual(box.pending().map((m) => m.cseq), [4, 5]);
  assert.equal(box.ackUpTo(3), 0);
  assert.equal(box.ackUpTo(99), 2);
  assert.equal(box.size, 0);
});

test("drop forgets one message", () => {
  const box = new Outbox(new MemoryStorage());
  for (let i = 0; i < 3; i++) box.next(focusAt);
  assert.equal(box.drop(2), true);
  assert.equal(box.drop(2), false);
  assert.deepEqual(box.pending().map((m) => m.cseq), [1, 3]);
});

test("the cap drops the oldest messages and counts them", () => {
  const storage = new MemoryStorage();
  const box = new Outbox(storage, { cap: 1000 });
  for (let i = 0; i < 1005; i++) box.next(focusAt);
  assert.equal(box.size, 1000);
  assert.equal(box.pending()[0].cseq, 6);
  assert.equal(box.dropped, 5);
  assert.equal(new Outbox(storage).dropped, 5);
});

test("corrupt storage is ignored rather than trusted", () => {
  const storage = new MemoryStorage();
  storage.setItem(KEYS.tab, "no spaces allowed!");
  storage.setItem(KEYS.outbox, "{not json");
  storage.setItem(KEYS.cseq, "-4");
  const box = new Outbox(storage);
  assert.match(box.tab, /^[A-Za-z0-9_-]{22}$/);
  assert.equal(box.size, 0);
  assert.equal(box.next(focusAt).cseq, 1);
});

test("a storage that throws does not stop the outbox", () => {
  const broken = {
    getItem() { throw new Error("SecurityError"); },
    setItem() { throw new Error("QuotaExceededError"); },
  };
  const box = new Outbox(broken);
  assert.equal(box.next(focusAt).cseq, 1);
  assert.equal(box.size, 1);
});

test("renew: a new tab id, numbering from 1, pending messages renumbered in order", () => {
  const storage = new MemoryStorage();
  const box = new Outbox(storage);
  const oldTab = box.tab;
  for (let i = 0; i < 4; i++) box.next(focusAt);
  box.ackUpTo(2);
  box.renew();
  assert.notEqual(box.tab, oldTab);
  assert.deepEqual(box.pending().map((m) => [m.cseq, m.at]), [[1, 1003], [2, 1004]]);
  assert.equal(new Outbox(storage).tab, box.tab);
  assert.equal(box.next(focusAt).cseq, 3);
});

test("every kind of data message survives a page load, steps and signals included", () => {
  const storage = new MemoryStorage();
  const first = new Outbox(storage);
  first.next(focusAt);
  first.next((cseq) => step({ cseq, at: 2, run: "run-abcdefgh1234", step: "name", event: "completed" }));
  first.next((cseq) => signal({ cseq, at: 3, signal: "click", x: 5, y: 6, target: "button" }));
  first.next((cseq) => location({ cseq, at: 4, url: "https://x.test/" }));
  const reloaded = new Outbox(storage);
  assert.deepEqual(reloaded.pending().map((m) => [m.cseq, m.kind]), [[1, "focus"], [2, "step"], [3, "signal"], [4, "location"]]);
});
