// @ts-check
/**
 * What the server needs to see frustration (docs/support.md): every click, with what it
 * caused, and every uncaught script error, as `signal` messages.
 *
 * A click is reported once its effect is known: the first DOM change, URL change or
 * network request after it, or nothing within `effectWindow` (1 s). A click that starts
 * a page load is reported at `pagehide` with the time it took.
 *
 * Privacy: only the control's kind and a selector made of its test id or its position in
 * the page (never an id, name, title, text or value, which can hold personal data); inside
 * `[data-tandem-private]`, only the tag. An error is sent as its type and where it was
 * thrown (file, line, column), never its message, which can quote what the visitor typed.
 * Clicks on Tandem's own UI are not the page's and are left out, and so are changes Tandem
 * makes itself. Errors are deduplicated and limited, so a page failing in a loop costs little.
 */

/** How long a click has to cause something before it counts as dead (the server's rule uses the same). */
export const EFFECT_WINDOW_MS = 1000;

const TANDEM_UI = new Set(["tandem-player", "tandem-widget"]);
/** The same error (type and place) is reported once in this long. */
const SAME_ERROR_MS = 10_000;
/** At most this many errors a minute. */
const ERRORS_PER_MINUTE = 20;
const TEXT_TYPES = new Set(["", "text", "email", "password", "search", "tel", "url", "date", "datetime-local", "month", "time", "week"]);

/**
 * What a click landed on, as the frustration rules classify it.
 * @param {Element | null} element
 * @returns {import("./protocol.js").ClickTarget}
 */
export function classifyTarget(element) {
  if (!element) return "other";
  const field = element.closest("input, textarea, select, [contenteditable=''], [contenteditable=true], [role=spinbutton], [role=textbox]");
  if (field) {
    const tag = field.tagName.toLowerCase();
    const type = (field.getAttribute("type") || "").toLowerCase();
    if (field.getAttribute("role") === "spinbutton" || (tag === "input" && (type === "number" || type === "range"))) return "stepper";
    if (tag === "textarea" || tag === "select" || field.hasAttribute("contenteditable") || field.getAttribute("role") === "textbox") return "text_field";
    if (tag === "input" && TEXT_TYPES.has(type)) return "text_field";
  }
  if (element.closest("button, [role=button], input[type=submit], input[type=button], input[type=reset], input[type=checkbox], input[type=radio], summary")) return "button";
  if (element.closest("a[href], [role=link]")) return "link";
  return "other";
}

/**
 * The control a click means: the nearest interactive ancestor, else the element.
 * @param {Element} element
 */
function controlOf(element) {
  return element.closest("button, a[href], input, select, textarea, summary, [role=button], [role=link], [role=spinbutton]") ?? element;
}

/** @param {Node | null} node */
function isTandemUi(node) {
  for (let current = node; current; ) {
    if (current.nodeType === 1 && TANDEM_UI.has(/** @type {Element} */ (current).localName)) return true;
    const parent = /** @type {Node | null} */ (current.parentNode);
    current = parent && parent.nodeType === 11 ? /** @type {ShadowRoot} */ (parent).host : parent;
  }
  return false;
}

/**
 * Whether a mutation is the page's own (not Tandem adding or moving its UI).
 * @param {MutationRecord} record
 */
function isPageChange(record) {
  if (isTandemUi(record.target)) return false;
  if (record.type !== "childList") return true;
  const nodes = [...Array.from(record.addedNodes), ...Array.from(record.removedNodes)];
  return nodes.length === 0 || nodes.some((node) => !(node.nodeType === 1 && TANDEM_UI.has(/** @type {Element} */ (node).localName)));
}

/**
 * @typedef {{at: number, x: number, y: number, target: import("./protocol.js").ClickTarget, selector: string,
 *   effect: number | null, timer: ReturnType<typeof setTimeout> | undefined}} PendingClick
 */

/**
 * @typedef {object} SignalWatcherOptions
 * @property {Window & typeof globalThis} win
 * @property {(build: (cseq: number) => import("./protocol.js").DataMessage) => unknown} send
 * @property {typeof import("./protocol.js").signal} build the `signal` builder
 * @property {() => number} [now] epoch ms
 * @property {number} [effectWindow]
 */

export class SignalWatcher {
  /** @param {SignalWatcherOptions} options */
  constructor({ win, send, build, now = () => Date.now(), effectWindow = EFFECT_WINDOW_MS }) {
    this.win = win;
    this.send = send;
    this.build = build;
    this.now = now;
    this.effectWindow = effectWindow;
    /** @type {PendingClick[]} */
    this.pending = [];
    this.href = win.location.href;
    /** @type {Map<string, number>} when each error was last reported */
    this.errorsSeen = new Map();
    /** @type {number[]} when the errors of the last minute were reported */
    this.errorTimes = [];
    /** @type {MutationObserver | null} */
    this.mutations = null;
    /** @type {PerformanceObserver | null} */
    this.requests = null;
  }

  start() {
    const { win } = this;
    const doc = win.document;
    doc.addEventListener("click", (event) => this.clicked(event), { capture: true, passive: true });
    // Script errors only: a failed image or script load also fires "error" (a plain Event), but it is
    // not the visitor's doing and must not turn the next click into an "error click".
    win.addEventListener("error", (event) => {
      if (event instanceof win.ErrorEvent) this.failed(errorName(event.error, "Error"), placeOf(event));
    });
    win.addEventListener("unhandledrejection", (event) => this.failed(errorName(event.reason, "UnhandledRejection"), ""));
    win.addEventListener("pagehide", () => this.flush("unload"));
    // A route change (pushState, popstate, hashchange) is an effect: checked with the other effects.
    win.addEventListener("popstate", () => this.effect());
    win.addEventListener("hashchange", () => this.effect());
    this.mutations = new win.MutationObserver((records) => {
      if (records.some((r) => isPageChange(r))) this.effect();
    });
    if (typeof win.PerformanceObserver === "function") {
      try {
        this.requests = new win.PerformanceObserver(() => this.effect());
        this.requests.observe({ type: "resource" });
      } catch {
        this.requests = null; // no resource timing here: DOM and URL changes still count
      }
    }
  }

  /** @param {MouseEvent} event */
  clicked(event) {
    const origin = /** @type {Element | null} */ (event.composedPath()[0] ?? null);
    if (!origin || origin.nodeType !== 1 || isTandemUi(origin)) return;
    const control = controlOf(origin);
    /** @type {PendingClick} */
    const click = {
      at: this.now(),
      x: event.clientX,
      y: event.clientY,
      target: classifyTarget(control),
      selector: describe(control),
      effect: null,
      timer: undefined,
    };
    this.pending.push(click);
    this.href = this.win.location.href;
    this.mutations?.observe(this.win.document, { subtree: true, childList: true, attributes: true, characterData: true });
    click.timer = setTimeout(() => this.report(click), this.effectWindow);
  }

  /** Something happened: every click still waiting gets its effect time. */
  effect() {
    const at = this.now();
    for (const click of this.pending) if (click.effect === null) click.effect = at - click.at;
  }

  /** @param {PendingClick} click */
  report(click) {
    clearTimeout(click.timer);
    const index = this.pending.indexOf(click);
    if (index < 0) return;
    this.pending.splice(index, 1);
    if (click.effect === null && this.win.location.href !== this.href) click.effect = this.now() - click.at;
    if (!this.pending.length) this.mutations?.disconnect();
    const { at, x, y, target, selector, effect } = click;
    this.send((cseq) => this.build({ cseq, at, signal: "click", x, y, target, selector, effect_ms: effect }));
  }

  /**
   * The page is going away: report the clicks still waiting (a click that led here caused the page load).
   * @param {"unload"} why
   */
  flush(why) {
    if (why === "unload") this.effect();
    for (const click of [...this.pending]) this.report(click);
  }

  /**
   * @param {string} name the error's type
   * @param {string} place where it was thrown
   */
  failed(name, place) {
    const at = this.now();
    const message = place ? `${name} at ${place}` : name;
    if (at - (this.errorsSeen.get(message) ?? -Infinity) < SAME_ERROR_MS) return;
    this.errorTimes = this.errorTimes.filter((t) => at - t < 60_000);
    if (this.errorTimes.length >= ERRORS_PER_MINUTE) return;
    this.errorsSeen.set(message, at);
    if (this.errorsSeen.size > 100) this.errorsSeen.delete(this.errorsSeen.keys().next().value ?? "");
    this.errorTimes.push(at);
    // Not an effect: a click whose only result is an error is both an error click and a dead one.
    this.send((cseq) => this.build({ cseq, at, signal: "error", message }));
  }
}

/**
 * A selector for evidence that carries no personal data: the control's test id, else its
 * position in its tree (tags and nth-of-type); inside a private region, only its tag.
 * @param {Element} element
 */
export function describe(element) {
  const tag = element.localName;
  if (element.closest("[data-tandem-private]")) return tag;
  const testid = element.getAttribute("data-testid");
  if (testid) return `${tag}[data-testid="${testid.replace(/["\\]/g, "\\$&")}"]`.slice(0, 256);
  const steps = [];
  for (let current = /** @type {Element | null} */ (element); current && steps.length < 8; current = current.parentElement) {
    const name = current.localName;
    const parent = current.parentElement;
    const same = parent ? Array.from(parent.children).filter((c) => c.localName === name) : [current];
    steps.unshift(same.length > 1 ? `${name}:nth-of-type(${same.indexOf(current) + 1})` : name);
  }
  return steps.join(" > ").slice(0, 256);
}

/**
 * An error's type, never its message.
 * @param {unknown} error
 * @param {string} fallback
 */
function errorName(error, fallback) {
  const name = error instanceof Error ? error.name : "";
  return /^[A-Za-z_$][\w$]{0,63}$/.test(name) ? name : fallback;
}

/**
 * Where an error was thrown: the script's path (no query: it may carry tokens), line and column.
 * @param {ErrorEvent} event
 */
function placeOf(event) {
  let file = "";
  try {
    file = event.filename ? new URL(event.filename).pathname : "";
  } catch {
    file = "";
  }
  return file ? `${file}:${event.lineno}:${event.colno}` : "";
}
