// @ts-check
/**
 * The on-page UI of one walkthrough: host, highlight and tooltip, kept in place while
 * the page scrolls (any scroll container: scroll is listened to in the capture phase)
 * or resizes, once per animation frame. `hide` always removes all of it.
 */
import { windowOf } from "./dom.js";
import { createHost, mountHost, unmountHost } from "./host.js";
import { placeHighlight, placeTooltip } from "./position.js";
import { createTooltip, fillTooltip } from "./tooltip.js";

/**
 * @param {{doc: Document, win: import("./types.js").Win, onButton: (name: import("./tooltip.js").ButtonName) => void, onKey: (event: KeyboardEvent) => void}} options
 */
export function createOverlay({ doc, win, onButton, onKey }) {
  const { host, shadow } = createHost(doc, win);
  const highlight = doc.createElement("div");
  highlight.className = "highlight";
  highlight.hidden = true;
  shadow.append(highlight);
  const tooltip = createTooltip(shadow, onButton);
  shadow.addEventListener("keydown", (event) => onKey(/** @type {KeyboardEvent} */ (event)));
  /** @type {{target: Element | null, placement: import("./types.js").Placement}} */
  const view = { target: null, placement: "auto" };
  let frame = 0;
  /** @type {Window[]} the windows whose scrolling moves the target: the page's, and its iframe's */
  let tracking = [];
  const resizeObserver = new win.ResizeObserver(() => schedule());
  const update = () => {
    placeHighlight(highlight, view.target);
    placeTooltip(tooltip.dialog, view.target, view.placement, win).catch(() => {});
  };
  const schedule = () => {
    if (!frame) frame = win.requestAnimationFrame(() => ((frame = 0), update()));
  };
  /** @param {Window[]} windows */
  const track = (windows) => {
    for (const w of tracking) {
      w.removeEventListener("scroll", schedule, { capture: true });
      w.removeEventListener("resize", schedule);
    }
    tracking = windows;
    for (const w of tracking) {
      w.addEventListener("scroll", schedule, { capture: true, passive: true });
      w.addEventListener("resize", schedule);
    }
    if (!windows.length) resizeObserver.disconnect();
  };
  return {
    tooltip,
    /** @param {{text: string, index: number, total: number, target: Element | null, placement: import("./types.js").Placement, container: Element, persona?: {name?: string, avatar?: string}}} step */
    show(step) {
      view.target = step.target;
      view.placement = step.placement;
      fillTooltip(tooltip, step);
      mountHost(host, step.container);
      const own = windowOf(step.target, win);
      track(own === win ? [win] : [win, own]);
      resizeObserver.disconnect();
      if (step.target) resizeObserver.observe(step.target);
      update();
    },
    focus: () => tooltip.dialog.focus(),
    /** @param {Node | null} node */
    contains: (node) => node === host || shadow.contains(node),
    hide() {
      track([]);
      if (frame) win.cancelAnimationFrame(frame);
      frame = 0;
      view.target = null;
      highlight.hidden = true;
      unmountHost(host);
    },
  };
}

/** @typedef {ReturnType<typeof createOverlay>} Overlay */
