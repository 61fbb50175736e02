// @ts-check
/**
 * "Do it for me": the allowlisted actions, never arbitrary script. Values go through the
 * native setters plus input/change events, so framework-controlled inputs (React, Preact)
 * see the change as if typed.
 */
import { revealElement, sleep, windowOf } from "./dom.js";

export const KEYS = new Set([
  "Enter", "Tab", "Escape", " ", "Space", "Backspace", "Delete", "ArrowUp", "ArrowDown",
  "ArrowLeft", "ArrowRight", "Home", "End", "PageUp", "PageDown",
]); // prettier-ignore
const MAX_WAIT_MS = 60_000;

/**
 * A one-line description of what the action will do, for the visitor to see first.
 * @param {import("./types.js").Action} action
 */
export function describeAction(action) {
  switch (action.kind) {
    case "click": return "Clicking it for you…";
    case "fill": return `Typing “${action.value ?? ""}”…`;
    case "select": return `Choosing “${action.value ?? ""}”…`;
    case "check": return action.checked === false ? "Unticking it…" : "Ticking it…";
    case "press": return `Pressing ${action.key ?? "a key"}…`;
    case "hover": return "Pointing at it…";
    case "scroll": return "Scrolling to it…";
    case "navigate": return `Going to ${action.url ?? "the page"}…`;
    case "wait": return "Waiting a moment…";
  }
} // prettier-ignore

/**
 * Whether an action can run at all: its kind, key, URL and target are acceptable.
 * @param {import("./types.js").Action} action
 * @param {Element | null} element
 * @param {import("./types.js").Win} win
 */
export function actionAllowed(action, element, win) {
  const own = windowOf(element, win); // an element in an iframe is of that frame's realm
  const needsTarget = ["click", "fill", "select", "check", "hover"].includes(action.kind);
  if (needsTarget && !element) return false;
  if (action.kind === "press") return KEYS.has(action.key ?? "");
  if (action.kind === "navigate") return sameOriginPath(action.url ?? "", win) !== null;
  if (action.kind === "fill") return isTextField(element, own) && typeof action.value === "string";
  if (action.kind === "select") return element instanceof own.HTMLSelectElement && typeof action.value === "string";
  return ["click", "check", "hover", "scroll", "wait"].includes(action.kind);
}

/**
 * @param {Element | null} element
 * @param {import("./types.js").Win} win
 * @returns {element is HTMLInputElement | HTMLTextAreaElement}
 */
function isTextField(element, win) {
  return element instanceof win.HTMLInputElement || element instanceof win.HTMLTextAreaElement;
}

/**
 * @param {string} url
 * @param {import("./types.js").Win} win
 */
function sameOriginPath(url, win) {
  if (!url.startsWith("/") || url.startsWith("//")) return null;
  const resolved = new URL(url, win.location.href);
  return resolved.origin === win.location.origin ? resolved : null;
}

/**
 * Perform an allowed action (check `actionAllowed` first).
 * @param {import("./types.js").Action} action
 * @param {Element | null} element
 * @param {import("./types.js").Win} win
 */
export async function perform(action, element, win) {
  if (element && action.kind !== "wait") revealElement(element, win);
  const el = /** @type {HTMLElement} */ (element);
  const own = windowOf(element, win);
  switch (action.kind) {
    case "click": el.click(); break;
    case "fill": setValue(el, action.value ?? "", own); break;
    case "select": setValue(el, action.value ?? "", own); break;
    case "check": if (/** @type {HTMLInputElement} */ (el).checked !== (action.checked ?? true)) el.click(); break;
    case "press": pressKey(element || win.document.activeElement || win.document.body, action.key ?? "", own); break;
    case "hover": pointAt(el, own); break;
    case "scroll": if (!element) win.scrollTo({ top: 0 }); break;
    case "navigate": win.location.assign(/** @type {URL} */ (sameOriginPath(action.url ?? "", win)).href); break;
    case "wait": await sleep(Math.min(Math.max(action.ms ?? 0, 0), MAX_WAIT_MS)); break;
  }
} // prettier-ignore

/**
 * Set a value through the prototype's native setter (frameworks patch the instance's)
 * and announce it with input and change events.
 * @param {HTMLElement} element
 * @param {string} value
 * @param {import("./types.js").Win} win
 */
export function setValue(element, value, win) {
  const proto =
    element instanceof win.HTMLSelectElement ? win.HTMLSelectElement.prototype
    : element instanceof win.HTMLTextAreaElement ? win.HTMLTextAreaElement.prototype
    : win.HTMLInputElement.prototype; // prettier-ignore
  const setter = Object.getOwnPropertyDescriptor(proto, "value")?.set;
  element.focus();
  if (setter) setter.call(element, value);
  element.dispatchEvent(new win.Event("input", { bubbles: true, composed: true }));
  element.dispatchEvent(new win.Event("change", { bubbles: true }));
}

/**
 * Point at an element as a mouse would (what opens a menu that a script listens for;
 * a menu drawn by CSS :hover alone cannot be opened by a page script).
 * @param {Element} element
 * @param {import("./types.js").Win} win
 */
function pointAt(element, win) {
  const box = element.getBoundingClientRect();
  const at = { clientX: box.left + box.width / 2, clientY: box.top + box.height / 2, composed: true };
  element.dispatchEvent(new win.PointerEvent("pointerover", { ...at, bubbles: true }));
  element.dispatchEvent(new win.PointerEvent("pointerenter", { ...at, bubbles: false }));
  element.dispatchEvent(new win.MouseEvent("mouseover", { ...at, bubbles: true }));
  element.dispatchEvent(new win.MouseEvent("mouseenter", { ...at, bubbles: false }));
  element.dispatchEvent(new win.PointerEvent("pointermove", { ...at, bubbles: true }));
  element.dispatchEvent(new win.MouseEvent("mousemove", { ...at, bubbles: true }));
}

/**
 * @param {Element} element
 * @param {string} key
 * @param {import("./types.js").Win} win
 */
function pressKey(element, key, win) {
  const name = key === "Space" ? " " : key;
  for (const type of ["keydown", "keyup"]) {
    element.dispatchEvent(new win.KeyboardEvent(type, { key: name, bubbles: true, composed: true, cancelable: true }));
  }
}
