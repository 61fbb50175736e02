// @ts-check
/**
 * What the visitor sees of a co-browse session: a banner whenever an agent can see the
 * page (who, and a button to stop sharing), and a question before anything starts
 * (may they see the page? may they click and type?). In a shadow root, on top of the
 * page (the highest z-index), marked private so the mirror never shows it; keyboard-complete.
 */

const CSS = `
:host { all: initial; }
.banner, .ask { pointer-events: auto; }
.banner { position: fixed; top: 0; left: 50%; transform: translateX(-50%); z-index: 2147483647;
  display: flex; gap: 12px; align-items: center; padding: 8px 14px; border-radius: 0 0 10px 10px;
  background: #0b7285; color: #fff; font: 14px/1.4 system-ui, sans-serif; box-shadow: 0 2px 10px rgba(0,0,0,.25); }
.banner.control { background: #c92a2a; }
.dot { width: 10px; height: 10px; border-radius: 50%; background: #ff6b6b; flex: none; }
button { font: inherit; border-radius: 6px; padding: 6px 12px; cursor: pointer; border: 1px solid #fff; background: transparent; color: inherit; }
button.primary { background: #fff; color: #0b7285; border-color: #fff; }
button:focus-visible { outline: 3px solid #ffd43b; outline-offset: 2px; }
.ask { position: fixed; top: 64px; left: 50%; transform: translateX(-50%); z-index: 2147483647; width: min(420px, 92vw);
  background: #fff; color: #212529; border-radius: 12px; padding: 18px; box-shadow: 0 8px 30px rgba(0,0,0,.3);
  font: 15px/1.5 system-ui, sans-serif; }
.ask h2 { margin: 0 0 8px; font-size: 17px; }
.ask p { margin: 0 0 14px; }
.ask .buttons { display: flex; gap: 10px; justify-content: flex-end; }
.ask button { border-color: #495057; color: #212529; }
.ask button.primary { background: #0b7285; color: #fff; border-color: #0b7285; }
`;

/**
 * @typedef {{agents: string[], control: string}} BannerState
 * @typedef {{onStop: () => void, onTakeBack: () => void}} BannerActions
 */

/**
 * @param {{doc: Document, win: Window}} options
 */
export function createCobrowseUi({ doc, win }) {
  const host = doc.createElement("tandem-cobrowse");
  host.setAttribute("data-tandem-private", "");
  // The host covers the viewport but takes no clicks: only the banner and the question do.
  Object.assign(host.style, {
    position: "fixed", inset: "0", width: "100vw", height: "100vh", maxWidth: "none", maxHeight: "none", margin: "0",
    padding: "0", border: "0", background: "transparent", overflow: "visible", pointerEvents: "none",
    zIndex: "2147483647",
  }); // prettier-ignore
  const shadow = host.attachShadow({ mode: "open" });
  // A constructed stylesheet: pages whose CSP forbids inline <style> still apply it.
  const sheet = new (/** @type {Window & typeof globalThis} */ (win).CSSStyleSheet)();
  sheet.replaceSync(CSS);
  shadow.adoptedStyleSheets = [sheet];
  const banner = doc.createElement("div");
  banner.className = "banner";
  banner.setAttribute("role", "status");
  banner.hidden = true;
  shadow.append(banner);
  /** @type {HTMLElement | null} */
  let dialog = null;
  /** @type {number | null} */
  let timer = null;

  function mount() {
    if (!host.isConnected) doc.body.append(host);
  }

  function unmountIfIdle() {
    if (banner.hidden && !dialog) host.remove();
  }

  /**
   * @param {BannerState | null} state null hides it
   * @param {BannerActions} actions
   */
  function showBanner(state, actions) {
    banner.textContent = "";
    if (!state) {
      banner.hidden = true;
      unmountIfIdle();
      return;
    }
    const dot = doc.createElement("span");
    dot.className = "dot";
    const text = doc.createElement("span");
    const who = state.agents.length ? listNames(state.agents) : "Support";
    const button = doc.createElement("button");
    button.type = "button";
    if (state.control) {
      text.textContent = `${state.control} can click and type for you. Press Esc to take back control.`;
      button.textContent = "Take back control";
      button.addEventListener("click", () => actions.onTakeBack());
    } else {
      text.textContent = `${who} from support can see this page.`;
      button.textContent = "Stop sharing";
      button.addEventListener("click", () => actions.onStop());
    }
    banner.className = state.control ? "banner control" : "banner";
    banner.append(dot, text, button);
    banner.hidden = false;
    mount();
  }

  /**
   * Ask the visitor; `answer(false)` when they do not answer in time.
   * @param {{title: string, text: string, yes: string, no: string, withinMs: number}} question
   * @param {(yes: boolean) => void} answer
   */
  function ask(question, answer) {
    closeQuestion();
    const box = doc.createElement("div");
    box.className = "ask";
    box.setAttribute("role", "alertdialog");
    box.setAttribute("aria-modal", "false");
    box.setAttribute("aria-labelledby", "tandem-cobrowse-title");
    box.setAttribute("aria-describedby", "tandem-cobrowse-text");
    const title = doc.createElement("h2");
    title.id = "tandem-cobrowse-title";
    title.textContent = question.title;
    const text = doc.createElement("p");
    text.id = "tandem-cobrowse-text";
    text.textContent = question.text;
    const buttons = doc.createElement("div");
    buttons.className = "buttons";
    const no = doc.createElement("button");
    no.type = "button";
    no.textContent = question.no;
    const yes = doc.createElement("button");
    yes.type = "button";
    yes.className = "primary";
    yes.textContent = question.yes;
    buttons.append(no, yes);
    box.append(title, text, buttons);
    const settle = (/** @type {boolean} */ value) => {
      if (dialog !== box) return;
      closeQuestion();
      answer(value);
    };
    yes.addEventListener("click", () => settle(true));
    no.addEventListener("click", () => settle(false));
    box.addEventListener("keydown", (event) => {
      if (event.key === "Escape") settle(false);
    });
    dialog = box;
    shadow.append(box);
    mount();
    yes.focus();
    if (question.withinMs > 0) timer = win.setTimeout(() => settle(false), question.withinMs);
  }

  function closeQuestion() {
    if (timer !== null) win.clearTimeout(timer);
    timer = null;
    dialog?.remove();
    dialog = null;
    unmountIfIdle();
  }

  return { showBanner, ask, closeQuestion, host };
}

/** @param {string[]} names */
function listNames(names) {
  if (names.length <= 1) return names[0] ?? "";
  return `${names.slice(0, -1).join(", ")} and ${names[names.length - 1]}`;
}
