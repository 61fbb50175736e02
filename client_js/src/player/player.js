// @ts-check
/**
 * The on-page player: plays a `run` message's steps — finds each target with the
 * injected resolver, highlights it, shows the step's text beside it, waits for the
 * step to be done (or does it, in drive mode) and reports each step's outcome.
 */
import { takenBranch } from "./branch.js";
import { driveStep, stopDriving } from "./driving.js";
import { openStep } from "./open-step.js";
import { createOverlay } from "./overlay.js";
import { currentStep } from "./session.js";

/**
 * @param {{doc?: Document, win?: import("./types.js").Win, resolve: import("./types.js").Resolve,
 *   onEvent?: (event: import("./types.js").StepEvent) => void,
 *   onEnd?: (event: import("./types.js").EndEvent) => void}} options
 */
export function createPlayer({ doc = document, win = window, resolve, onEvent = () => {}, onEnd = () => {} }) {
  /** @type {import("./session.js").Session} */
  const session = {
    doc, win, resolve, overlay: null, run: null, index: -1, token: 0, target: null,
    unwatch: null, driving: null, confirming: null, lastActionAt: 0, returnFocus: null,
    emit: (event) => safely(() => onEvent(event)),
  }; // prettier-ignore
  const flow = { complete, end, goTo };

  /**
   * Play a run from its current step (or `startAt`, an index or a step id).
   * @param {import("./types.js").Run} run
   * @param {{startAt?: number | string}} [options]
   */
  function play(run, { startAt } = {}) {
    if (session.run) end("replaced");
    session.run = run;
    session.returnFocus = doc.activeElement;
    session.overlay ??= createOverlay({ doc, win, onButton, onKey });
    const wanted = startAt ?? run.step;
    const index = typeof wanted === "number" ? wanted : run.steps.findIndex((s) => s.id === wanted);
    goTo(Math.max(index, 0));
  }

  /** @param {number} index */
  function goTo(index) {
    leaveStep();
    if (!session.run || index >= session.run.steps.length) return end("completed");
    session.index = Math.max(index, 0);
    openStep(session, flow, ++session.token).catch((error) => {
      console.error("tandem: a walkthrough step failed", error);
      end("error");
    });
  }

  /**
   * The current step is done: on to the branch whose condition holds, else the next step.
   * @param {number} token
   */
  function complete(token) {
    const step = currentStep(session);
    if (token !== session.token || !step || !session.run) return;
    const steps = session.run.steps;
    const goto = takenBranch(step, { doc, href: win.location.href }, (id) => steps.some((s) => s.id === id));
    session.emit(goto ? { step: step.id, event: "completed", goto } : { step: step.id, event: "completed" });
    goTo(goto ? steps.findIndex((s) => s.id === goto) : session.index + 1);
  }

  /** The visitor goes back a step. */
  function back() {
    const step = currentStep(session);
    if (!step || session.index === 0) return;
    session.emit({ step: step.id, event: "reversed" });
    goTo(session.index - 1);
  }

  /** Stop everything the current step started: watchers, drive mode, a pending question. */
  function leaveStep() {
    session.token++;
    session.unwatch?.();
    session.unwatch = null;
    if (session.driving) session.driving.cancelled = true;
    session.driving = null;
    session.confirming?.(false);
    session.target = null;
    session.overlay?.hide();
  }

  /** @param {string} reason */
  function end(reason) {
    if (!session.run) return;
    const step = reason === "completed" ? null : currentStep(session)?.id ?? null;
    leaveStep();
    session.run = null;
    session.index = -1;
    const back = session.returnFocus;
    session.returnFocus = null;
    if (back instanceof win.HTMLElement && back.isConnected) back.focus({ preventScroll: true });
    safely(() => onEnd({ reason, step }));
  }

  /** @param {import("./tooltip.js").ButtonName} name */
  function onButton(name) {
    if (name === "close") end("closed");
    else if (name === "next") complete(session.token);
    else if (name === "back") back();
    else if (name === "drive") driveStep(session, flow);
    else if (name === "stop") stopDriving(session);
    else session.confirming?.(name === "confirm");
  }

  /** Keys act only while focus is in Tandem's UI, and never in a text field. @param {KeyboardEvent} event */
  function onKey(event) {
    const origin = /** @type {Element | null} */ (event.composedPath()[0] ?? null);
    if (origin && origin.closest?.("input, textarea, select, [contenteditable]")) return;
    const buttons = session.overlay?.tooltip.buttons;
    if (event.key === "Escape") end("closed");
    else if (event.key === "ArrowRight" && buttons && !buttons.next.hidden) complete(session.token);
    else if (event.key === "ArrowLeft" && buttons && !buttons.back.hidden) back();
    else return;
    event.preventDefault();
    event.stopPropagation();
  }

  return {
    play,
    /** End the walkthrough (the caller's reason is passed to `onEnd`). @param {string} [reason] */
    stop: (reason = "stopped") => end(reason),
    /** The step being shown: its run, id and index; null when nothing plays. */
    current: () => {
      const step = currentStep(session);
      return step ? { run: session.run?.run ?? null, step: step.id, index: session.index } : null;
    },
    /** "Do it for me" on the current step, as the button does. */
    drive: () => driveStep(session, flow),
  };
}

/** @param {() => void} callback */
function safely(callback) {
  try {
    callback();
  } catch (error) {
    console.error("tandem: a player callback failed", error);
  }
}
