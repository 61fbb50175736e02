// @ts-check
/**
 * What one resolving pass searches: the root, every open shadow root in it
 * (recursively, but not those of Tandem's own `<tandem-…>` elements) and every same-origin iframe's document; closed shadow roots
 * and cross-origin frames are out of reach and skipped silently. A `Search`
 * also remembers, per element, what the pass computed about it (role, name, text).
 */
import { labelsOf, nameOf, textOf } from "./accessible-name.js";
import { frameDocument, isElement, isFrame, safeMatches } from "./dom.js";
import { roleOf } from "./roles.js";

/** @typedef {Document | ShadowRoot | Element} Root */

/**
 * The first element matching a selector in a root or its open shadow roots.
 * @param {Root} root
 * @param {string} selector
 * @returns {Element | null}
 */
function deepQuery(root, selector) {
  for (const element of root.querySelectorAll("*")) {
    if (safeMatches(element, selector)) return element;
    const inner = element.shadowRoot ? deepQuery(element.shadowRoot, selector) : null;
    if (inner) return inner;
  }
  return null;
}

/**
 * The document inside the iframes a fingerprint names, outermost first; null when one is missing or cross-origin.
 * @param {Root} root
 * @param {string[]} selectors
 * @returns {Document | null}
 */
export function followFrames(root, selectors) {
  /** @type {Root | null} */
  let current = root;
  for (const selector of selectors) {
    /** @type {Element | null} */
    const frame = current ? deepQuery(current, selector) : null;
    current = frame && isFrame(frame) ? frameDocument(frame) : null;
  }
  return current && current !== root ? /** @type {Document} */ (current) : null;
}

/**
 * @template T
 * @param {Map<Element, T>} cache
 * @param {Element} element
 * @param {(element: Element) => T} compute
 */
function remember(cache, element, compute) {
  if (!cache.has(element)) cache.set(element, compute(element));
  return /** @type {T} */ (cache.get(element));
}

/** What a pass learns about elements (role, name, text, labels), each computed once. */
export class Facts {
  constructor() {
    /** @type {Record<"role" | "name" | "text" | "labels", Map<Element, any>>} */
    this.cache = { role: new Map(), name: new Map(), text: new Map(), labels: new Map() };
  }

  /** @param {Element} element @returns {string | null} */
  role(element) {
    return remember(this.cache.role, element, roleOf);
  }

  /** @param {Element} element @returns {string} */
  name(element) {
    return remember(this.cache.name, element, (e) => nameOf(e, this.role(e)));
  }

  /** @param {Element} element @returns {string} */
  text(element) {
    return remember(this.cache.text, element, textOf);
  }

  /** @param {Element} element @returns {string[]} */
  labels(element) {
    return remember(this.cache.labels, element, labelsOf);
  }
}

/** The elements one pass searches, and what it learns about them. */
export class Search extends Facts {
  /**
   * @param {Root} root where to search
   * @param {string} testIdAttribute
   */
  constructor(root, testIdAttribute) {
    super();
    this.testIdAttribute = testIdAttribute;
    /** @type {Root[]} every root queried: the root, shadow roots, frame documents */
    this.roots = [];
    /** @type {Element[]} every element, in (flattened) document order */
    this.elements = [];
    this.collect(root);
    /** Roots that are not shadow roots: where shadow chains and XPath start. */
    this.bases = this.roots.filter((r) => r.nodeType !== 11);
    this.known = new Set(this.elements);
  }

  /** @param {Root} root */
  collect(root) {
    this.roots.push(root);
    if (isElement(root)) this.elements.push(root);
    for (const element of root.querySelectorAll("*")) {
      this.elements.push(element);
      // Tandem's own UI (<tandem-player>, <tandem-widget>…) is never a target: its buttons
      // ("Next", "Back") would make the page's own ones ambiguous.
      if (element.shadowRoot && !element.localName.startsWith("tandem-")) this.collect(element.shadowRoot);
      const doc = isFrame(element) ? frameDocument(element) : null;
      if (doc?.documentElement) this.collect(doc);
    }
  }

  /**
   * Every element a CSS selector matches, in every root; an invalid selector matches nothing.
   * @param {string} selector
   * @param {Root[]} [roots]
   */
  queryAll(selector, roots = this.roots) {
    /** @type {Element[]} */
    const found = [];
    for (const root of roots) {
      try {
        found.push(...root.querySelectorAll(selector));
        if (isElement(root) && root.matches(selector)) found.push(root);
      } catch {
        return [];
      }
    }
    return found;
  }
}
