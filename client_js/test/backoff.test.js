// @ts-check
import assert from "node:assert/strict";
import { test } from "node:test";

import { reconnectDelay } from "../src/backoff.js";

const low = () => 0;
const high = () => 0.999999;

test("the first retry waits between 250 and 500 ms", () => {
  assert.equal(reconnectDelay(0, low), 250);
  assert.ok(reconnectDelay(0, high) <= 500 && reconnectDelay(0, high) >= 499);
});

test("each attempt doubles the window: between half and all of 0.5 s × 2^attempt", () => {
  for (let attempt = 0; attempt < 6; attempt++) {
    const ceiling = 500 * 2 ** attempt;
    assert.equal(reconnectDelay(attempt, low), ceiling / 2, `attempt ${attempt}`);
    assert.ok(reconnectDelay(attempt, high) <= ceiling);
    assert.ok(reconnectDelay(attempt, high) > ceiling * 0.99);
  }
});

test("the wait is capped at 30 s, even for huge attempts", () => {
  for (const attempt of [6, 7, 10, 50, 1e6]) {
    assert.equal(reconnectDelay(attempt, low), 15_000);
    assert.ok(reconnectDelay(attempt, high) <= 30_000);
  }
});

test("random draws stay within the bounds", () => {
  for (let i = 0; i < 1000; i++) {
    const attempt = i % 12;
    const ceiling = Math.min(30_000, 500 * 2 ** attempt);
    const delay = reconnectDelay(attempt, Math.random);
    assert.ok(delay >= ceiling / 2 && delay <= ceiling, `${delay} for attempt ${attempt}`);
  }
});

test("after 1012 the first wait is at most 1 s, whatever the attempt", () => {
  for (const attempt of [0, 3, 20]) {
    assert.ok(reconnectDelay(attempt, high, { restart: true }) <= 1000);
    assert.ok(reconnectDelay(attempt, low, { restart: true }) >= 0);
  }
});
