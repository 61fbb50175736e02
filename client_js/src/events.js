// @ts-check
/**
 * Tandem's events, all dispatched on `document` and namespaced `tandem:*`:
 * `tandem:ready`, `tandem:connected`, `tandem:disconnected`,
 * `tandem:identified`, `tandem:error`.
 */

/** @typedef {(type: string, detail: object) => void} Emit */

/**
 * @typedef {object} TandemErrorDetail
 * @property {string} code     a server error code (`invalid`, `identity_refused`…), or
 *   `unsupported_version`, `site_mismatch`, `policy` (the server closed the connection),
 *   `too_large` (a message was not sent), `client` (a bug in tandem.js)
 * @property {string} message
 * @property {string} [field]  the field at fault, when the server named one
 * @property {number} [cseq]   the refused message, when it was a numbered one
 * @property {number} [close]  the WebSocket close code, when the server closed
 */

/**
 * Dispatch `type` with `detail` on `document`; a no-op where there is none (Node tests).
 * @type {Emit}
 */
export function dispatch(type, detail) {
  if (typeof document === "undefined") return;
  document.dispatchEvent(new CustomEvent(type, { detail }));
}

/**
 * Report an error of Tandem's own without ever throwing into the host page:
 * log it and dispatch `tandem:error` with code `client`.
 * @param {unknown} error
 * @param {Emit} [emit]
 */
export function reportError(error, emit = dispatch) {
  try {
    console.error("Tandem:", error);
    const message = error instanceof Error ? error.message : String(error);
    const code = error instanceof Error && error.name === "MessageTooLarge" ? "too_large" : "client";
    emit("tandem:error", { code, message });
  } catch {
    // reporting must not fail either
  }
}

/**
 * Wrap a callback so that whatever it throws is reported, not thrown.
 * @template {unknown[]} A
 * @param {(...args: A) => void} fn
 * @param {Emit} [emit]
 * @returns {(...args: A) => void}
 */
export function guard(fn, emit = dispatch) {
  return (...args) => {
    try {
      fn(...args);
    } catch (error) {
      reportError(error, emit);
    }
  };
}
