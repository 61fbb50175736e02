// @ts-check
/** The state one player keeps while a walkthrough plays (shared by its modules). */

/**
 * @typedef {object} Session
 * @property {Document} doc
 * @property {import("./types.js").Win} win
 * @property {import("./types.js").Resolve} resolve
 * @property {(event: import("./types.js").StepEvent) => void} emit
 * @property {import("./overlay.js").Overlay | null} overlay
 * @property {import("./types.js").Run | null} run
 * @property {number} index the current step's index, -1 when none
 * @property {number} token raised whenever the current step changes; async work checks it
 * @property {Element | null} target the current step's element
 * @property {(() => void) | null} unwatch stops watching the advance condition
 * @property {{cancelled: boolean} | null} driving the action in progress
 * @property {((yes: boolean) => void) | null} confirming answers the destructive-step question
 * @property {number} lastActionAt when the last driven action ran (epoch ms)
 * @property {Element | null} returnFocus focused before the walkthrough began
 */

/**
 * The step currently shown.
 * @param {Session} session
 */
export function currentStep(session) {
  return session.run && session.index >= 0 ? session.run.steps[session.index] ?? null : null;
}

export {};
