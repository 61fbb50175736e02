// @ts-check
/**
 * What rrweb's own masking leaves, removed in the page before anything is sent
 * (../shared/ARCHITECTURE.md, masking levels): placeholders, titles and aria-* text of
 * form fields and of anything inside `[data-tandem-mask]`, the values of hidden inputs
 * (rrweb's input masking skips them), anything left on a private (blocked) element, and
 * sensitive query values in URLs. Pure: it works on rrweb's serialized events; the page's
 * elements are only asked whether they sit inside a masked area.
 */
import { sanitizeUrl } from "../sanitize.js";

/** What a masked field's value becomes: fixed, so not even its length is told. */
export const MASK = "********";

const FIELDS = new Set(["input", "textarea", "select", "option"]);
const TEXT_ATTRIBUTES = ["placeholder", "title", "aria-label", "aria-description", "aria-valuetext", "aria-placeholder", "aria-roledescription"];
const URL_ATTRIBUTES = new Set(["href", "src", "action", "formaction"]);
const PRIVATE_KEEPS = new Set(["class", "rr_width", "rr_height"]);

const FULL_SNAPSHOT = 2;
const INCREMENTAL = 3;
const META = 4;
const MUTATION = 0;

/**
 * @typedef {{type: number, id?: number, tagName?: string, attributes?: Record<string, unknown>,
 *   childNodes?: SerializedNode[], textContent?: string}} SerializedNode
 * @typedef {{type: number, data: any, timestamp: number}} RecordedEvent
 * @typedef {(id: number) => boolean} MaskedById whether the page's node with this id is inside a masked area
 */

/**
 * A copy of the event with what must not leave the page removed.
 * @param {RecordedEvent} event
 * @param {MaskedById} maskedById
 * @returns {RecordedEvent}
 */
export function scrubEvent(event, maskedById) {
  if (event.type === META && event.data && typeof event.data.href === "string") {
    return { ...event, data: { ...event.data, href: sanitizeUrl(event.data.href) } };
  }
  if (event.type === FULL_SNAPSHOT && event.data?.node) {
    return { ...event, data: { ...event.data, node: scrubNode(event.data.node, false) } };
  }
  if (event.type === INCREMENTAL && event.data?.source === MUTATION) {
    const data = event.data;
    return {
      ...event,
      data: {
        ...data,
        adds: (data.adds ?? []).map((/** @type {any} */ add) => ({
          ...add, node: scrubNode(add.node, maskedById(add.parentId)),
        })),
        attributes: (data.attributes ?? []).map((/** @type {any} */ change) => ({
          ...change, attributes: scrubAttributeChange(change.attributes ?? {}),
        })),
      },
    }; // prettier-ignore
  }
  return event;
}

/**
 * @param {SerializedNode} node
 * @param {boolean} masked inside a masked area
 * @returns {SerializedNode}
 */
export function scrubNode(node, masked) {
  if (!node || typeof node !== "object") return node;
  if (node.type !== 2 || !node.attributes) {
    return node.childNodes ? { ...node, childNodes: node.childNodes.map((child) => scrubNode(child, masked)) } : node;
  }
  const tag = String(node.tagName ?? "").toLowerCase();
  const inside = masked || masks(node.attributes);
  const attributes = scrubAttributes(tag, node.attributes, inside);
  const childNodes = (node.childNodes ?? []).map((child) => scrubNode(child, inside));
  return { ...node, attributes, childNodes };
}

/**
 * Whether an element masks its content: marked so, or editable by the visitor (what they type).
 * @param {Record<string, unknown>} attributes
 */
function masks(attributes) {
  const editable = attributes.contenteditable;
  return "data-tandem-mask" in attributes || (editable !== undefined && editable !== null && String(editable).toLowerCase() !== "false");
}

/** The masked areas, as a selector (rrweb's maskTextSelector and the recorder's lookups). */
export const MASKED_SELECTOR = "[data-tandem-mask], [contenteditable]:not([contenteditable=false])";

/**
 * @param {string} tag
 * @param {Record<string, unknown>} attributes
 * @param {boolean} masked
 */
function scrubAttributes(tag, attributes, masked) {
  if ("rr_width" in attributes) {
    // A private field rrweb blocked: its size and class only.
    return Object.fromEntries(Object.entries(attributes).filter(([name]) => PRIVATE_KEEPS.has(name)));
  }
  /** @type {Record<string, unknown>} */
  const out = { ...attributes };
  const field = FIELDS.has(tag);
  if (field || masked) for (const name of TEXT_ATTRIBUTES) delete out[name];
  if (tag === "input" && String(out.type ?? "").toLowerCase() === "hidden") delete out.value;
  for (const name of Object.keys(out)) {
    if (/^on/i.test(name)) delete out[name];
    else out[name] = attributeValue(name, out[name]);
  }
  return out;
}

/**
 * An attribute's value with the URLs in it cleaned.
 * @param {string} name
 * @param {unknown} value
 */
function attributeValue(name, value) {
  if (typeof value !== "string") return value;
  if (URL_ATTRIBUTES.has(name)) return urlValue(value);
  if (name === "srcset" || name === "imagesrcset") {
    return value.split(",").map((candidate) => {
      const [url = "", ...rest] = candidate.trim().split(/\s+/);
      return [urlValue(url), ...rest].join(" ");
    }).filter((candidate) => candidate.trim()).join(", "); // prettier-ignore
  }
  if (name === "style" && /url\(/i.test(value)) {
    return value.replace(/url\(\s*(['"]?)([^'")]*)\1\s*\)/gi, (_, quote, url) => `url(${quote}${urlValue(url)}${quote})`);
  }
  return value;
}

/**
 * An attribute mutation: the same rules, without knowing the tag (so field text attributes always go).
 * @param {Record<string, unknown>} changes
 */
function scrubAttributeChange(changes) {
  /** @type {Record<string, unknown>} */
  const out = {};
  for (const [name, value] of Object.entries(changes)) {
    if (/^on/i.test(name)) continue;
    if (value !== null && TEXT_ATTRIBUTES.includes(name)) continue;
    if (value !== null && name === "value") continue; // input values travel masked as input events
    out[name] = attributeValue(name, value);
  }
  return out;
}

const RELATIVE_BASE = "http://relative.invalid";

/**
 * A URL attribute's value without sensitive query values; script URLs become "".
 * @param {string} value
 */
export function urlValue(value) {
  // eslint-disable-next-line no-control-regex
  const bare = value.replace(/[\s\u0000-\u001f]/g, "").toLowerCase();
  if (bare.startsWith("javascript:") || bare.startsWith("vbscript:") || bare.startsWith("data:text/html")) return "";
  if (/^https?:/i.test(value.trim())) return sanitizeUrl(value.trim());
  if (/^[a-z][a-z0-9+.-]*:/i.test(value.trim()) || !/[?#]/.test(value)) return value; // data:, blob:, mailto:, a plain path
  const absolute = sanitizeUrl(new URL(value, RELATIVE_BASE + "/").href);
  return absolute.startsWith(RELATIVE_BASE) ? absolute.slice(RELATIVE_BASE.length) : "";
}
