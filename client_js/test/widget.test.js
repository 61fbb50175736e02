// @ts-check
import assert from "node:assert/strict";
import { test } from "node:test";

import { personNote } from "../src/widget/widget.js";

test("a visitor waiting for a person is told their place in line and the wait", () => {
  assert.equal(personNote({ channel: "chat", queue: { position: 2, wait_ms: 150_000 } }), "You are number 2 in line, about 3 minutes. A person from the team will join you here.");
  assert.equal(personNote({ channel: "chat", queue: { position: 1, wait_ms: 20_000 } }), "You are number 1 in line, about 1 minute. A person from the team will join you here.");
  assert.match(personNote({ channel: "live_agent", queue: {} }), /joining you here in a moment/);
  assert.match(personNote({ channel: "email" }), /Nobody is online right now/);
  assert.match(personNote({ channel: "queue" }), /will get in touch/);
});
