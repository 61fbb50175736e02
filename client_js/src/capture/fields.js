// @ts-check
/**
 * What kind of element the author acted on, read without side effects: fields and their
 * kinds, card-number-looking values, the interactive element a click meant, labels, private
 * regions, the submit button Enter would press. Used by the capture (`capture.js`).
 */
import { hostOf, isElement, tagOf } from "../resolver/dom.js";

/** Keys that become steps. */
export const KEYS = new Set(["Enter", "Tab", "Escape"]);

/** Inputs that hold typed text. */
export const TEXT_TYPES = new Set(["", "text", "email", "password", "search", "tel", "url", "number", "date", "datetime-local", "month", "time", "week"]);

/** Roles that make an element the thing clicked (clicks on their insides are retargeted to them). */
export const CLICKABLE_ROLES = new Set(["button", "link", "menuitem", "menuitemcheckbox", "menuitemradio", "tab", "option", "switch", "treeitem", "checkbox", "radio"]);

/** What a captcha looks like: the widgets' own containers and frames. */
export const CAPTCHA = ".g-recaptcha, .h-captcha, .cf-turnstile, [data-sitekey], iframe[src*='recaptcha'], iframe[src*='hcaptcha'], iframe[src*='turnstile'], iframe[title*='captcha' i]";

/** How long after a hover new content still counts as opened by it. */
export const HOVER_MS = 1500;

/**
 * Luhn's check: does a run of 13–19 digits look like a card number?
 * @param {string} value
 */
export function looksLikeCardNumber(value) {
  const digits = value.replace(/[\s-]/g, "");
  if (!/^\d{13,19}$/.test(digits)) return false;
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

/**
 * @param {Element} element
 * @returns {element is HTMLInputElement}
 */
export function isInput(element) {
  return tagOf(element) === "input";
}

/**
 * A field whose typing becomes a fill step.
 * @param {Element} element
 */
export function isTextField(element) {
  if (tagOf(element) === "textarea") return true;
  if (isInput(element)) return TEXT_TYPES.has((element.getAttribute("type") ?? "").toLowerCase());
  return /** @type {HTMLElement} */ (element).isContentEditable === true;
}

/**
 * A form control whose clicks are not steps (its change is).
 * @param {Element} element
 */
export function isField(element) {
  if (/** @type {HTMLElement} */ (element).isContentEditable === true) return true;
  const tag = tagOf(element);
  if (tag === "select" || tag === "textarea" || tag === "option") return true;
  if (!isInput(element)) return false;
  const type = (element.getAttribute("type") ?? "").toLowerCase();
  return !["submit", "button", "reset", "image"].includes(type);
}

/**
 * @param {Element} element
 */
export function isClickable(element) {
  const tag = tagOf(element);
  if (tag === "button" || tag === "summary" || tag === "select" || tag === "textarea" || tag === "label") return true;
  if (tag === "a" && element.hasAttribute("href")) return true;
  if (tag === "input") return true;
  const role = element.getAttribute("role");
  return !!role && CLICKABLE_ROLES.has(role.trim().toLowerCase());
}

/**
 * The element an event really happened on: the first element of its composed path.
 * @param {Event} event
 * @returns {Element | null}
 */
export function realTarget(event) {
  const first = event.composedPath()[0];
  return isElement(first) ? first : isElement(event.target) ? event.target : null;
}

/**
 * The interactive element a click on `element` was meant for: itself or its nearest
 * clickable ancestor (a span inside a button is the button), crossing shadow roots.
 * @param {Element} element
 */
export function clickTarget(element) {
  for (let current = /** @type {Element | null} */ (element); current; current = current.parentElement ?? hostOf(current)) {
    if (isClickable(current)) return current;
    if (tagOf(current) === "body") break;
  }
  return element;
}

/**
 * What an element is called, for the step's text: its accessible name, placeholder or name
 * attribute — never what a concealed element shows.
 * @param {Element} element
 * @param {import("../resolver/types.js").Descriptor} descriptor
 * @param {boolean} conceal
 */
export function labelOf(element, descriptor, conceal) {
  const fp = descriptor.fingerprint;
  const labelled = descriptor.candidates.find((c) => c.kind === "label")?.value;
  const name = conceal
    ? labelled || element.getAttribute("aria-label") || element.getAttribute("placeholder") || element.getAttribute("name") || ""
    : fp?.name || element.getAttribute("placeholder") || element.getAttribute("name") || fp?.text || "";
  return name.replace(/\s+/g, " ").trim().slice(0, 80) || tagOf(element);
}

/** Fields a "Private field…" pick means, from a click on the field, its label or a wrapper. */
export const FIELDS = "input, select, textarea, [contenteditable]:not([contenteditable=false])";

/**
 * Whether an element is inside a region the site marked private (across shadow roots).
 * @param {Element} element
 */
export function inPrivateRegion(element) {
  for (let current = /** @type {Element | null} */ (element); current; current = current.parentElement ?? hostOf(current)) {
    if (current.hasAttribute("data-tandem-private")) return true;
  }
  return false;
}

/**
 * The submit button Enter in this field would click (implicit submission), if any.
 * @param {Element} element
 * @returns {Element | null}
 */
export function submitterOf(element) {
  if (!isInput(element) || !TEXT_TYPES.has((element.getAttribute("type") ?? "").toLowerCase())) return null;
  const form = /** @type {HTMLInputElement} */ (element).form;
  return form ? form.querySelector("button:not([type]), button[type=submit], input[type=submit], input[type=image]") : null;
}
