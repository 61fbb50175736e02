// @ts-check
/** Branches: which step follows a completed one, decided by what the page shows then. */
import { deepQuery, isShown } from "./dom.js";
import { urlMatches } from "./url-match.js";

/**
 * The step id of the first branch whose condition holds, or null (on to the next step).
 * A branch to a step the run does not have is ignored.
 * @param {import("./types.js").Step} step
 * @param {{doc: Document | ShadowRoot, href: string}} page
 * @param {(id: string) => boolean} exists
 * @returns {string | null}
 */
export function takenBranch(step, page, exists) {
  for (const branch of step.branches ?? []) {
    if (!exists(branch.goto)) continue;
    const when = branch.when ?? {};
    if (when.always === true) return branch.goto;
    if (when.appears && isShown(deepQuery(page.doc, when.appears))) return branch.goto;
    if (when.url && urlMatches(when.url, page.href)) return branch.goto;
  }
  return null;
}
