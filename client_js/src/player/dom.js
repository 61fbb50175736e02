// @ts-check
/** Small DOM helpers the player shares. */

/**
 * The window an element lives in (an iframe's, for an element inside one), else `fallback`.
 * @param {Element | null} element
 * @param {import("./types.js").Win} fallback
 * @returns {import("./types.js").Win}
 */
export function windowOf(element, fallback) {
  return /** @type {import("./types.js").Win | null} */ (element?.ownerDocument?.defaultView ?? null) ?? fallback;
}

/**
 * Where an element's window sits in `top`'s viewport: the sum of the iframes' content
 * boxes it is inside (0, 0 for an element of `top` itself).
 * @param {Element} element
 * @param {Window} top
 */
export function frameOffset(element, top) {
  let x = 0;
  let y = 0;
  let win = element.ownerDocument?.defaultView ?? null;
  while (win && win !== top) {
    const frame = win.frameElement;
    if (!frame) break;
    const rect = frame.getBoundingClientRect();
    x += rect.left + frame.clientLeft;
    y += rect.top + frame.clientTop;
    win = frame.ownerDocument?.defaultView ?? null;
  }
  return { x, y };
}

/**
 * The documents of the same-origin frames in a root (cross-origin ones cannot be read).
 * @param {Element} element
 * @returns {Document | null}
 */
function frameDocument(element) {
  if (element.tagName !== "IFRAME" && element.tagName !== "FRAME") return null;
  try {
    return /** @type {HTMLIFrameElement} */ (element).contentDocument;
  } catch {
    return null;
  }
}

/**
 * The first element matching a selector in the document, any open shadow root or any
 * same-origin frame in it.
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
    const inner = element.shadowRoot ?? frameDocument(element);
    if (inner) {
      found = deepQuery(inner, selector);
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
  const own = windowOf(element, win);
  const inside = rect.top >= 0 && rect.left >= 0 && rect.bottom <= own.innerHeight && rect.right <= own.innerWidth;
  const root = /** @type {Document | ShadowRoot} */ (element.getRootNode());
  const hit = inside && "elementFromPoint" in root ? root.elementFromPoint(rect.left + rect.width / 2, rect.top + rect.height / 2) : null;
  const clear = hit !== null && (hit === element || element.contains(hit) || hit.contains(element));
  if (!clear) element.scrollIntoView({ block: "center", inline: "nearest" });
}

/** @param {number} ms */
export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
