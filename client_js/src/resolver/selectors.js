// @ts-check
/** Short CSS selectors for the iframes and shadow hosts in a fingerprint. */
import { tagOf } from "./dom.js";

/**
 * `[name="value"]`, quoted for CSS.
 * @param {string} name
 * @param {string} value
 */
function attributeSelector(name, value) {
  return `[${CSS.escape(name)}="${value.replace(/["\\]/g, "\\$&")}"]`;
}

/**
 * Whether a selector picks exactly this element in its tree.
 * @param {Element} element
 * @param {string} selector
 */
function picksOnly(element, selector) {
  const root = /** @type {Document | ShadowRoot} */ (element.getRootNode());
  try {
    const found = root.querySelectorAll(selector);
    return found.length === 1 && found[0] === element;
  } catch {
    return false;
  }
}

/**
 * Its path from the root of its tree: `tag:nth-of-type(n)` steps joined by `>`.
 * @param {Element} element
 */
function structuralPath(element) {
  const steps = [];
  for (let current = /** @type {Element | null} */ (element); current; current = current.parentElement) {
    const tag = tagOf(current);
    const parent = current.parentElement;
    const same = parent ? Array.from(parent.children).filter((c) => tagOf(c) === tag) : [current];
    steps.unshift(same.length > 1 ? `${tag}:nth-of-type(${same.indexOf(current) + 1})` : tag);
  }
  return steps.join(" > ");
}

/**
 * A selector that picks this element in its own tree (document or shadow root):
 * its test id, id, name or title when one is unique there, else its tag, else its path.
 * @param {Element} element
 * @param {string} testIdAttribute
 */
export function selectorFor(element, testIdAttribute) {
  const tag = tagOf(element);
  /** @type {string[]} */
  const options = [];
  for (const attribute of [testIdAttribute, "id", "name", "title"]) {
    const value = element.getAttribute(attribute);
    if (value) options.push(attribute === "id" ? `#${CSS.escape(value)}` : `${tag}${attributeSelector(attribute, value)}`);
  }
  options.push(tag);
  return options.find((selector) => picksOnly(element, selector)) ?? structuralPath(element);
}
