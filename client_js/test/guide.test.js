// @ts-check
import assert from "node:assert/strict";
import { test } from "node:test";

import { Guide, RUN_KEY } from "../src/guide.js";
import { MemoryStorage, safeStorage } from "../src/storage.js";
import { setup } from "./harness.js";

/** A guide on the harness's connection; the player is given no page (nothing here plays it). */
function guideOn() {
  const session = new MemoryStorage();
  const h = setup({ session });
  /** @type {{type: string, detail: object}[]} */
  const emitted = [];
  /** @type {(() => void)[]} */
  const timers = [];
  const guide = new Guide({
    doc: /** @type {Document} */ ({}),
    win: /** @type {any} */ ({}),
    connection: h.connection,
    session: safeStorage(() => session),
    resolve: async () => ({ status: "not_found", element: null }),
    now: () => 1_795_000_000_000,
    emit: (type, detail) => emitted.push({ type, detail }),
    later: (fn) => timers.push(fn),
  });
  return { ...h, guide, session, emitted, timers };
}

test("the player's step outcomes become numbered step messages of the playing run", () => {
  const { guide, connect } = guideOn();
  const socket = connect();
  guide.playing = "run-abcdefgh1234";
  guide.report({ step: "name", event: "shown", strategy: "testid", similarity: 1 });
  guide.report({ step: "name", event: "completed", goto: "send" });
  const steps = socket.sentOf("step");
  assert.deepEqual(
    steps.map(({ run, step, event, strategy, goto }) => ({ run, step, event, strategy, goto })),
    [
      { run: "run-abcdefgh1234", step: "name", event: "shown", strategy: "testid", goto: undefined },
      { run: "run-abcdefgh1234", step: "name", event: "completed", strategy: undefined, goto: "send" },
    ],
  );
  assert.ok(Number(steps[1].cseq) > Number(steps[0].cseq));
});

test("a walkthrough the visitor closes abandons the run; a completed one sends nothing more", () => {
  const { guide, connect, session, emitted } = guideOn();
  const socket = connect();
  session.setItem(RUN_KEY, "run-abcdefgh1234");
  guide.playing = "run-abcdefgh1234";
  guide.ended({ reason: "closed", step: "email" });
  const [last] = socket.sentOf("step").slice(-1);
  assert.deepEqual([last.step, last.event, last.reason], ["email", "abandoned", "closed"]);
  assert.equal(guide.pending(), null, "the next page does not pick it up");
  assert.deepEqual(emitted.at(-1), { type: "tandem:walkthrough-end", detail: { run: "run-abcdefgh1234", reason: "closed", session: "" } });

  guide.playing = "run-zyxwvuts9876";
  session.setItem(RUN_KEY, "run-zyxwvuts9876");
  guide.ended({ reason: "completed", step: null });
  assert.equal(socket.sentOf("step").length, 1);
  assert.equal(guide.pending(), null);
});

test("a run that is no longer active is not played and not kept", () => {
  const { guide, session } = guideOn();
  session.setItem(RUN_KEY, "run-abcdefgh1234");
  assert.equal(guide.play({ run: "run-abcdefgh1234", walkthrough: "w", status: "completed", step: "a", steps: [] }), false);
  assert.equal(guide.pending(), null);
});

test("the goal is reported once: its element on screen, or its event tracked, for the run's process", () => {
  const { guide, connect, timers } = guideOn();
  const socket = connect();
  guide.goal = { run: "run-abcdefgh1234", session: "sess-1", process: "export-report", element: "", event: "report.exported", seen: false };
  guide.track("report.printed");
  guide.track("report.exported");
  guide.track("report.exported");
  const goals = socket.sentOf("goal");
  assert.deepEqual(goals.map(({ run, process, how, detail }) => ({ run, process, how, detail })), [
    { run: "run-abcdefgh1234", process: "export-report", how: "event", detail: "report.exported" },
  ]);
  guide.playing = "run-abcdefgh1234";
  guide.ended({ reason: "completed", step: null });
  assert.equal(timers.length, 1, "watching stops a while after the run completed");
  timers[0]();
  assert.equal(guide.goal, null);
});

test("the end of one run's goal watch leaves the next run's goal alone", () => {
  const { guide, connect, timers } = guideOn();
  const socket = connect();
  guide.goal = { run: "run-aaaaaaaa1111", session: "", process: "export-report", element: "", event: "report.exported", seen: false };
  guide.playing = "run-aaaaaaaa1111";
  guide.ended({ reason: "completed", step: null });
  guide.goal = { run: "run-bbbbbbbb2222", session: "", process: "export-report", element: "", event: "report.exported", seen: false };
  timers[0]();
  guide.track("report.exported");
  assert.deepEqual(socket.sentOf("goal").map((m) => m.run), ["run-bbbbbbbb2222"]);
});
