// @ts-check
/** Small DOM helpers the player shares. */

/**
 * The first element matching a selector in the document or any open shadow root in it.
 * @param {Document | ShadowRoot | Element} root
 * @param {string} selector
 * @returns {Element | null}
 */
export function deepQuery(root, selector) {
  let found = null;
  try {
    found = root.querySelector(selector);
  } catch {
    return null; // an invalid selector matches nothing
  }
  if (found) return found;
  for (const element of root.querySelectorAll("*")) {
    if (element.shadowRoot) {
      found = deepQuery(element.shadowRoot, selector);
      if (found) return found;
    }
  }
  return null;
}

/**
 * Whether an element is rendered (not hidden, not display: none).
 * @param {Element | null} element
 */
export function isShown(element) {
  if (!element || !element.isConnected) return false;
  const el = /** @type {Element & {checkVisibility?: () => boolean}} */ (element);
  if (typeof el.checkVisibility === "function") return el.checkVisibility();
  return element.getClientRects().length > 0;
}

/**
 * The open modal <dialog> an element is inside (across shadow roots), if any.
 * @param {Element} element
 * @returns {HTMLDialogElement | null}
 */
export function modalDialogOf(element) {
  /** @type {Element | null} */
  let node = element;
  while (node) {
    /** @type {HTMLDialogElement | null} */
    const dialog = node.closest("dialog");
    if (dialog && dialog.open && dialog.matches(":modal")) return dialog;
    /** @type {Node} */
    const root = (dialog || node).getRootNode();
    node = root && "host" in root ? /** @type {ShadowRoot} */ (root).host : null;
  }
  return null;
}

/**
 * Bring an element into view when it is not fully visible or something (a sticky
 * header) covers its centre; `block: "center"` keeps it clear of sticky headers.
 * @param {Element} element
 * @param {import("./types.js").Win} win
 */
export function revealElement(element, win) {
  const rect = element.getBoundingClientRect();
  const inside = rect.top >= 0 && rect.left >= 0 && rect.bottom <= win.innerHeight && rect.right <= win.innerWidth;
  const root = /** @type {Document | ShadowRoot} */ (element.getRootNode());
  const hit = inside && "elementFromPoint" in root ? root.elementFromPoint(rect.left + rect.width / 2, rect.top + rect.height / 2) : null;
  const clear = hit !== null && (hit === element || element.contains(hit) || hit.contains(element));
  if (!clear) element.scrollIntoView({ block: "center", inline: "nearest" });
}

/** @param {number} ms */
export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
