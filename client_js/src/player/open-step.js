// @ts-check
/**
 * Opening a step: find its target (per `timeout_ms`), act on a missing one per
 * `when_missing`, then show it, report it shown and watch for it to be done.
 */
import { watchAdvance } from "./advance.js";
import { showIdleControls } from "./controls.js";
import { modalDialogOf, revealElement, sleep } from "./dom.js";
import { currentStep } from "./session.js";

const DEFAULT_TIMEOUT_MS = 10_000;

/**
 * @typedef {import("./driving.js").Flow & {goTo: (index: number) => void}} StepFlow
 */

/**
 * @param {import("./session.js").Session} session
 * @param {StepFlow} flow
 * @param {number} token the step's token: stale work stops when it changes
 */
export async function openStep(session, flow, token) {
  const step = /** @type {import("./types.js").Step} */ (currentStep(session));
  if (step.target == null) return present(session, flow, step, null, null);
  // A step whose result is already there (its URL reached, its element shown: the visitor did it,
  // or a page load came between doing it and reporting it) is done, target or not.
  session.unwatch = watchAdvance(pageCondition(step.advance), null, {
    doc: session.doc, win: session.win, done: () => flow.complete(token),
  }); // prettier-ignore
  const found = await locate(session, step, token);
  if (token !== session.token) return;
  session.unwatch?.();
  session.unwatch = null;
  if (found.status === "found" && found.element) return present(session, flow, step, found.element, found);
  const missing = step.when_missing ?? "wait";
  if (missing === "center") return present(session, flow, step, null, found);
  if (missing === "skip") {
    session.emit({ step: step.id, event: "skipped", reason: "target_missing" });
    return flow.goTo(session.index + 1);
  }
  session.emit({ step: step.id, event: "failed", reason: missing === "escalate" ? "escalate" : "target_missing" });
  flow.end(missing === "escalate" ? "escalate" : "target_missing");
}

/**
 * An advance condition the page shows by itself (a URL reached, an element shown), or none.
 * (Not `disappears`: an element not rendered yet has not disappeared.)
 * @param {import("./types.js").Advance | undefined} advance
 * @returns {import("./types.js").Advance | undefined}
 */
function pageCondition(advance) {
  return advance && (advance.after === "url" || advance.after === "appears") ? advance : undefined;
}

/**
 * Resolve the target; with `when_missing: wait`, keep trying until it is found or the step changes.
 * @param {import("./session.js").Session} session
 * @param {import("./types.js").Step} step
 * @param {number} token
 * @returns {Promise<import("./types.js").Resolution>}
 */
async function locate(session, step, token) {
  const timeoutMs = step.timeout_ms ?? DEFAULT_TIMEOUT_MS;
  for (;;) {
    const started = Date.now();
    /** @type {import("./types.js").Resolution} */
    let found;
    try {
      found = await session.resolve(step.target, { timeoutMs });
    } catch (error) {
      console.error("tandem: the resolver failed", error);
      found = { status: "not_found", element: null };
    }
    if (found.status === "found" || (step.when_missing ?? "wait") !== "wait" || token !== session.token) return found;
    await sleep(Math.max(250, timeoutMs - (Date.now() - started))); // a resolver that answers at once is not polled hot
  }
}

/**
 * Show the step (centred when `target` is null) and watch for it to be done.
 * @param {import("./session.js").Session} session
 * @param {StepFlow} flow
 * @param {import("./types.js").Step} step
 * @param {Element | null} target
 * @param {import("./types.js").Resolution | null} found
 */
function present(session, flow, step, target, found) {
  const overlay = /** @type {import("./overlay.js").Overlay} */ (session.overlay);
  const token = session.token;
  session.target = target;
  if (target) revealElement(target, session.win);
  const container = (target && modalDialogOf(target)) || session.doc.body;
  const total = session.run?.steps.length ?? 1;
  const persona = session.run?.persona;
  overlay.show({ text: step.text, index: session.index, total, target, placement: step.placement ?? "auto", container, persona });
  showIdleControls(session);
  overlay.focus();
  /** @type {import("./types.js").StepEvent} */
  const shown = { step: step.id, event: "shown" };
  if (target && found?.strategy) shown.strategy = found.strategy;
  if (target && typeof found?.similarity === "number") shown.similarity = found.similarity;
  session.emit(shown);
  session.unwatch = watchAdvance(step.advance, target, { doc: session.doc, win: session.win, done: () => flow.complete(token) });
}
