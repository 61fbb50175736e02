// @ts-check
/** Small DOM helpers for the Acme Billing demo: no innerHTML, no inline styles (strict CSP). */

/**
 * @typedef {object} DemoConfig
 * @property {string} variant
 * @property {Record<string, string>} classes
 * @property {Record<string, string>} texts
 * @property {Record<string, string>} ids
 * @property {string} page
 * @property {{id: string, name: string, email: string, role: string, plan: string} | null} user
 * @property {{site: string, identity?: TandemIdentity | null}} tandem
 *   identity: the signed-in visitor, vouched for by a token the server signed; null when signed out
 */

/**
 * What the page passes to `Tandem.identify()`.
 * @typedef {object} TandemIdentity
 * @property {string} id
 * @property {string} token
 * @property {Record<string, string | number | boolean | null>} [traits]
 */

/** @returns {DemoConfig} */
export function readDemoConfig() {
  const node = document.getElementById("acme-config");
  if (!node || !node.textContent) throw new Error("acme-config is missing");
  return JSON.parse(node.textContent);
}

/** @type {DemoConfig | null} */
let current = null;

/** @param {DemoConfig} config */
export function useConfig(config) {
  current = config;
}

function config() {
  if (!current) throw new Error("demo config not loaded");
  return current;
}

/**
 * Class names for logical classes, in this variant.
 * @param {...string} names
 */
export function cls(...names) {
  const map = config().classes;
  return names.map((n) => map[n] || n).join(" ");
}

/**
 * Text for a key, with `{name}` placeholders filled.
 * @param {string} key
 * @param {Record<string, string>} [values]
 */
export function t(key, values = {}) {
  const text = config().texts[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => values[name] ?? "");
}

/**
 * Create an element.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Record<string, string | boolean | undefined>} [attrs]
 * @param {(Node | string | null | undefined)[]} [children]
 * @returns {HTMLElementTagNameMap[K]}
 */
export function el(tag, attrs = {}, children = []) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child);
  }
  return node;
}

/**
 * The element id for a logical id, in this variant.
 * @param {string} key
 */
export function id(key) {
  return config().ids[key] || key;
}
