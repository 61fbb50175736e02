// @ts-check
/** ARIA roles: explicit (the role attribute) or implied by the element (HTML-AAM, simplified). */
import { ancestors, tagOf } from "./dom.js";

/** Roles that mark a region of the page: an element's `landmark` is the nearest of these around it. */
export const LANDMARKS = new Set([
  "banner", "complementary", "contentinfo", "form", "main", "navigation", "region", "search", "dialog", "alertdialog",
]); // prettier-ignore

/** Other names authors use for landmarks, e.g. in hand-written fingerprints. */
const LANDMARK_ALIASES = /** @type {Record<string, string>} */ ({
  nav: "navigation", header: "banner", footer: "contentinfo", aside: "complementary", section: "region",
}); // prettier-ignore

/**
 * A landmark name in its canonical (role) form.
 * @param {string | null | undefined} name
 */
export function canonicalLandmark(name) {
  const key = (name ?? "").trim().toLowerCase();
  return LANDMARK_ALIASES[key] ?? key;
}

/** Roles without meaning of their own: text does not lift to them. */
export const GENERIC = new Set(["generic", "none", "presentation"]);

/** Tags whose role does not depend on their attributes. */
const FIXED = /** @type {Record<string, string>} */ ({
  button: "button", nav: "navigation", main: "main", aside: "complementary", dialog: "dialog",
  ul: "list", ol: "list", li: "listitem", table: "table", tr: "row", td: "cell", th: "columnheader",
  option: "option", details: "group", fieldset: "group", article: "article", hr: "separator",
  output: "status", progress: "progressbar", meter: "meter", p: "paragraph", textarea: "textbox",
  h1: "heading", h2: "heading", h3: "heading", h4: "heading", h5: "heading", h6: "heading",
  search: "search", menu: "list", optgroup: "group", tbody: "rowgroup", thead: "rowgroup", tfoot: "rowgroup",
  figure: "figure", dl: "list", div: "generic", span: "generic",
}); // prettier-ignore

const INPUT_TYPES = /** @type {Record<string, string>} */ ({
  button: "button", submit: "button", reset: "button", image: "button", checkbox: "checkbox",
  radio: "radio", range: "slider", number: "spinbutton", file: "button",
}); // prettier-ignore

/** @param {Element} input */
function inputRole(input) {
  const type = (input.getAttribute("type") ?? "text").toLowerCase();
  if (type === "hidden") return null;
  if (INPUT_TYPES[type]) return INPUT_TYPES[type];
  if (input.hasAttribute("list")) return "combobox";
  return type === "search" ? "searchbox" : "textbox";
}

/**
 * Whether the element has an author-given name (aria-label, aria-labelledby).
 * @param {Element} element
 */
function isNamed(element) {
  return !!(element.getAttribute("aria-label")?.trim() || element.getAttribute("aria-labelledby")?.trim());
}

/** @param {Element} element */
function isSectioned(element) {
  for (const up of ancestors(element)) {
    if (["article", "aside", "main", "nav", "section"].includes(tagOf(up))) return true;
  }
  return false;
}

/**
 * The implicit role of an element, or null.
 * @param {Element} element
 * @returns {string | null}
 */
export function implicitRole(element) {
  const tag = tagOf(element);
  if (FIXED[tag]) return FIXED[tag];
  switch (tag) {
    case "a":
    case "area":
      return element.hasAttribute("href") ? "link" : null;
    case "input":
      return inputRole(element);
    case "select":
      return element.hasAttribute("multiple") || Number(element.getAttribute("size")) > 1 ? "listbox" : "combobox";
    case "img":
      return element.getAttribute("alt") === "" ? "presentation" : "img";
    case "header":
      return isSectioned(element) ? null : "banner";
    case "footer":
      return isSectioned(element) ? null : "contentinfo";
    case "section":
      return isNamed(element) ? "region" : null;
    case "form":
      return isNamed(element) ? "form" : null;
    default:
      return null;
  }
}

/**
 * The element's role: the first token of its role attribute, else its implicit role.
 * @param {Element} element
 * @returns {string | null}
 */
export function roleOf(element) {
  const explicit = element.getAttribute("role")?.trim().split(/\s+/)[0]?.toLowerCase();
  return explicit || implicitRole(element);
}

/**
 * The landmark role of the nearest landmark around the element (crossing shadow roots and frames).
 * @param {Element} element
 * @returns {string | null}
 */
export function landmarkOf(element) {
  for (const up of ancestors(element, true)) {
    const role = roleOf(up);
    if (role && LANDMARKS.has(role)) return role;
  }
  return null;
}
