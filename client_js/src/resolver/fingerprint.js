// @ts-check
/**
 * Fingerprints: what an element looks like (`describe`), and how much another
 * element looks like a recorded one (`compare`).
 */
import { frameElementOf, framesOf, hostOf, safeMatches, shadowHostsOf, tagOf } from "./dom.js";
import { Facts } from "./search.js";
import { canonicalLandmark, landmarkOf } from "./roles.js";
import { selectorFor } from "./selectors.js";
import { clip, textSimilarity } from "./text.js";

/** @typedef {import("./types.js").Fingerprint} Fingerprint */

/**
 * How much each part of the fingerprint counts in the similarity (a weighted mean
 * over the parts the fingerprint has). What the element says it is (name, text)
 * counts most; where it sits (heading, landmark) less; its position least, as
 * layouts change.
 */
export const WEIGHTS = Object.freeze({
  tag: 1.5, role: 1.5, name: 3, text: 2, attributes: 2, heading: 1.5, landmark: 1, frame: 1, shadow_hosts: 1, position: 0.5,
}); // prettier-ignore

/** Attributes many elements share: they describe, but do not identify. */
const WEAK_ATTRIBUTES = new Set(["type", "autocomplete", "role"]);

/** The attributes a fingerprint keeps (besides the test id), when the element has them. */
const KEY_ATTRIBUTES = ["name", "type", "href", "placeholder", "aria-label", "title", "alt", "for", "action", "autocomplete", "role"];

/** Inputs whose value is what they show. */
const VALUE_SHOWN = new Set(["button", "submit", "reset", "checkbox", "radio"]);

const HEADINGS = "h1, h2, h3, h4, h5, h6, [role=heading]";

/** Node.DOCUMENT_POSITION_FOLLOWING. */
const FOLLOWING = 4;

/**
 * The nearest heading before the element in document order, looking out of shadow roots and frames.
 * @param {Element} element
 * @param {Facts} facts
 * @returns {string | null}
 */
export function headingOf(element, facts) {
  for (let current = /** @type {Element | null} */ (element); current; ) {
    const root = /** @type {Document | ShadowRoot} */ (current.getRootNode());
    /** @type {Element | null} */
    let nearest = null;
    for (const heading of root.querySelectorAll(HEADINGS)) {
      if (!(heading.compareDocumentPosition(current) & FOLLOWING)) break;
      nearest = heading;
    }
    if (nearest) return facts.name(nearest) || null;
    current = hostOf(current) ?? frameElementOf(current.ownerDocument);
  }
  return null;
}

/** @param {number} value */
const fraction = (value) => Math.round(Math.min(1, Math.max(0, value)) * 1000) / 1000;

/**
 * Where the element's centre is, as fractions of the top document's size; null without a box.
 * @param {Element} element
 * @returns {{x: number, y: number} | null}
 */
export function positionOf(element) {
  const box = element.getBoundingClientRect();
  if (box.width === 0 && box.height === 0) return null;
  let x = box.left + box.width / 2;
  let y = box.top + box.height / 2;
  let doc = element.ownerDocument;
  for (let frame = frameElementOf(doc); frame; frame = frameElementOf(doc)) {
    const outer = frame.getBoundingClientRect();
    x += outer.left;
    y += outer.top;
    doc = frame.ownerDocument;
  }
  const page = doc.documentElement;
  const view = doc.defaultView;
  return {
    x: fraction((x + (view?.scrollX ?? 0)) / Math.max(page.scrollWidth, 1)),
    y: fraction((y + (view?.scrollY ?? 0)) / Math.max(page.scrollHeight, 1)),
  };
}

/**
 * The key attributes of an element.
 * @param {Element} element
 * @param {string} testIdAttribute
 */
function keyAttributes(element, testIdAttribute) {
  /** @type {Record<string, string>} */
  const attributes = {};
  const names = [testIdAttribute, ...KEY_ATTRIBUTES];
  const type = (element.getAttribute("type") ?? "").toLowerCase();
  if (tagOf(element) === "option" || (tagOf(element) === "input" && VALUE_SHOWN.has(type))) names.push("value");
  for (const name of names) {
    const value = element.getAttribute(name);
    if (value !== null && value !== "") attributes[name] = clip(value, 300);
  }
  return attributes;
}

/**
 * The fingerprint of an element, as the resolver compares it (empty parts left out).
 * @param {Element} element
 * @param {{testIdAttribute?: string}} [options]
 * @returns {{fingerprint: Fingerprint}}
 */
export function describe(element, options = {}) {
  const facts = new Facts();
  const testIdAttribute = options.testIdAttribute ?? "data-testid";
  /** @type {Record<string, unknown>} */
  const fingerprint = {
    tag: tagOf(element),
    role: facts.role(element),
    name: clip(facts.name(element), 300),
    text: clip(facts.text(element), 300),
    attributes: keyAttributes(element, testIdAttribute),
    heading: clip(headingOf(element, facts) ?? "", 300),
    landmark: landmarkOf(element),
    frame: framesOf(element).map((frame) => selectorFor(frame, testIdAttribute)),
    shadow_hosts: shadowHostsOf(element).map((host) => selectorFor(host, testIdAttribute)),
    position: positionOf(element),
  };
  for (const [key, value] of Object.entries(fingerprint)) {
    const empty = value === null || value === "" || (typeof value === "object" && Object.keys(value).length === 0);
    if (empty) delete fingerprint[key];
  }
  return { fingerprint: /** @type {Fingerprint} */ (/** @type {unknown} */ (fingerprint)) };
}

/**
 * How well a list of elements (frames, shadow hosts) matches a list of selectors, level by level;
 * null when both are empty.
 * @param {Element[]} actual
 * @param {string[] | undefined} expected
 */
function chainScore(actual, expected = []) {
  if (!actual.length && !expected.length) return null;
  const matched = expected.filter((selector, i) => i < actual.length && safeMatches(actual[i], selector)).length;
  return matched / Math.max(actual.length, expected.length);
}

/**
 * @param {Record<string, string>} expected
 * @param {Element} element
 */
function attributeScore(expected, element) {
  const entries = Object.entries(expected);
  if (!entries.length) return null;
  return entries.filter(([name, value]) => element.getAttribute(name) === value).length / entries.length;
}

/**
 * @param {{x: number, y: number}} expected
 * @param {Element} element
 */
function positionScore(expected, element) {
  const actual = positionOf(element);
  if (!actual) return 0;
  return Math.max(0, 1 - 2 * Math.hypot(actual.x - expected.x, actual.y - expected.y));
}

/**
 * The score (0..1) of each part of the fingerprint; null for the parts it does not have.
 * @param {Fingerprint} fp
 * @param {Element} element
 * @param {Facts} facts
 * @returns {Record<keyof typeof WEIGHTS, number | null>}
 */
export function partScores(fp, element, facts) {
  const given = (/** @type {unknown} */ value) => value !== null && value !== undefined && value !== "";
  return {
    tag: given(fp.tag) ? Number(tagOf(element) === fp.tag) : null,
    role: given(fp.role) ? Number(facts.role(element) === fp.role) : null,
    name: given(fp.name) ? textSimilarity(fp.name, facts.name(element)) : null,
    text: given(fp.text) ? textSimilarity(fp.text, facts.text(element)) : null,
    attributes: attributeScore(fp.attributes ?? {}, element),
    heading: given(fp.heading) ? textSimilarity(fp.heading, headingOf(element, facts)) : null,
    landmark: given(fp.landmark) ? Number(canonicalLandmark(fp.landmark) === landmarkOf(element)) : null,
    frame: chainScore(framesOf(element), fp.frame),
    shadow_hosts: chainScore(shadowHostsOf(element), fp.shadow_hosts),
    position: fp.position ? positionScore(fp.position, element) : null,
  };
}

/**
 * How much an element looks like the recorded one.
 * `similarity`: the weighted mean of the part scores (1 without a fingerprint);
 * `identity`: how well what names it matches — the best of its name, its text and its
 * distinctive attributes (all but type, autocomplete, role) — or null when the
 * fingerprint has none of these.
 * @param {Fingerprint | null | undefined} fp
 * @param {Element} element
 * @param {Facts} facts
 * @returns {{similarity: number, identity: number | null}}
 */
export function compare(fp, element, facts) {
  if (!fp) return { similarity: 1, identity: null };
  const parts = partScores(fp, element, facts);
  let total = 0;
  let weight = 0;
  for (const [part, score] of Object.entries(parts)) {
    if (score === null) continue;
    total += WEIGHTS[/** @type {keyof typeof WEIGHTS} */ (part)] * score;
    weight += WEIGHTS[/** @type {keyof typeof WEIGHTS} */ (part)];
  }
  const distinctive = Object.fromEntries(Object.entries(fp.attributes ?? {}).filter(([name]) => !WEAK_ATTRIBUTES.has(name)));
  const identities = [parts.name, parts.text, attributeScore(distinctive, element)].filter((s) => s !== null);
  return {
    similarity: weight ? total / weight : 1,
    identity: identities.length ? Math.max(.../** @type {number[]} */ (identities)) : null,
  };
}
