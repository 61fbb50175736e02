// @ts-check
/**
 * The entry of `dist/tandem-capture.js`, which `tandem record` adds as an init script to
 * every page and frame: it captures what the author does and sends it to the recorder
 * through the exposed binding `__tandemCapture`; in the top frame it also shows the author's
 * toolbar. Installs once per window, and does nothing without the binding (a page opened
 * outside the recorder).
 */
import { installCapture } from "./capture.js";
import { createToolbar } from "./toolbar.js";

/** @typedef {import("./toolbar.js").RecordingState} RecordingState */

const win = /** @type {Window & typeof globalThis & Record<string, any>} */ (window);

/** @returns {((event: unknown) => Promise<RecordingState | null>) | null} */
function binding() {
  return typeof win.__tandemCapture === "function" ? win.__tandemCapture : null;
}

/**
 * The top window's toolbar renderer, when this frame may reach it (same origin).
 * @returns {((state: RecordingState | null) => void) | null}
 */
function topRender() {
  try {
    const top = /** @type {Record<string, any>} */ (/** @type {unknown} */ (win.top));
    return top?.TandemCapture?.render ?? null;
  } catch {
    return null;
  }
}

function install() {
  if (win.TandemCapture || !binding()) return;
  // The site's test id attribute, when the recorder was told it is not data-testid.
  const testIdAttribute = typeof win.__tandemTestIdAttribute === "string" ? win.__tandemTestIdAttribute : "data-testid";
  /** @type {ReturnType<typeof installCapture> | null} */
  let capture = null;
  /** @param {Record<string, unknown>} event */
  const send = async (event) => {
    const call = binding();
    if (!call) return null;
    const state = await call(event);
    capture?.setMarks(state?.private_targets); // fields marked private on another page too
    topRender()?.(state);
    return state;
  };
  capture = installCapture({ win, send, testIdAttribute });
  /** @type {((state: RecordingState | null) => void) | null} */
  let render = null;
  win.TandemCapture = Object.freeze({
    flush: capture.flush,
    pick: capture.pick,
    render: (/** @type {RecordingState | null} */ state) => render?.(state),
  });
  if (win.top !== win) return;
  const hello = () => {
    const marker = document.querySelector("[data-tandem-process]");
    void send({
      type: "hello", frame: capture.frame, title: document.title,
      process: marker ? marker.getAttribute("data-tandem-process") : null,
    }); // prettier-ignore
  };
  const show = () => {
    const toolbar = createToolbar({
      doc: document,
      command: (name, extra = {}) => send({ type: "command", command: name, at: Date.now(), ...extra }),
      pick: capture.pick,
    });
    render = toolbar.render;
    hello();
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", show, { once: true });
  else show();
}

install();
