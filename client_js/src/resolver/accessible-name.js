// @ts-check
/**
 * Accessible names and visible text, after the W3C accname algorithm, simplified:
 * aria-labelledby, aria-label, the element's <label>s (for= or wrapping), alt,
 * the value of input buttons, content for buttons, links and the like, title,
 * and placeholder as a last resort.
 */
import { isElement, tagOf } from "./dom.js";
import { roleOf } from "./roles.js";
import { squash } from "./text.js";

/** Elements whose content is never text. */
const SKIPPED = new Set(["script", "style", "noscript", "template", "head", "title"]);

/** Form controls whose content is a value, not text: inside a label they are not part of its text. */
const CONTROLS = new Set(["select", "textarea"]);

/** Tags after which text continues on a new line: their content is separated by a space. */
const BLOCKS = new Set([
  "br", "div", "p", "li", "ul", "ol", "tr", "td", "th", "section", "article", "header", "footer",
  "h1", "h2", "h3", "h4", "h5", "h6", "dt", "dd", "table", "form", "fieldset", "legend", "label",
]); // prettier-ignore

/** Roles whose name comes from their content. */
const NAMED_BY_CONTENT = new Set([
  "button", "link", "heading", "checkbox", "radio", "switch", "tab", "menuitem", "menuitemcheckbox",
  "menuitemradio", "option", "treeitem", "cell", "gridcell", "columnheader", "rowheader", "tooltip",
]); // prettier-ignore

const BUTTON_INPUTS = /** @type {Record<string, string>} */ ({ submit: "Submit", reset: "Reset", button: "" });

/**
 * The text an element shows, for text candidates and names.
 * `forName`: in its parts, alt texts of images and aria-labels count instead of their content.
 * Parts that are hidden (the hidden attribute; aria-hidden for names) and form controls' values do not count.
 * @param {Node} node
 * @param {boolean} [forName]
 * @returns {string}
 */
export function contentText(node, forName = false) {
  if (node.nodeType === 3) return /** @type {Text} */ (node).data;
  if (!isElement(node)) return "";
  const tag = tagOf(node);
  if (SKIPPED.has(tag) || CONTROLS.has(tag)) return "";
  if (tag === "input") return inputText(node);
  let text = "";
  for (const child of node.childNodes) text += partText(child, forName);
  return BLOCKS.has(tag) ? ` ${text} ` : text;
}

/**
 * @param {Node} node a part of an element whose text is wanted
 * @param {boolean} forName
 */
function partText(node, forName) {
  if (isElement(node)) {
    if (node.hasAttribute("hidden")) return "";
    if (forName && node.getAttribute("aria-hidden") === "true") return "";
    const label = forName ? node.getAttribute("aria-label")?.trim() : "";
    if (label) return label;
    if (forName && ["img", "area"].includes(tagOf(node))) return node.getAttribute("alt") ?? "";
  }
  return contentText(node, forName);
}

/**
 * The text an <input> shows as a button (its value); other inputs show none.
 * @param {Element} input
 */
function inputText(input) {
  const type = (input.getAttribute("type") ?? "text").toLowerCase();
  if (!(type in BUTTON_INPUTS)) return "";
  return /** @type {HTMLInputElement} */ (input).value || BUTTON_INPUTS[type];
}

/**
 * The visible text of an element, whitespace collapsed.
 * @param {Element} element
 */
export function textOf(element) {
  return squash(contentText(element));
}

/**
 * Texts of the elements an id-list attribute (aria-labelledby) points to.
 * @param {Element} element
 * @param {string} attribute
 */
function referencedText(element, attribute) {
  const ids = element.getAttribute(attribute)?.trim().split(/\s+/) ?? [];
  const root = /** @type {Document | ShadowRoot} */ (element.getRootNode());
  if (typeof root.getElementById !== "function") return "";
  return squash(ids.map((id) => {
    const target = root.getElementById(id);
    return target ? target.getAttribute("aria-label")?.trim() || contentText(target, true) : "";
  }).join(" ")); // prettier-ignore
}

/**
 * The texts of an element's <label> elements (for= or wrapping), controls left out.
 * @param {Element} element
 */
export function nativeLabels(element) {
  const labels = /** @type {HTMLInputElement} */ (element).labels;
  if (!labels) return [];
  return Array.from(labels, (label) => squash(contentText(label, true))).filter(Boolean);
}

/**
 * Every label an element has: aria-labelledby, aria-label, its <label>s.
 * @param {Element} element
 */
export function labelsOf(element) {
  const texts = [referencedText(element, "aria-labelledby"), squash(element.getAttribute("aria-label")), ...nativeLabels(element)];
  return texts.filter(Boolean);
}

/**
 * The accessible name of an element (simplified accname).
 * @param {Element} element
 * @param {string | null} [role] its role, when already known
 * @returns {string}
 */
export function nameOf(element, role = roleOf(element)) {
  const labelled = referencedText(element, "aria-labelledby") || squash(element.getAttribute("aria-label"));
  if (labelled) return labelled;
  const tag = tagOf(element);
  const native = nativeLabels(element).join(" ");
  if (native) return native;
  if (tag === "input" && role === "button") return squash(inputText(element)) || squash(element.getAttribute("alt"));
  if (tag === "img" || tag === "area") {
    const alt = squash(element.getAttribute("alt"));
    if (alt) return alt;
  }
  if (["fieldset", "figure", "table"].includes(tag)) {
    const caption = element.querySelector(":scope > legend, :scope > figcaption, :scope > caption");
    if (caption) return squash(contentText(caption, true));
  }
  if (role && NAMED_BY_CONTENT.has(role)) {
    const content = squash(contentText(element, true));
    if (content) return content;
  }
  return squash(element.getAttribute("title")) || squash(element.getAttribute("placeholder"));
}
