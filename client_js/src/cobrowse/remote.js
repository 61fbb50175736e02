// @ts-check
/**
 * An agent's action, performed on the visitor's page: the node is found through the
 * recorder's own mirror (the ids the agent saw), never by a selector the agent sends.
 * A click is the whole sequence a person makes (pointer and mouse down/up at the point,
 * focus, click), so frameworks that listen to any of them react; typing goes through the
 * player's native value setter (React and Preact see it as typed). Private fields are
 * never touched.
 */
import { isPrivateField } from "../player/private-field.js";
import { revealElement, windowOf } from "../player/dom.js";
import { setValue } from "../player/drive.js";
import { createHost, mountHost, unmountHost } from "../player/host.js";

/**
 * @typedef {{id: number, action: "click" | "fill" | "highlight", node: number, page: number,
 *   x: number, y: number, value: string, name: string}} RemoteAction
 */

/** The input types an agent may type into (never hidden, file, checkbox… and never password). */
const TEXT_TYPES = new Set(["text", "email", "search", "tel", "url", "number"]);

/**
 * Why the action cannot be done, or null.
 * @param {RemoteAction} action
 * @param {Node | null} node
 * @param {{page: number, control: boolean}} now
 */
export function refusal(action, node, now) {
  if (action.page !== now.page) return "stale";
  if (action.action !== "highlight" && !now.control) return "no_control";
  if (!node || !node.isConnected) return "unknown_node";
  const element = node.nodeType === 1 ? /** @type {Element} */ (node) : node.parentElement;
  if (!element) return "unknown_node";
  if (isPrivateField(element) || element.closest("[data-tandem-private]")) return "private";
  if (action.action === "fill") {
    const own = windowOf(element, window);
    const text = element instanceof own.HTMLTextAreaElement || (element instanceof own.HTMLInputElement && TEXT_TYPES.has(element.type));
    if (!text) return "not_a_field";
    if (element.disabled || element.readOnly) return "read_only";
  }
  return null;
}

/**
 * Do it (check `refusal` first).
 * @param {RemoteAction} action
 * @param {Element} element
 * @param {Window} win
 */
export function perform(action, element, win) {
  const own = /** @type {Window & typeof globalThis} */ (windowOf(element, /** @type {any} */ (win)));
  if (action.action === "highlight") return highlight(element, win, action.name);
  revealElement(element, /** @type {any} */ (own));
  if (action.action === "fill") return setValue(/** @type {HTMLElement} */ (element), action.value, /** @type {any} */ (own));
  const box = element.getBoundingClientRect();
  const clientX = box.left + box.width * clamp(action.x);
  const clientY = box.top + box.height * clamp(action.y);
  const at = { bubbles: true, cancelable: true, composed: true, clientX, clientY, button: 0, view: own };
  element.dispatchEvent(new own.PointerEvent("pointerdown", { ...at, pointerType: "mouse", isPrimary: true }));
  element.dispatchEvent(new own.MouseEvent("mousedown", { ...at, buttons: 1 }));
  if (element instanceof own.HTMLElement) element.focus({ preventScroll: true });
  element.dispatchEvent(new own.PointerEvent("pointerup", { ...at, pointerType: "mouse", isPrimary: true }));
  element.dispatchEvent(new own.MouseEvent("mouseup", at));
  element.dispatchEvent(new own.MouseEvent("click", { ...at, detail: 1 }));
}

/** @param {number} value */
function clamp(value) {
  return Number.isFinite(value) ? Math.min(Math.max(value, 0), 1) : 0.5;
}

const HIGHLIGHT_MS = 4000;

/**
 * A ring around the element for a few seconds, labelled with who points at it.
 * @param {Element} element
 * @param {Window} win
 * @param {string} name
 */
function highlight(element, win, name) {
  revealElement(element, /** @type {any} */ (win));
  const doc = win.document;
  const host = createHost(doc, /** @type {any} */ (win));
  const ring = doc.createElement("div");
  const box = element.getBoundingClientRect();
  Object.assign(ring.style, {
    position: "fixed", left: `${box.left - 6}px`, top: `${box.top - 6}px`, width: `${box.width + 12}px`,
    height: `${box.height + 12}px`, border: "3px solid #d9480f", borderRadius: "8px", boxSizing: "border-box",
    pointerEvents: "none", zIndex: "2147483647",
  }); // prettier-ignore
  const tag = doc.createElement("span");
  tag.setAttribute("role", "status");
  tag.textContent = name ? `${name} points here` : "Look here";
  Object.assign(tag.style, {
    position: "absolute", top: "-24px", left: "0", background: "#d9480f", color: "#fff", padding: "2px 6px",
    borderRadius: "4px", font: "12px system-ui, sans-serif", whiteSpace: "nowrap",
  }); // prettier-ignore
  ring.dataset.tandemPoint = "";
  ring.append(tag);
  host.shadow.append(ring);
  mountHost(host.host, doc.body);
  win.setTimeout(() => unmountHost(host.host), HIGHLIGHT_MS);
}
