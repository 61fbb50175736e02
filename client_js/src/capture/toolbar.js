// @ts-check
/**
 * The author's toolbar: a small panel in its own shadow root (`<tandem-recorder>`, which the
 * capture never records and no generated candidate can match) to write each step's sentence,
 * mark it destructive, add an expectation ("this should now be visible"), mark a field
 * private, undo the last step, start over on this page (after signing in, say) and finish.
 * Every command goes to the recorder, which answers with the recording's state; the toolbar
 * only shows that state.
 *
 * It stays out of the way: a one-line pill in the bottom left corner ("● Recording · 3 steps")
 * that opens into the panel when clicked and folds back once a command is given or the author
 * goes back to the page — the page under it stays reachable.
 */

/**
 * The recording as the recorder reports it.
 * @typedef {object} RecordingState
 * @property {number} count
 * @property {{number: number, id: string, text: string, destructive: boolean, expect: string | null, private: boolean} | null} last
 * @property {string} [message]
 * @property {boolean} [finished]
 * @property {unknown[]} [private_targets] candidates of the fields the author marked private
 */

const STYLE = `
  :host { all: initial; }
  .bar { position: fixed; left: 12px; bottom: 12px; z-index: 2147483647; box-sizing: border-box; max-width: 320px;
    font: 13px/1.4 system-ui, sans-serif; color: #1b1b1f; background: #fff; border: 2px solid #b3261e;
    border-radius: 10px; box-shadow: 0 6px 24px rgb(0 0 0 / 25%); }
  .pill { display: flex; gap: 6px; align-items: center; width: 100%; border: 0; background: transparent; padding: 4px 10px;
    font: inherit; color: inherit; cursor: pointer; text-align: left; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
  .dot { flex: none; width: 9px; height: 9px; border-radius: 50%; background: #b3261e; }
  .panel { padding: 0 10px 10px; width: 300px; box-sizing: border-box; }
  .panel[hidden] { display: none; }
  .last { margin: 0 0 6px; padding: 6px; background: #f4f4f6; border-radius: 6px; min-height: 1.4em; }
  textarea { width: 100%; box-sizing: border-box; min-height: 3.2em; font: inherit; margin: 2px 0 4px; }
  .row { display: flex; flex-wrap: wrap; gap: 4px; margin: 4px 0; }
  .row button { font: inherit; padding: 3px 8px; border-radius: 6px; border: 1px solid #767680; background: #fff; color: #1b1b1f; cursor: pointer; }
  .row button.primary { background: #b3261e; border-color: #b3261e; color: #fff; }
  button:focus-visible, textarea:focus-visible, input:focus-visible { outline: 2px solid #0b57d0; outline-offset: 1px; }
  .hint { margin: 4px 0 0; color: #44474e; min-height: 1.2em; }
`;

/** The controls of the panel: [command, label, title]. */
const BUTTONS = [
  ["expect", "Expect…", "Click what should be visible after this step"],
  ["private", "Private field…", "Click a field whose value must never be written"],
  ["undo", "Undo last step", ""],
  ["restart", "Start here", "Forget the steps so far: the walkthrough starts on this page"],
  ["finish", "Finish", "Write the walkthrough"],
];

/**
 * Build the toolbar in a document.
 * @param {{doc: Document, command: (name: string, extra?: Record<string, unknown>) => Promise<RecordingState | null>, pick: (purpose: "expect" | "private") => void}} options
 */
export function createToolbar({ doc, command, pick }) {
  /**
   * @param {string} tag
   * @param {Record<string, string>} [attributes]
   * @param {string} [text]
   */
  const make = (tag, attributes = {}, text = "") => {
    const element = doc.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
    if (text) element.textContent = text;
    return element;
  };
  const host = doc.createElement("tandem-recorder");
  const shadow = host.attachShadow({ mode: "open" });
  const view = doc.defaultView;
  if (view && "adoptedStyleSheets" in shadow) {
    // A constructed sheet: a page's Content-Security-Policy on <style> does not apply to it.
    const sheet = new view.CSSStyleSheet();
    sheet.replaceSync(STYLE);
    shadow.adoptedStyleSheets = [sheet];
  } else {
    shadow.append(make("style", {}, STYLE));
  }

  const bar = make("div", { class: "bar", role: "region", "aria-label": "Tandem recorder" });
  const pill = make("button", { type: "button", class: "pill", "aria-expanded": "false", "aria-controls": "tandem-recorder-panel" });
  const summary = make("span", { "data-part": "summary" }, "Recording · 0 steps");
  pill.append(make("span", { class: "dot", "aria-hidden": "true" }), summary);
  const panel = make("div", { class: "panel", id: "tandem-recorder-panel" });
  panel.hidden = true;
  const last = make("p", { class: "last", "data-part": "last", "aria-live": "polite" }, "Do the task once: each action becomes a step.");
  const text = /** @type {HTMLTextAreaElement} */ (make("textarea", { id: "tandem-recorder-text", name: "text" }));
  const textRow = make("div", { class: "row" });
  const save = make("button", { type: "button", "data-command": "text" }, "Save text");
  const destructiveLabel = make("label");
  const destructive = /** @type {HTMLInputElement} */ (make("input", { type: "checkbox", name: "destructive" }));
  destructiveLabel.append(destructive, " Destructive");
  textRow.append(save, destructiveLabel);
  const buttons = make("div", { class: "row" });
  for (const [name, label, title] of BUTTONS) {
    buttons.append(make("button", { type: "button", "data-command": name, ...(title ? { title } : {}), ...(name === "finish" ? { class: "primary" } : {}) }, label));
  }
  const hint = make("p", { class: "hint", role: "status", "data-part": "hint" });
  panel.append(last, make("label", { for: "tandem-recorder-text" }, "What the visitor does in this step"), text, textRow, buttons, hint);
  bar.append(pill, panel);
  shadow.append(bar);

  let finished = false;
  /** The last step's sentence as shown: a different one in the box is the author's edit. */
  let shown = "";
  // The author changed the sentence and has not saved it yet: a refresh of the toolbar (a step
  // or a navigation reaching the recorder) must not put the old one back under their cursor.
  let edited = false;
  text.addEventListener("input", () => { edited = true; });
  /** @param {boolean} open */
  const unfold = (open) => {
    panel.hidden = !open;
    pill.setAttribute("aria-expanded", String(open));
  };

  /** @param {RecordingState | null} state */
  const render = (state) => {
    if (!state) return;
    const count = `${state.count} step${state.count === 1 ? "" : "s"}`;
    const step = state.last;
    summary.textContent = `Recording · ${count}${step ? ` · ${step.number}. ${step.text}` : ""}`;
    last.textContent = step
      ? `${step.number}. ${step.text}${step.expect ? ` — expects ${step.expect}` : ""}${step.private ? " (value not kept)" : ""}`
      : "Do the task once: each action becomes a step.";
    if (shadow.activeElement !== text && !edited) text.value = shown = step ? step.text : "";
    destructive.checked = !!step?.destructive;
    destructive.disabled = !step;
    hint.textContent = state.message ?? "";
    if (state.finished) {
      finished = true;
      panel.querySelectorAll("button, textarea, input").forEach((b) => b.setAttribute("disabled", ""));
      summary.textContent = state.message || "Finished: writing the walkthrough…";
    }
  };

  /**
   * Give a command; the panel folds back (the page is what the author works on).
   * @param {string} name
   * @param {Record<string, unknown>} [extra]
   */
  const give = (name, extra = {}) => {
    if (name === "text") edited = false;
    unfold(false);
    return command(name, extra).then(render);
  };

  pill.addEventListener("click", () => unfold(panel.hidden));
  panel.addEventListener("click", (event) => {
    const button = /** @type {Element} */ (event.target).closest("button[data-command]");
    if (!button || button.hasAttribute("disabled")) return;
    const name = button.getAttribute("data-command") ?? "";
    if (name === "expect" || name === "private") {
      unfold(false);
      pick(name);
      summary.textContent = name === "expect"
        ? "Click what should now be visible (Esc cancels)"
        : "Click the field whose value must never be written (Esc cancels)"; // prettier-ignore
      return;
    }
    const extra = name === "text" ? { text: text.value } : name === "restart" ? { url: doc.location.href } : {};
    void give(name, extra);
  });
  destructive.addEventListener("change", () => void give("destructive", { on: destructive.checked }));
  // Keys typed in the toolbar are the author's notes, not the page's: keep them from the page.
  for (const type of ["keydown", "keyup", "keypress", "input", "change"]) bar.addEventListener(type, (event) => event.stopPropagation());
  bar.addEventListener("keydown", (event) => {
    if (/** @type {KeyboardEvent} */ (event).key === "Escape") unfold(false);
  });
  // Back to the page: the panel folds (a sentence written but not saved is saved).
  bar.addEventListener("focusout", (event) => {
    const next = /** @type {FocusEvent} */ (event).relatedTarget;
    if (next && bar.contains(/** @type {Node} */ (next))) return;
    if (!panel.hidden && text.value.trim() && text.value !== shown && !finished) {
      shown = text.value;
      void give("text", { text: text.value });
    } else {
      if (text.value === shown) edited = false;
      unfold(false);
    }
  });

  const attach = () => {
    if (!host.isConnected) doc.documentElement.append(host);
  };
  attach();
  // Pages that rebuild <html>'s children (some SPA frameworks) drop it: put it back.
  new MutationObserver(attach).observe(doc.documentElement, { childList: true });
  return { host, render };
}
