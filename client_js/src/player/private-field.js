// @ts-check
/**
 * Private fields are never driven (../shared/ARCHITECTURE.md): passwords, `autocomplete`
 * one-time-code / cc-* / *-password, and anything inside `[data-tandem-private]`.
 */

/**
 * Whether a field's attributes make it private.
 * @param {{tag?: string, type?: string | null, autocomplete?: string | null, marked?: boolean}} field
 */
export function isPrivateAttributes({ tag = "", type, autocomplete, marked = false }) {
  if (marked) return true;
  if (tag.toLowerCase() === "input" && (type || "").toLowerCase() === "password") return true;
  const tokens = (autocomplete || "").toLowerCase().split(/\s+/).filter(Boolean);
  return tokens.some((t) => t === "one-time-code" || t.startsWith("cc-") || t.endsWith("-password"));
}

/**
 * Whether an element or one of its ancestors (across shadow roots) is marked private.
 * @param {Element} element
 */
function markedPrivate(element) {
  /** @type {Node | null} */
  let node = element;
  while (node) {
    if (node.nodeType === 1 && /** @type {Element} */ (node).hasAttribute("data-tandem-private")) return true;
    const parent = /** @type {Node | null} */ (node.parentNode);
    node = parent && parent.nodeType === 11 ? /** @type {ShadowRoot} */ (parent).host || null : parent;
  }
  return false;
}

/**
 * Whether an element is a private field.
 * @param {Element} element
 */
export function isPrivateField(element) {
  return isPrivateAttributes({
    tag: element.tagName,
    type: element.getAttribute("type"),
    autocomplete: element.getAttribute("autocomplete"),
    marked: markedPrivate(element),
  });
}
