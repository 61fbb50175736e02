// @ts-check
/**
 * DOM helpers that work across realms: elements of a same-origin iframe belong
 * to another window, so `instanceof HTMLElement` is false for them; these use
 * node types and tag names instead.
 */

/**
 * @param {unknown} node
 * @returns {node is Element}
 */
export function isElement(node) {
  return !!node && /** @type {Node} */ (node).nodeType === 1;
}

/**
 * @param {unknown} node
 * @returns {node is ShadowRoot}
 */
export function isShadowRoot(node) {
  return !!node && /** @type {Node} */ (node).nodeType === 11 && "host" in /** @type {object} */ (node);
}

/** @param {Element} element */
export function tagOf(element) {
  return element.localName.toLowerCase();
}

/**
 * The shadow host an element's tree hangs from, if it is in a shadow root.
 * @param {Element} element
 * @returns {Element | null}
 */
export function hostOf(element) {
  const root = element.getRootNode();
  return isShadowRoot(root) ? root.host : null;
}

/**
 * The parent in the flattened tree: the parent element, or the shadow host.
 * @param {Element} element
 * @returns {Element | null}
 */
export function composedParent(element) {
  return element.parentElement ?? hostOf(element);
}

/**
 * The <iframe> element a document is shown in, when the resolver may reach it.
 * @param {Document} doc
 * @returns {Element | null}
 */
export function frameElementOf(doc) {
  try {
    return doc.defaultView?.frameElement ?? null;
  } catch {
    return null;
  }
}

/**
 * The document of a same-origin iframe, or null (cross-origin, not loaded).
 * @param {Element} frame
 * @returns {Document | null}
 */
export function frameDocument(frame) {
  try {
    return /** @type {HTMLIFrameElement} */ (frame).contentDocument ?? null;
  } catch {
    return null;
  }
}

/** @param {Element} element */
export function isFrame(element) {
  const tag = tagOf(element);
  return tag === "iframe" || tag === "frame";
}

/**
 * Ancestors outward, crossing shadow roots and, with `frames`, iframes.
 * @param {Element} element
 * @param {boolean} [frames]
 * @returns {Generator<Element>}
 */
export function* ancestors(element, frames = false) {
  /** @type {Element | null} */
  let current = element;
  while (current) {
    const parent = composedParent(current);
    current = parent ?? (frames ? frameElementOf(current.ownerDocument) : null);
    if (current) yield current;
  }
}

/**
 * The shadow hosts an element is inside, outermost first (within its document).
 * @param {Element} element
 */
export function shadowHostsOf(element) {
  const hosts = [];
  for (let host = hostOf(element); host; host = hostOf(host)) hosts.unshift(host);
  return hosts;
}

/**
 * The iframe elements an element is inside, outermost first.
 * @param {Element} element
 */
export function framesOf(element) {
  const frames = [];
  for (let frame = frameElementOf(element.ownerDocument); frame; frame = frameElementOf(frame.ownerDocument)) {
    frames.unshift(frame);
  }
  return frames;
}

/**
 * The computed style of an element, from its own window.
 * @param {Element} element
 * @returns {CSSStyleDeclaration | null}
 */
export function styleOf(element) {
  const view = element.ownerDocument.defaultView;
  return view ? view.getComputedStyle(element) : null;
}

/**
 * `element.matches(selector)`, false for an invalid selector.
 * @param {Element} element
 * @param {string} selector
 */
export function safeMatches(element, selector) {
  try {
    return element.matches(selector);
  } catch {
    return false;
  }
}
