// @ts-check
/**
 * Reads the client's configuration from the script tag that loaded it:
 * `<script src="https://SERVER/tandem.js" data-site="KEY" async>`.
 */

/**
 * @typedef {object} TandemConfig
 * @property {string} site      the site key (`data-site`)
 * @property {string} server    the Tandem server's origin, taken from the script's src
 * @property {string} socketUrl the WebSocket URL on that server
 * @property {boolean} widget   whether to show the help widget (`data-widget="off"` hides it)
 */

/**
 * Find the script element that loaded Tandem. `document.currentScript` is null
 * for async scripts in some cases, so fall back to the tag's shape.
 * @param {Document} doc
 * @returns {HTMLScriptElement | null}
 */
export function findScriptTag(doc) {
  const current = doc.currentScript;
  if (current instanceof HTMLScriptElement && current.dataset.site !== undefined) return current;
  const tags = doc.querySelectorAll("script[data-site][src]");
  for (const tag of Array.from(tags)) {
    if (tag instanceof HTMLScriptElement && /\/tandem(\.min)?\.js(\?|#|$)/.test(tag.src)) return tag;
  }
  return null;
}

/**
 * @param {HTMLScriptElement | null} tag
 * @returns {TandemConfig}
 */
export function readConfig(tag) {
  if (!tag) throw new Error("Tandem: cannot find the <script data-site> tag that loaded tandem.js");
  const site = tag.dataset.site || "";
  if (!site) throw new Error("Tandem: the script tag needs data-site=\"YOUR-SITE-KEY\"");
  const src = new URL(tag.src, location.href);
  const socket = new URL("/ws", src);
  socket.protocol = src.protocol === "https:" ? "wss:" : "ws:";
  return { site, server: src.origin, socketUrl: socket.href, widget: tag.dataset.widget !== "off" };
}
