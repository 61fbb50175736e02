// @ts-check
/**
 * Where the highlight and the tooltip go: the highlight around the target, the tooltip
 * beside it with @floating-ui/dom (the step's placement preferred, flipped and shifted to
 * stay on screen), centred without a target, a bottom sheet on narrow screens.
 */
import { computePosition, flip, offset, shift } from "@floating-ui/dom";

import { frameOffset } from "./dom.js";

export const SHEET_BELOW_PX = 600;
const PAD = 4;

/**
 * @param {HTMLElement} highlight
 * @param {Element | null} target
 */
export function placeHighlight(highlight, target) {
  if (!target || !target.isConnected) {
    highlight.hidden = true;
    return;
  }
  const rect = target.getBoundingClientRect();
  const frame = frameOffset(target, /** @type {Window} */ (highlight.ownerDocument.defaultView));
  highlight.hidden = false;
  highlight.style.left = `${frame.x + rect.left - PAD}px`;
  highlight.style.top = `${frame.y + rect.top - PAD}px`;
  highlight.style.width = `${rect.width + 2 * PAD}px`;
  highlight.style.height = `${rect.height + 2 * PAD}px`;
}

/**
 * @param {HTMLElement} tooltip
 * @param {Element | null} target
 * @param {import("./types.js").Placement} placement
 * @param {import("./types.js").Win} win
 */
export async function placeTooltip(tooltip, target, placement, win) {
  const sheet = win.innerWidth < SHEET_BELOW_PX;
  const centred = !sheet && (!target || placement === "center");
  tooltip.classList.toggle("sheet", sheet);
  tooltip.classList.toggle("centred", centred);
  if (sheet || centred || !target) {
    tooltip.style.removeProperty("left");
    tooltip.style.removeProperty("top");
    return;
  }
  const side = placement === "auto" || placement === "center" ? "bottom" : placement;
  const { x, y } = await computePosition(target, tooltip, {
    strategy: "fixed",
    placement: side,
    middleware: [offset(12), flip(), shift({ padding: 8 })],
  });
  tooltip.style.left = `${x}px`;
  tooltip.style.top = `${y}px`;
}
