// @ts-check
/**
 * Drive mode for one step: refuse private fields, confirm destructive steps, say what
 * is about to happen (with a visible Stop), keep 400 ms between actions, act, then
 * check the expected outcome within 3 s.
 */
import { showIdleControls, YOU_DO_THIS } from "./controls.js";
import { deepQuery, isShown, sleep } from "./dom.js";
import { actionAllowed, describeAction, perform } from "./drive.js";
import { waitForOutcome } from "./outcome.js";
import { isPrivateField } from "./private-field.js";
import { currentStep } from "./session.js";
import { setControls } from "./tooltip.js";

export const MIN_ACTION_GAP_MS = 400;
export const OUTCOME_DEADLINE_MS = 3000;

/**
 * @typedef {{complete: (token: number) => void, end: (reason: string) => void}} Flow
 */

/**
 * "Do it for me" on the current step.
 * @param {import("./session.js").Session} session
 * @param {Flow} flow
 */
export async function driveStep(session, flow) {
  const step = currentStep(session);
  const { token, target, win } = session;
  if (!step?.action || session.driving || !session.overlay) return;
  if (target && isPrivateField(target)) return refuse(session, step, "private_field", YOU_DO_THIS);
  if (!actionAllowed(step.action, target, win)) return refuse(session, step, "action_refused", "Tandem cannot do this step: please do it yourself.");
  if (step.destructive && !(await confirmDestructive(session))) return;
  if (token !== session.token) return;
  const driving = (session.driving = { cancelled: false });
  setControls(session.overlay.tooltip, ["stop"], { text: describeAction(step.action) });
  const gap = session.lastActionAt + MIN_ACTION_GAP_MS - Date.now();
  if (gap > 0) await sleep(gap);
  if (driving.cancelled || token !== session.token) return;
  session.lastActionAt = Date.now();
  await perform(step.action, target, win);
  const probe = () => ({ href: win.location.href, shown: (/** @type {string} */ s) => isShown(deepQuery(session.doc, s)), value: valueOf(target) });
  const ok = await waitForOutcome(step.expect, probe, { deadlineMs: OUTCOME_DEADLINE_MS, cancelled: () => driving.cancelled || token !== session.token });
  if (driving.cancelled || token !== session.token) return;
  session.driving = null;
  if (ok) return flow.complete(token);
  session.emit({ step: step.id, event: "failed", reason: "unexpected_outcome" });
  flow.end("unexpected_outcome");
}

/**
 * The Stop button: no further action; the step stays, for the visitor to do.
 * @param {import("./session.js").Session} session
 */
export function stopDriving(session) {
  if (session.driving) session.driving.cancelled = true;
  session.driving = null;
  showIdleControls(session);
}

/**
 * @param {import("./session.js").Session} session
 * @param {import("./types.js").Step} step
 * @param {string} reason
 * @param {string} note
 */
function refuse(session, step, reason, note) {
  session.emit({ step: step.id, event: "failed", reason });
  showIdleControls(session, { text: note, warning: true });
}

/**
 * Ask in Tandem's UI before a destructive action.
 * @param {import("./session.js").Session} session
 * @returns {Promise<boolean>}
 */
function confirmDestructive(session) {
  const overlay = /** @type {import("./overlay.js").Overlay} */ (session.overlay);
  setControls(overlay.tooltip, ["confirm", "cancel"], { text: "This step cannot be undone. Do it?", warning: true });
  overlay.tooltip.buttons.confirm.focus();
  return new Promise((resolve) => {
    session.confirming = (yes) => {
      session.confirming = null;
      if (!yes) showIdleControls(session);
      resolve(yes);
    };
  });
}

/** @param {Element | null} element */
function valueOf(element) {
  return element && "value" in element ? String(/** @type {HTMLInputElement} */ (element).value) : null;
}
