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
import { framesOf, hostOf, isShadowRoot, safeMatches, tagOf } from "../resolver/dom.js";
import { describe } from "../resolver/fingerprint.js";
import { GENERIC } from "../resolver/roles.js";
import { Search } from "../resolver/search.js";
import { selectorFor } from "../resolver/selectors.js";
import { normalize, squash } from "../resolver/text.js";
import { sanitizeUrl } from "../sanitize.js";

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
  if (/:r[0-9a-z]*:|«r[0-9a-z]*»|^_r_[0-9a-z]+_$/i.test(value) || /[0-9a-f]{8}-[0-9a-f]{4}-/i.test(value)) return true;
  // Framework counters and CSS-module hashes: mat-input-0, cdk-overlay-0, ui-id-3, radix-…,
  // headlessui-…, react-select-2-…, downshift-0-…, j_idt12, jss123, Home_container__d4b2f.
  if (/^(mat|cdk|ui-id|radix|headlessui|react-select|react-aria|downshift|rc-tabs|mui|chakra|vaadin|ant|ng|el)-.*\d/i.test(value)) return true;
  if (/^(j_idt|jss|ember)\d/i.test(value)) return true;
  if (/__[A-Za-z0-9]{5,}$/.test(value) && /\d/.test(value)) return true;
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
  // The resolver's Search already leaves out what is inside Tandem's UI (its shadow roots):
  // only the host elements themselves remain to drop.
  const search = new Search(element.ownerDocument, testIdAttribute);
  search.elements = search.elements.filter((e) => !TANDEM_UI.test(e.localName));
  search.known = new Set(search.elements);
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
    // A link's query may carry a token: such URLs never become selectors.
    if ((name === "href" || name === "action") && value && /[?#]/.test(value)) continue;
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

/** Above this many elements, text-like candidates are checked on a narrowed set first. */
const NARROW_ABOVE = 1500;
/** When more elements than this could match a text-like candidate, it is not offered. */
const NARROW_BUDGET = 400;

/**
 * The search, narrowed to the elements that could have this text, name or label: those whose
 * content holds every word of it; those whose aria-label, title, alt, placeholder or value does;
 * the controls of <label>s that do; and those named in ways not checked here (aria-labelledby,
 * inputs, images). A superset of what a text, role or label candidate can match, so uniqueness
 * is still judged right, without computing every element's text, name and labels on a large
 * page (`element.labels` alone walks the document).
 * @param {import("../resolver/search.js").Search} search
 * @param {string} value
 * @returns {import("../resolver/search.js").Search | null} null: too many could match to bother
 */
function narrowed(search, value) {
  if (search.elements.length <= NARROW_ABOVE) return search;
  const words = normalize(value).split(" ").filter(Boolean);
  const holds = (/** @type {string | null} */ text) => !!text && words.every((w) => text.toLowerCase().includes(w));
  /** @type {Set<Element>} */
  const keep = new Set();
  for (const e of search.elements) {
    const tag = tagOf(e);
    if (holds(e.textContent) || e.hasAttribute("aria-labelledby") || tag === "input" || tag === "img" || tag === "area") {
      keep.add(e);
    } else if (["aria-label", "title", "alt", "placeholder", "value"].some((a) => holds(e.getAttribute(a)))) {
      keep.add(e);
    }
  }
  for (const label of search.queryAll("label")) {
    const control = /** @type {HTMLLabelElement} */ (label).control;
    if (control && holds(label.textContent)) keep.add(control);
  }
  // So many could match that the candidate would hardly be unique: not worth its cost.
  if (keep.size > NARROW_BUDGET) return null;
  const elements = search.elements.filter((e) => keep.has(e));
  const view = /** @type {import("../resolver/search.js").Search} */ (Object.create(search));
  view.elements = elements;
  view.known = new Set(elements);
  return view;
}

/**
 * A selector for a shadow host or an iframe in its own tree, never by a generated name:
 * its test id, a readable selector, else its structural path.
 * @param {Element} element
 * @param {string} testIdAttribute
 */
export function hostSelector(element, testIdAttribute) {
  const root = /** @type {Document | ShadowRoot} */ (element.getRootNode());
  const inTree = (/** @type {string} */ selector) => {
    try {
      const found = root.querySelectorAll(selector);
      return found.length === 1 && found[0] === element;
    } catch {
      return false;
    }
  };
  const chosen = selectorFor(element, testIdAttribute);
  const generated = /#|\[id=/.test(chosen) && looksGenerated(element.getAttribute("id") ?? "");
  if (!generated && !/:nth-of-type/.test(chosen)) return chosen;
  return readableCss(element, testIdAttribute, inTree) ?? structuralPath(element);
}

/**
 * The candidates of an element, best first, each matching it alone. `conceal`: the element's
 * content is private (a private field, a contenteditable, something in a private region):
 * no candidate says what it shows (its text, its name, its title or alt).
 * @param {Element} element
 * @param {{testIdAttribute?: string, conceal?: boolean}} [options]
 * @returns {Candidate[]}
 */
export function candidatesFor(element, options = {}) {
  const testIdAttribute = options.testIdAttribute ?? "data-testid";
  const conceal = options.conceal === true;
  const search = searchFor(element, testIdAttribute);
  /** @type {Candidate[]} */
  const kept = [];
  /**
   * @param {Candidate} candidate
   * @param {import("../resolver/search.js").Search | null} [where] null: not worth checking
   */
  const offer = (candidate, where = /** @type {typeof search | null} */ (search)) => {
    if (!where || (candidate.value ?? "").length > 1000) return;
    const found = matchCandidate(candidate, where);
    const same = kept.some((c) => JSON.stringify(c) === JSON.stringify(candidate));
    if (!same && found.length === 1 && found[0] === element) kept.push(candidate);
  };
  const attr = (/** @type {string} */ name) => squash(element.getAttribute(name) ?? "");

  const testId = element.getAttribute(testIdAttribute);
  if (testId) offer({ kind: "testid", value: testId });
  const role = search.role(element);
  const name = conceal ? "" : squash(search.name(element));
  if (role && !GENERIC.has(role) && name && name.length <= MAX_TEXT) offer({ kind: "role", value: role, name }, narrowed(search, name));
  for (const label of search.labels(element)) {
    const text = squash(label);
    if (text && text.length <= MAX_TEXT) offer({ kind: "label", value: text }, narrowed(search, text));
  }
  /** @type {("placeholder" | "alt")[]} */
  const described = conceal ? ["placeholder"] : ["placeholder", "alt"];
  for (const kind of described) {
    if (attr(kind) && attr(kind).length <= MAX_TEXT) offer({ kind, value: attr(kind) });
  }
  const text = conceal ? "" : squash(search.text(element));
  if (text && text.length <= MAX_TEXT && !["input", "textarea", "select"].includes(tagOf(element))) offer({ kind: "text", value: text }, narrowed(search, text));
  if (!conceal && attr("title") && attr("title").length <= MAX_TEXT) offer({ kind: "title", value: attr("title") });

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
  if (hosts.length && hosts.length < 8) {
    const own = readableCss(element, testIdAttribute, inTree) ?? structuralPath(element);
    offer({ kind: "shadow", chain: [...hosts.map((host) => hostSelector(host, testIdAttribute)), own] });
  }
  const path = structuralPath(element);
  if (kept.length < 2 || !kept.some((c) => c.kind === "css" || c.kind === "shadow")) offer({ kind: "css", value: path });
  return kept.slice(0, 12);
}

/**
 * A link or form address without the values of sensitive query keys (a token in a reset link).
 * @param {string} value
 * @param {string} base
 */
function cleanAddress(value, base) {
  if (!/[?#]/.test(value)) return value;
  let absolute;
  try {
    absolute = new URL(value, base);
  } catch {
    return value.replace(/[?#].*$/, "");
  }
  const clean = new URL(sanitizeUrl(absolute.href) || absolute.origin + absolute.pathname);
  const relative = !/^[a-z][a-z0-9+.-]*:/i.test(value);
  return relative ? clean.pathname + clean.search + clean.hash : clean.href;
}

/**
 * The target descriptor of an element: its candidates and its fingerprint. A fingerprint
 * keeps no value a person typed (inputs' values only for buttons, what they show), no
 * sensitive query value of a link, no generated name of the iframes and shadow hosts it is
 * in; with `conceal`, neither what the element shows (its name and text).
 * @param {Element} element
 * @param {{testIdAttribute?: string, conceal?: boolean}} [options]
 * @returns {Descriptor}
 */
export function descriptorFor(element, options = {}) {
  const testIdAttribute = options.testIdAttribute ?? "data-testid";
  const { fingerprint } = describe(element, { testIdAttribute });
  const fp = /** @type {Record<string, any>} */ (fingerprint);
  if (options.conceal) {
    delete fp.name;
    delete fp.text;
    if (fp.attributes) for (const key of ["title", "alt", "aria-label", "value"]) delete fp.attributes[key];
  }
  for (const key of ["href", "action"]) {
    if (fp.attributes?.[key]) fp.attributes[key] = cleanAddress(fp.attributes[key], element.baseURI);
  }
  const hosts = [];
  for (let host = hostOf(element); host; host = hostOf(host)) hosts.unshift(host);
  if (hosts.length) fp.shadow_hosts = hosts.map((host) => hostSelector(host, testIdAttribute));
  const frames = framesOf(element);
  if (frames.length) fp.frame = frames.map((frame) => hostSelector(frame, testIdAttribute));
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
