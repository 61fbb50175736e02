// @ts-check
/** Which buttons and note a step shows when idle (not driving, not confirming). */
import { actionAllowed } from "./drive.js";
import { isPrivateField } from "./private-field.js";
import { currentStep } from "./session.js";
import { setControls } from "./tooltip.js";

export const YOU_DO_THIS = "You do this one: Tandem never fills in private fields such as passwords, card numbers or codes.";

/**
 * Whether "Do it for me" is offered: the step has an allowed action on a non-private target.
 * @param {import("./session.js").Session} session
 */
export function canDrive(session) {
  const step = currentStep(session);
  if (!step?.action) return false;
  if (session.target && isPrivateField(session.target)) return false;
  return actionAllowed(step.action, session.target, session.win);
}

/**
 * Show the idle controls, with an optional note.
 * @param {import("./session.js").Session} session
 * @param {{text: string, warning?: boolean} | null} [note]
 */
export function showIdleControls(session, note = null) {
  const step = currentStep(session);
  if (!step || !session.overlay) return;
  /** @type {import("./tooltip.js").ButtonName[]} */
  const visible = [];
  if (session.index > 0) visible.push("back");
  if ((step.advance?.after ?? "next") === "next") visible.push("next");
  if (canDrive(session)) visible.push("drive");
  const privateNote = step.action && session.target && isPrivateField(session.target) ? { text: YOU_DO_THIS } : null;
  setControls(session.overlay.tooltip, visible, note ?? privateNote);
}
