// @ts-check
/**
 * Waiting for a target: passes again whenever the page changes (a MutationObserver
 * on the document, every open shadow root and every same-origin frame searched),
 * until the element is found (and visible) or the time is up.
 */
import { pass, settle } from "./resolve.js";

/** @typedef {import("./types.js").Descriptor} Descriptor */
/** @typedef {import("./types.js").ResolveOptions} ResolveOptions */
/** @typedef {import("./types.js").Resolution} Resolution */
/** @typedef {import("./search.js").Root} Root */

const OBSERVED = { subtree: true, childList: true, attributes: true, characterData: true };

/** Mutations arriving together are handled in one pass, this long after the first. */
const SETTLE_MS = 16;

/** A safety net for what no mutation announces (a frame loading, a stylesheet applying). */
const RECHECK_MS = 500;

/**
 * Resolve a target descriptor, waiting up to `options.timeoutMs` for it to be found and visible.
 * Without a timeout it is one pass, like `resolveNow`. At the deadline it answers with a
 * last pass (not_found, ambiguous or not_visible).
 * @param {Descriptor} descriptor
 * @param {ResolveOptions} [options]
 * @returns {Promise<Resolution>}
 */
export async function resolve(descriptor, options = {}) {
  const settings = settle(options);
  const first = pass(descriptor, settings);
  if (first.resolution.status === "found" || settings.timeoutMs === 0) return first.resolution;
  return waitFor(descriptor, settings, first.roots);
}

/**
 * @param {Descriptor} descriptor
 * @param {ReturnType<typeof settle>} settings
 * @param {Root[]} roots the roots the first pass searched
 * @returns {Promise<Resolution>}
 */
function waitFor(descriptor, settings, roots) {
  return new Promise((done, fail) => {
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    let pending;
    const watched = new Set();
    const schedule = (/** @type {number} */ delay) => (pending ??= setTimeout(() => check(false), delay));
    const observer = new MutationObserver(() => schedule(SETTLE_MS));
    const recheck = setInterval(() => schedule(0), RECHECK_MS);
    const deadline = setTimeout(() => check(true), settings.timeoutMs);
    /** @param {Root[]} more */
    const watch = (more) => {
      for (const root of more.filter((r) => !watched.has(r))) {
        observer.observe(root, OBSERVED);
        watched.add(root);
      }
    };
    const stop = () => {
      observer.disconnect();
      clearTimeout(pending);
      clearTimeout(deadline);
      clearInterval(recheck);
    };
    /** @param {boolean} last */
    function check(last) {
      pending = undefined;
      try {
        const next = pass(descriptor, settings);
        if (last || next.resolution.status === "found") {
          stop();
          done(next.resolution);
        } else {
          watch(next.roots);
        }
      } catch (error) {
        stop();
        fail(error);
      }
    }
    watch(roots);
  });
}
