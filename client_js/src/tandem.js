// @ts-check
/**
 * Tandem's browser client. A site adds one script tag; this defines
 * `window.Tandem`, the one public API object, and announces itself with the
 * `tandem:ready` event on `document` (all events are namespaced `tandem:*`).
 */
import { findScriptTag, readConfig } from "./config.js";

/** @type {string} */
// @ts-ignore -- replaced at build time by esbuild's `define`
const VERSION = typeof __TANDEM_VERSION__ === "string" ? __TANDEM_VERSION__ : "dev";

/**
 * @typedef {object} TandemApi
 * @property {string} version
 * @property {import("./config.js").TandemConfig} config
 */

function start() {
  const w = /** @type {Window & {Tandem?: TandemApi}} */ (window);
  if (w.Tandem) return; // loaded twice: keep the first
  const config = readConfig(findScriptTag(document));
  /** @type {TandemApi} */
  const api = Object.freeze({ version: VERSION, config });
  Object.defineProperty(w, "Tandem", { value: api, writable: false, configurable: false });
  document.dispatchEvent(new CustomEvent("tandem:ready", { detail: { version: VERSION, site: config.site } }));
}

try {
  start();
} catch (error) {
  // Never break the host page: report and stay inert.
  console.error(error);
}
