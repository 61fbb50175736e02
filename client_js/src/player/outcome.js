// @ts-check
/** The expected outcome of a driven action (`expect`), checked against what the page shows. */
import { urlMatches } from "./url-match.js";

/**
 * What the page shows, as far as `expect` asks.
 * @typedef {object} Probe
 * @property {string} href the current URL
 * @property {(selector: string) => boolean} shown whether an element matching the selector is visible
 * @property {string | null} value the target's current value (null without one)
 */

/**
 * Whether every part of `expect` holds.
 * @param {import("./types.js").Expect | undefined} expect
 * @param {Probe} probe
 */
export function outcomeMet(expect, probe) {
  if (!expect) return true;
  if (expect.url && !urlMatches(expect.url, probe.href)) return false;
  if (expect.appears && !probe.shown(expect.appears)) return false;
  if (expect.disappears && probe.shown(expect.disappears)) return false;
  if (expect.value != null && probe.value !== expect.value) return false;
  return true;
}

/**
 * Poll until `expect` holds or the deadline passes.
 * @param {import("./types.js").Expect | undefined} expect
 * @param {() => Probe} probe
 * @param {{deadlineMs?: number, intervalMs?: number, cancelled?: () => boolean}} [options]
 * @returns {Promise<boolean>}
 */
export async function waitForOutcome(expect, probe, { deadlineMs = 3000, intervalMs = 100, cancelled = () => false } = {}) {
  const until = Date.now() + deadlineMs;
  for (;;) {
    if (cancelled()) return false;
    if (outcomeMet(expect, probe())) return true;
    if (Date.now() >= until) return false;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
