// @ts-check
/**
 * The player's host element: a shadow root for its UI, in the top layer (Popover API)
 * so page z-indexes cannot cover it — inside an open modal <dialog> when the target is
 * there, since everything outside a modal dialog is inert.
 */
import { playerSheet, styleHost } from "./styles.js";

/**
 * @param {Document} doc
 * @param {import("./types.js").Win} win
 */
export function createHost(doc, win) {
  const host = /** @type {HTMLElement} */ (doc.createElement("tandem-player"));
  host.setAttribute("data-tandem-private", ""); // its UI is Tandem's, never the page's content
  host.setAttribute("popover", "manual");
  styleHost(host);
  const shadow = host.attachShadow({ mode: "open" });
  shadow.adoptedStyleSheets = [playerSheet(win)];
  return { host, shadow };
}

/**
 * Put the host in `container` (the document's body or a modal dialog) and on top.
 * @param {HTMLElement} host
 * @param {Element} container
 */
export function mountHost(host, container) {
  if (host.parentElement !== container) {
    if (host.isConnected) hidePopover(host);
    container.append(host);
  }
  // Showing again moves it above a dialog opened since.
  hidePopover(host);
  if (typeof host.showPopover === "function") host.showPopover();
}

/** @param {HTMLElement} host */
export function unmountHost(host) {
  hidePopover(host);
  host.remove();
}

/** @param {HTMLElement} host */
function hidePopover(host) {
  if (typeof host.hidePopover === "function" && host.matches(":popover-open")) host.hidePopover();
}
