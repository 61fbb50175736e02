// @ts-check
/**
 * The author's toolbar: a small panel in its own shadow root (`<tandem-recorder>`, which the
 * capture never records and no generated candidate can match) to write each step's sentence,
 * mark it destructive, add an expectation ("this should now be visible"), mark a field
 * private, undo the last step, start over on this page (after signing in, say) and finish. Every command goes to the recorder, which answers
 * with the recording's state; the toolbar only shows that state.
 */

/**
 * The recording as the recorder reports it.
 * @typedef {object} RecordingState
 * @property {number} count
 * @property {{number: number, id: string, text: string, destructive: boolean, expect: string | null, private: boolean} | null} last
 * @property {string} [message]
 * @property {boolean} [finished]
 */

const STYLE = `
  :host { all: initial; }
  .bar { position: fixed; left: 12px; bottom: 12px; z-index: 2147483647; width: 300px; box-sizing: border-box;
    font: 13px/1.4 system-ui, sans-serif; color: #1b1b1f; background: #fff; border: 2px solid #b3261e;
    border-radius: 10px; box-shadow: 0 6px 24px rgb(0 0 0 / 25%); padding: 10px; }
  .head { display: flex; justify-content: space-between; align-items: center; margin-bottom: 6px; }
  .dot { display: inline-block; width: 9px; height: 9px; border-radius: 50%; background: #b3261e; margin-right: 6px; }
  .last { margin: 0 0 6px; padding: 6px; background: #f4f4f6; border-radius: 6px; min-height: 1.4em; }
  textarea { width: 100%; box-sizing: border-box; min-height: 3.2em; font: inherit; margin: 2px 0 4px; }
  .row { display: flex; flex-wrap: wrap; gap: 4px; margin: 4px 0; }
  button { font: inherit; padding: 3px 8px; border-radius: 6px; border: 1px solid #767680; background: #fff; cursor: pointer; }
  button.primary { background: #b3261e; border-color: #b3261e; color: #fff; }
  button:focus-visible, textarea:focus-visible, input:focus-visible { outline: 2px solid #0b57d0; outline-offset: 1px; }
  .hint { margin: 4px 0 0; color: #44474e; min-height: 1.2em; }
`;

/**
 * Build the toolbar in a document.
 * @param {{doc: Document, command: (name: string, extra?: Record<string, unknown>) => Promise<RecordingState | null>, pick: (purpose: "expect" | "private") => void}} options
 */
export function createToolbar({ doc, command, pick }) {
  const host = doc.createElement("tandem-recorder");
  const shadow = host.attachShadow({ mode: "open" });
  const style = doc.createElement("style");
  style.textContent = STYLE;
  shadow.append(style);
  const bar = doc.createElement("div");
  bar.className = "bar";
  bar.setAttribute("role", "region");
  bar.setAttribute("aria-label", "Tandem recorder");
  bar.innerHTML = `
    <div class="head"><strong><span class="dot" aria-hidden="true"></span>Recording</strong><span class="count" aria-live="polite">0 steps</span></div>
    <p class="last" data-part="last">Do the task once: each action becomes a step.</p>
    <label for="text">What the visitor does in this step</label>
    <textarea id="text" name="text"></textarea>
    <div class="row">
      <button type="button" data-command="text">Save text</button>
      <label><input type="checkbox" name="destructive"> Destructive</label>
    </div>
    <div class="row">
      <button type="button" data-command="expect" title="Click what should be visible after this step">Expect…</button>
      <button type="button" data-command="private" title="Click a field whose value must never be written">Private field…</button>
      <button type="button" data-command="undo">Undo last step</button>
      <button type="button" data-command="restart" title="Forget the steps so far: the walkthrough starts on this page">Start here</button>
      <button type="button" data-command="finish" class="primary">Finish</button>
    </div>
    <p class="hint" role="status" data-part="hint"></p>`;
  shadow.append(bar);

  const part = (/** @type {string} */ selector) => /** @type {HTMLElement} */ (shadow.querySelector(selector));
  const text = /** @type {HTMLTextAreaElement} */ (part("textarea"));
  const destructive = /** @type {HTMLInputElement} */ (part("input[name=destructive]"));
  const hint = part("[data-part=hint]");

  /** @param {RecordingState | null} state */
  const render = (state) => {
    if (!state) return;
    part(".count").textContent = `${state.count} step${state.count === 1 ? "" : "s"}`;
    const last = state.last;
    part("[data-part=last]").textContent = last
      ? `${last.number}. ${last.text}${last.expect ? ` — expects ${last.expect}` : ""}${last.private ? " (value not kept)" : ""}`
      : "Do the task once: each action becomes a step.";
    if (shadow.activeElement !== text) text.value = last ? last.text : "";
    destructive.checked = !!last?.destructive;
    destructive.disabled = !last;
    hint.textContent = state.message ?? "";
    if (state.finished) {
      bar.querySelectorAll("button, textarea, input").forEach((b) => b.setAttribute("disabled", ""));
      hint.textContent = "Finished: the walkthrough is written. You can close this window.";
    }
  };

  bar.addEventListener("click", (event) => {
    const button = /** @type {Element} */ (event.target).closest("button[data-command]");
    if (!button) return;
    const name = button.getAttribute("data-command") ?? "";
    if (name === "expect" || name === "private") {
      pick(name);
      hint.textContent = name === "expect"
        ? "Click what should now be visible (Esc cancels)."
        : "Click the field whose value must never be written (Esc cancels).";
      return;
    }
    const extra = name === "text" ? { text: text.value } : name === "restart" ? { url: doc.location.href } : {};
    void command(name, extra).then(render);
  });
  destructive.addEventListener("change", () => void command("destructive", { on: destructive.checked }).then(render));
  // Keys typed in the toolbar are the author's notes, not the page's: keep them from the page.
  for (const type of ["keydown", "keyup", "keypress", "input", "change"]) bar.addEventListener(type, (event) => event.stopPropagation());

  const attach = () => {
    if (!host.isConnected) doc.documentElement.append(host);
  };
  attach();
  // Pages that rebuild <html>'s children (some SPA frameworks) drop it: put it back.
  new MutationObserver(attach).observe(doc.documentElement, { childList: true });
  return { host, render };
}
