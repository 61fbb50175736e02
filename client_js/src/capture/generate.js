// @ts-check
/**
 * Target descriptors for recorded steps, generated in the page with the resolver's own
 * matching code: each candidate kind the player knows, ranked the way Playwright's
 * selector generator ranks them (test id, role + name, label, placeholder, alt, text,
 * title, id, CSS, a structural path last), kept only when it matches exactly the
 * recorded element — so a candidate that would pick a wrong element never enters the
 * file — plus the element's fingerprint. Generated-looking ids and class names (hashes
 * of CSS-in-JS builds, framework counters) are never used: they change on the next build.
 */
import { matchCandidate } from "../resolver/candidates.js";
import { hostOf, isShadowRoot, safeMatches, tagOf } from "../resolver/dom.js";
import { describe } from "../resolver/fingerprint.js";
import { GENERIC } from "../resolver/roles.js";
import { Search } from "../resolver/search.js";
import { selectorFor } from "../resolver/selectors.js";
import { squash } from "../resolver/text.js";

/** @typedef {import("../resolver/types.js").Candidate} Candidate */
/** @typedef {import("../resolver/types.js").Descriptor} Descriptor */

/** Tandem's own UI (widget, player, co-browse banner, this recorder): never a target. */
export const TANDEM_UI = /^tandem-/;

/** Texts longer than this make poor candidates (they change with every edit). */
const MAX_TEXT = 80;

/** Attributes a CSS candidate may use, most telling first. */
const CSS_ATTRIBUTES = ["name", "aria-label", "href", "type", "for", "action", "alt", "title", "placeholder"];

/**
 * How the characters of a token change class (lower, upper, digit, other).
 * @param {string} ch
 */
function charClass(ch) {
  if (ch >= "a" && ch <= "z") return 1;
  if (ch >= "A" && ch <= "Z") return 2;
  if (ch >= "0" && ch <= "9") return 3;
  return 4;
}

/**
 * Whether an id or class name looks generated (a build hash, a framework counter, a UUID)
 * rather than written by a person: such names change when the site is rebuilt. Tokens that
 * switch often between lower case, upper case, digits and punctuation are generated
 * ("e3fa9c1", "sc-bdVaJa", "css-1x2y3z"); so are long digit runs, UUIDs and React's `:r1:` ids.
 * @param {string} token
 */
export function looksGenerated(token) {
  const value = token.trim();
  if (!value) return true;
  if (value.length > 48) return true;
  if (/^:r[0-9a-z]*:$/i.test(value) || /^[0-9a-f]{8}-[0-9a-f]{4}-/i.test(value)) return true;
  if (/\d{4,}/.test(value) || /^\d/.test(value)) return true;
  if (/^(css|sc|jsx|emotion|styled|svelte|ember|chakra|mui|tw|_)-?[a-z0-9]*[0-9][a-z0-9]*$/i.test(value)) return true;
  // A CSS-in-JS prefix and a hash with capitals or digits ("sc-bdVaJa", "emotion-0aB3").
  if (/^(css|sc|jsx|emotion|styled|svelte|chakra|mui|tw)-(?=[\w]*[A-Z0-9])\w{4,}$/.test(value)) return true;
  if (/[0-9a-f]{6,}/i.test(value) && /\d/.test(value)) return true;
  let changes = 0;
  for (let i = 1; i < value.length; i++) {
    const here = charClass(value[i]);
    const before = charClass(value[i - 1]);
    // A word's capital after lower case ("fooBar") or a separator is how people write names.
    if (here !== before && !(before === 1 && here === 2) && here !== 4 && before !== 4) changes += 1;
  }
  return changes >= Math.max(2, value.length / 4);
}

/**
 * `[name="value"]`, quoted for CSS.
 * @param {string} name
 * @param {string} value
 */
function attributeSelector(name, value) {
  return `[${CSS.escape(name)}="${value.replace(/["\\]/g, "\\$&")}"]`;
}

/**
 * Whether an element is Tandem's own UI or inside it.
 * @param {Element} element
 */
export function isTandemUi(element) {
  for (let current = /** @type {Element | null} */ (element); current; current = current.parentElement ?? hostOf(current)) {
    if (TANDEM_UI.test(tagOf(current))) return true;
  }
  return false;
}

/**
 * The search the player would run for an element: its document (the top one, or the
 * iframe's — the fingerprint's frame path leads the player there), without Tandem's UI.
 * @param {Element} element
 * @param {string} testIdAttribute
 */
export function searchFor(element, testIdAttribute) {
  const search = new Search(element.ownerDocument, testIdAttribute);
  search.elements = search.elements.filter((e) => !isTandemUi(e));
  search.known = new Set(search.elements);
  search.roots = search.roots.filter((root) => !(isShadowRoot(root) && isTandemUi(root.host)));
  return search;
}

/**
 * A CSS selector that picks this element alone in its tree, without generated names:
 * its test id, a person-written id, its tag with telling attributes or classes; null if none does.
 * @param {Element} element
 * @param {string} testIdAttribute
 * @param {(selector: string) => boolean} unique
 */
function readableCss(element, testIdAttribute, unique) {
  const tag = tagOf(element);
  /** @type {string[]} */
  const options = [];
  const id = element.getAttribute("id");
  if (id && !looksGenerated(id)) options.push(`#${CSS.escape(id)}`);
  /** @type {string[]} */
  const attributes = [];
  for (const name of CSS_ATTRIBUTES) {
    const value = element.getAttribute(name);
    if (value && value.length <= 200) attributes.push(attributeSelector(name, value));
  }
  options.push(...attributes.map((a) => `${tag}${a}`));
  const classes = Array.from(element.classList).filter((c) => !looksGenerated(c) && !/^(is|has)-(active|hover|focus|open)/.test(c));
  if (classes.length) options.push(`${tag}.${classes.map((c) => CSS.escape(c)).join(".")}`);
  if (attributes.length >= 2) options.push(`${tag}${attributes[0]}${attributes[1]}`);
  // The test id last: a CSS candidate that repeats the testid candidate adds no fallback.
  const testId = element.getAttribute(testIdAttribute);
  if (testId) options.push(attributeSelector(testIdAttribute, testId));
  return options.find(unique) ?? null;
}

/**
 * The element's path from the root of its tree, by tag and position among its siblings
 * (Playwright's "nth" last resort): stable while the page's structure is.
 * @param {Element} element
 */
function structuralPath(element) {
  const steps = [];
  for (let current = /** @type {Element | null} */ (element); current; current = current.parentElement) {
    const tag = tagOf(current);
    const parent = current.parentElement;
    const same = parent ? Array.from(parent.children).filter((c) => tagOf(c) === tag) : [current];
    steps.unshift(same.length > 1 ? `${tag}:nth-of-type(${same.indexOf(current) + 1})` : tag);
    if (tag === "body") break;
  }
  return steps.join(" > ");
}

/**
 * The candidates of an element, best first, each matching it alone.
 * @param {Element} element
 * @param {{testIdAttribute?: string}} [options]
 * @returns {Candidate[]}
 */
export function candidatesFor(element, options = {}) {
  const testIdAttribute = options.testIdAttribute ?? "data-testid";
  const search = searchFor(element, testIdAttribute);
  /** @type {Candidate[]} */
  const kept = [];
  /** @param {Candidate} candidate */
  const offer = (candidate) => {
    const found = matchCandidate(candidate, search);
    const same = kept.some((c) => JSON.stringify(c) === JSON.stringify(candidate));
    if (!same && found.length === 1 && found[0] === element) kept.push(candidate);
  };
  const attr = (/** @type {string} */ name) => squash(element.getAttribute(name) ?? "");

  const testId = element.getAttribute(testIdAttribute);
  if (testId) offer({ kind: "testid", value: testId });
  const role = search.role(element);
  const name = squash(search.name(element));
  if (role && !GENERIC.has(role) && name && name.length <= MAX_TEXT) offer({ kind: "role", value: role, name });
  for (const label of search.labels(element)) {
    const text = squash(label);
    if (text && text.length <= MAX_TEXT) offer({ kind: "label", value: text });
  }
  for (const kind of /** @type {const} */ (["placeholder", "alt"])) {
    if (attr(kind) && attr(kind).length <= MAX_TEXT) offer({ kind, value: attr(kind) });
  }
  const text = squash(search.text(element));
  if (text && text.length <= MAX_TEXT && !["input", "textarea", "select"].includes(tagOf(element))) offer({ kind: "text", value: text });
  if (attr("title") && attr("title").length <= MAX_TEXT) offer({ kind: "title", value: attr("title") });

  const root = /** @type {Document | ShadowRoot} */ (element.getRootNode());
  const inTree = (/** @type {string} */ selector) => {
    try {
      const found = root.querySelectorAll(selector);
      return found.length === 1 && found[0] === element;
    } catch {
      return false;
    }
  };
  const css = readableCss(element, testIdAttribute, (selector) => matchCandidate({ kind: "css", value: selector }, search).length === 1 && inTree(selector));
  if (css) offer({ kind: "css", value: css });

  const hosts = [];
  for (let host = hostOf(element); host; host = hostOf(host)) hosts.unshift(host);
  if (hosts.length) {
    const own = readableCss(element, testIdAttribute, inTree) ?? structuralPath(element);
    const chain = [...hosts.map((host) => selectorFor(host, testIdAttribute)), own];
    if (chain.every((s) => !/#[^\s>]*\d{3,}/.test(s))) offer({ kind: "shadow", chain });
  }
  const path = structuralPath(element);
  if (kept.length < 2 || !kept.some((c) => c.kind === "css" || c.kind === "shadow")) offer({ kind: "css", value: path });
  return kept.slice(0, 12);
}

/**
 * The target descriptor of an element: its candidates and its fingerprint. A fingerprint
 * keeps no value a person typed: inputs' values are only kept for buttons (what they show).
 * @param {Element} element
 * @param {{testIdAttribute?: string}} [options]
 * @returns {Descriptor}
 */
export function descriptorFor(element, options = {}) {
  const { fingerprint } = describe(element, options);
  return { candidates: candidatesFor(element, options), fingerprint };
}

/**
 * A CSS selector for an expectation (`expect.appears`, `advance.selector`): the player
 * checks it with `querySelector` on the element's document, so it must pick the element
 * alone there — its test id, a person-written id, or readable attributes; null when none does
 * (an element inside a shadow root cannot be named this way).
 * @param {Element} element
 * @param {{testIdAttribute?: string}} [options]
 */
export function expectationSelector(element, options = {}) {
  const testIdAttribute = options.testIdAttribute ?? "data-testid";
  if (isShadowRoot(element.getRootNode())) return null;
  const doc = element.ownerDocument;
  const unique = (/** @type {string} */ selector) => {
    try {
      return doc.querySelector(selector) === element && safeMatches(element, selector);
    } catch {
      return false;
    }
  };
  return readableCss(element, testIdAttribute, unique);
}
