// @ts-check
/**
 * The tooltip: role="dialog", labelled by the step text and described by the progress
 * line, with the step's buttons; and the aria-live region that announces each step.
 */
import { renderText } from "./markup.js";

/** @typedef {"back" | "next" | "drive" | "confirm" | "cancel" | "stop" | "close"} ButtonName */

const LABELS = /** @type {Record<ButtonName, string>} */ ({
  back: "Back", next: "Next", drive: "Do it for me", confirm: "Yes, do it", cancel: "Cancel", stop: "Stop", close: "×",
}); // prettier-ignore

/**
 * Build the tooltip in the shadow root.
 * @param {ShadowRoot} shadow
 * @param {(name: ButtonName) => void} onButton
 */
export function createTooltip(shadow, onButton) {
  const doc = /** @type {Document} */ (shadow.ownerDocument);
  const make = (/** @type {string} */ tag, /** @type {string} */ className) => {
    const element = doc.createElement(tag);
    if (className) element.className = className;
    return element;
  };
  const dialog = make("div", "tooltip");
  dialog.setAttribute("role", "dialog");
  dialog.setAttribute("aria-labelledby", "tandem-step-text");
  dialog.setAttribute("aria-describedby", "tandem-step-progress");
  dialog.tabIndex = -1;
  const who = make("p", "who");
  who.hidden = true;
  const progress = make("p", "progress");
  progress.id = "tandem-step-progress";
  const text = make("div", "text");
  text.id = "tandem-step-text";
  const note = make("p", "note");
  note.setAttribute("role", "status");
  const row = make("div", "buttons");
  /** @type {Record<string, HTMLButtonElement>} */
  const buttons = {};
  for (const name of /** @type {ButtonName[]} */ (Object.keys(LABELS))) {
    const button = /** @type {HTMLButtonElement} */ (make("button", name === "next" || name === "confirm" ? "primary" : name));
    button.type = "button";
    button.textContent = LABELS[name];
    button.dataset.part = name;
    if (name === "close") button.setAttribute("aria-label", "Close the walkthrough");
    button.addEventListener("click", () => onButton(name));
    buttons[name] = button;
    (name === "close" ? dialog : row).append(button);
  }
  dialog.append(who, progress, text, note, row);
  const live = make("div", "live");
  live.setAttribute("aria-live", "polite");
  shadow.append(dialog, live);
  return { dialog, who, progress, text, note, buttons, live };
}

/** @typedef {ReturnType<typeof createTooltip>} Tooltip */

/**
 * Fill the tooltip for a step.
 * @param {Tooltip} tooltip
 * @param {{text: string, index: number, total: number, persona?: {name?: string, avatar?: string}}} content
 */
export function fillTooltip(tooltip, { text, index, total, persona }) {
  const doc = /** @type {Document} */ (tooltip.dialog.ownerDocument);
  const name = persona?.name ?? "";
  tooltip.who.hidden = !name;
  tooltip.who.textContent = name ? `${persona?.avatar ?? ""} ${name}`.trim() : "";
  tooltip.progress.textContent = `Step ${index + 1} of ${total}`;
  tooltip.text.replaceChildren(...renderText(doc, text));
  tooltip.live.textContent = `Step ${index + 1} of ${total}: ${tooltip.text.textContent}`;
}

/**
 * Show only the named buttons, and the note (when given).
 * @param {Tooltip} tooltip
 * @param {ButtonName[]} visible
 * @param {{text: string, warning?: boolean} | null} note
 */
export function setControls(tooltip, visible, note) {
  for (const [name, button] of Object.entries(tooltip.buttons)) button.hidden = name !== "close" && !visible.includes(/** @type {ButtonName} */ (name));
  tooltip.note.hidden = !note;
  tooltip.note.textContent = note ? note.text : "";
  tooltip.note.classList.toggle("warning", Boolean(note?.warning));
}
