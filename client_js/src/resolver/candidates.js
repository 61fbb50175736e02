// @ts-check
/**
 * Candidates: each kind of candidate resolves to the set of elements it matches.
 * Text-like kinds compare ignoring case and runs of whitespace; `exact: false`
 * matches a part of the text.
 */
import { composedParent, isElement } from "./dom.js";
import { GENERIC } from "./roles.js";
import { textMatches } from "./text.js";

/** @typedef {import("./types.js").Candidate} Candidate */
/** @typedef {import("./search.js").Search} Search */

/** XPathResult.ORDERED_NODE_SNAPSHOT_TYPE, as a number: XPathResult differs per window. */
const ORDERED_SNAPSHOT = 7;

/**
 * @param {Search} search
 * @param {(element: Element) => boolean} test
 */
function where(search, test) {
  return search.elements.filter(test);
}

/**
 * @param {string} attribute
 * @param {Candidate} candidate
 * @returns {(element: Element) => boolean}
 */
function attributeIs(attribute, candidate) {
  return (element) => textMatches(element.getAttribute(attribute), candidate.value ?? "", candidate.exact !== false);
}

/**
 * Elements whose text matches, each lifted from the innermost element holding the
 * text to the nearest wrapper with a meaning (button, link, heading…) showing the same text.
 * @param {Candidate} candidate
 * @param {Search} search
 */
function byText(candidate, search) {
  const hits = where(search, (e) => textMatches(search.text(e), candidate.value ?? "", candidate.exact !== false));
  const hit = new Set(hits);
  const innermost = hits.filter((e) => !Array.from(e.children).some((child) => hit.has(child)));
  return innermost.map((element) => lift(element, search));
}

/**
 * The element itself, or the nearest wrapper with a meaningful role that shows the same text.
 * @param {Element} element
 * @param {Search} search
 */
function lift(element, search) {
  const text = search.text(element);
  for (let up = /** @type {Element | null} */ (element); up && search.known.has(up) && search.text(up) === text; up = composedParent(up)) {
    const role = search.role(up);
    if (role && !GENERIC.has(role)) return up;
  }
  return element;
}

/**
 * @param {Candidate} candidate
 * @param {Search} search
 */
function byRole(candidate, search) {
  const role = (candidate.value ?? "").trim().toLowerCase();
  const name = candidate.name?.trim() ? candidate.name : null;
  return where(search, (e) => search.role(e) === role && (name === null || textMatches(search.name(e), name, candidate.exact !== false)));
}

/**
 * @param {string} expression
 * @param {Search} search
 */
function byXPath(expression, search) {
  /** @type {Element[]} */
  const found = [];
  for (const base of search.bases) {
    const doc = base.nodeType === 9 ? /** @type {Document} */ (base) : /** @type {Element} */ (base).ownerDocument;
    try {
      const result = doc.evaluate(expression, base, null, ORDERED_SNAPSHOT, null);
      for (let i = 0; i < result.snapshotLength; i++) found.push(/** @type {Element} */ (result.snapshotItem(i)));
    } catch {
      return [];
    }
  }
  return found.filter((node) => isElement(node) && search.known.has(node));
}

/**
 * Shadow chain: each selector but the last finds shadow hosts inside the previous host's shadow root.
 * @param {string[]} chain
 * @param {Search} search
 */
function byShadowChain(chain, search) {
  let roots = /** @type {import("./search.js").Root[]} */ (search.bases);
  for (const selector of chain.slice(0, -1)) {
    roots = search.queryAll(selector, roots).flatMap((host) => (host.shadowRoot ? [host.shadowRoot] : []));
  }
  return roots.length ? search.queryAll(chain[chain.length - 1], roots) : [];
}

/** @typedef {(candidate: Candidate, search: Search) => Element[]} Matcher */

/**
 * @param {"placeholder" | "alt" | "title"} attribute
 * @returns {Matcher}
 */
const byAttribute = (attribute) => (candidate, search) => where(search, attributeIs(attribute, candidate));

/** How each kind of candidate finds its elements. */
const MATCHERS = /** @type {Record<string, Matcher>} */ ({
  testid: (c, search) => where(search, (e) => e.getAttribute(search.testIdAttribute) === c.value),
  role: byRole,
  label: (c, search) => where(search, (e) => search.labels(e).some((label) => textMatches(label, c.value ?? "", c.exact !== false))),
  placeholder: byAttribute("placeholder"),
  alt: byAttribute("alt"),
  title: byAttribute("title"),
  text: byText,
  css: (c, search) => search.queryAll(c.value ?? ""),
  xpath: (c, search) => byXPath(c.value ?? "", search),
  shadow: (c, search) => byShadowChain(c.chain ?? [], search),
}); // prettier-ignore

/**
 * The elements a candidate matches, each once. A candidate without its value matches nothing.
 * @param {Candidate} candidate
 * @param {Search} search
 * @returns {Element[]}
 */
export function matchCandidate(candidate, search) {
  const matcher = Object.prototype.hasOwnProperty.call(MATCHERS, candidate.kind) ? MATCHERS[candidate.kind] : null;
  const given = candidate.kind === "shadow" ? (candidate.chain?.length ?? 0) >= 2 : !!candidate.value;
  return matcher && given ? [...new Set(matcher(candidate, search))] : [];
}
