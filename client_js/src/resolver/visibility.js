// @ts-check
/**
 * Whether a person can see an element: not display:none, not visibility:hidden,
 * not of zero size, not inert, not in the body of a closed <details>, and the
 * iframes around it are visible too.
 */
import { composedParent, frameElementOf, isElement, styleOf, tagOf } from "./dom.js";

/**
 * Whether the element sits in the hidden part of a closed <details> (anything but its summary).
 * @param {Element} element
 * @param {Element} details
 */
function hiddenByDetails(element, details) {
  if (details.hasAttribute("open")) return false;
  const summary = Array.from(details.children).find((child) => tagOf(child) === "summary");
  return !summary || !(summary === element || summary.contains(element));
}

/**
 * Whether something around the element (within its document) hides it: inert, closed <details>.
 * @param {Element} element
 */
function hiddenByAncestors(element) {
  for (let up = /** @type {Element | null} */ (element); up; up = composedParent(up)) {
    if (up.hasAttribute("inert")) return true;
    if (up !== element && tagOf(up) === "details" && hiddenByDetails(element, up)) return true;
  }
  return false;
}

/**
 * Whether the element itself is rendered with a size and shown, in its own document.
 * @param {Element} element
 */
function rendered(element) {
  if (!element.isConnected) return false;
  const style = styleOf(element);
  if (!style || style.visibility === "hidden" || style.visibility === "collapse") return false;
  if (style.display === "contents") return true;
  const box = element.getBoundingClientRect();
  return box.width > 0 && box.height > 0;
}

/**
 * Whether a person can see the element.
 * @param {Element} element
 * @returns {boolean}
 */
export function isVisible(element) {
  /** @type {Element | null} */
  let current = element;
  while (isElement(current)) {
    if (!rendered(current) || hiddenByAncestors(current)) return false;
    current = frameElementOf(current.ownerDocument);
  }
  return true;
}
