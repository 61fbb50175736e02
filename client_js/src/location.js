// @ts-check
/**
 * Where the tab is and whether the visitor is looking at it: `location`
 * messages on load and on every SPA route change (pushState, replaceState,
 * popstate, hashchange), `focus` messages when focus or visibility change.
 */
import { focus, location } from "./protocol.js";
import { sanitizeUrl } from "./sanitize.js";

/** @typedef {import("./protocol.js").Nav} Nav */
/** @typedef {import("./protocol.js").DataMessage} DataMessage */

/** How long to let an SPA render after a route change before reading the title and markers. */
export const SETTLE_MS = 150;

/** Which navigation one change seen twice is reported as (a click on `#x` fires popstate, then hashchange). */
const RANK = /** @type {Record<Nav, number>} */ ({ replace: 0, pop: 1, hash: 2, push: 3, load: 4 });

/**
 * The distinct `data-tandem-process` values in a document.
 * @param {Pick<Document, "querySelectorAll">} doc
 * @returns {string[]}
 */
export function readMarkers(doc) {
  const values = new Set();
  for (const node of Array.from(doc.querySelectorAll("[data-tandem-process]"))) {
    const value = (node.getAttribute("data-tandem-process") || "").trim();
    if (value) values.add(value);
  }
  return [...values];
}

/**
 * @typedef {object} LocationTrackerOptions
 * @property {Window} win
 * @property {(build: (cseq: number) => DataMessage) => unknown} send numbers and sends a data message
 * @property {() => number} [now] epoch ms
 * @property {number} [settle] ms to wait after a route change
 * @property {(error: unknown) => void} [onError]
 */

/** Reports the tab's location and focus through `send`. */
export class LocationTracker {
  /** @param {LocationTrackerOptions} options */
  constructor({ win, send, now = () => Date.now(), settle = SETTLE_MS, onError = () => {} }) {
    this.win = win;
    this.doc = win.document;
    this.sendMessage = send;
    this.now = now;
    this.settle = settle;
    this.onError = onError;
    /** @type {{url: string, title: string, referrer: string} | null} */
    this.last = null;
    /** @type {{focused: boolean, visible: boolean} | null} */
    this.lastFocus = null;
    /** @type {{nav: Nav, url: string, at: number} | null} the route change waiting for the page to settle */
    this.pending = null;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.timer = undefined;
  }

  /** Report the page now loaded, and watch for route, focus and visibility changes. */
  start() {
    const { win, doc } = this;
    this.patchHistory();
    win.addEventListener("popstate", () => this.safely(() => this.routeChanged("pop")));
    win.addEventListener("hashchange", () => this.safely(() => this.routeChanged("hash")));
    // Leaving the page: what is still settling goes into the outbox now, or it is lost.
    win.addEventListener("pagehide", () => this.safely(() => this.flush()));
    const focusChanged = () => this.safely(() => this.focusChanged());
    win.addEventListener("focus", focusChanged);
    win.addEventListener("blur", focusChanged);
    doc.addEventListener("visibilitychange", focusChanged);
    this.routeChanged("load");
    this.focusChanged();
  }

  /**
   * After a reconnect the server knows nothing of this tab's place: tell it again.
   */
  resync() {
    if (this.pending === null && this.last) this.report("replace", sanitizeUrl(this.win.location.href), this.now(), true);
    if (this.lastFocus) this.sendFocus(this.lastFocus);
  }

  /**
   * A route change: note the URL now, report it once the page has settled.
   * Every route is reported: a change while another is settling reports that one first.
   * @param {Nav} nav
   */
  routeChanged(nav) {
    const url = sanitizeUrl(this.win.location.href);
    const pending = this.pending;
    if (pending && pending.url === url) {
      // One navigation seen twice (a click on `#x` fires popstate, then hashchange).
      if (RANK[nav] > RANK[pending.nav]) pending.nav = nav;
    } else {
      this.flush();
      this.pending = { nav, url, at: this.now() };
    }
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.safely(() => this.flush()), this.settle);
  }

  /** Report the route change that is settling, now. */
  flush() {
    clearTimeout(this.timer);
    const pending = this.pending;
    this.pending = null;
    if (pending) this.report(pending.nav, pending.url, pending.at, false);
  }

  /**
   * Send a `location`, unless url and title are what was last reported.
   * @param {Nav} nav
   * @param {string} url sanitized
   * @param {number} at when the route changed (epoch ms)
   * @param {boolean} force
   */
  report(nav, url, at, force) {
    if (!url) return; // about:blank and the like
    const title = this.doc.title || "";
    const last = this.last;
    if (!force && last && last.url === url && last.title === title) return;
    let referrer;
    if (!last) referrer = sanitizeUrl(this.doc.referrer || "");
    else referrer = last.url === url ? last.referrer : last.url;
    const markers = readMarkers(this.doc);
    this.last = { url, title, referrer };
    this.sendMessage((cseq) => location({ cseq, at, url, title, nav, markers, referrer }));
  }

  /** Focus or visibility may have changed; read it once the change has settled. */
  focusChanged() {
    // Focus moving into an iframe blurs the window first; reading later sees where it went.
    setTimeout(() => {
      this.safely(() => {
        const state = { focused: this.doc.hasFocus(), visible: this.doc.visibilityState === "visible" };
        const last = this.lastFocus;
        if (last && last.focused === state.focused && last.visible === state.visible) return;
        this.lastFocus = state;
        this.sendFocus(state);
      });
    }, 0);
  }

  /** @param {{focused: boolean, visible: boolean}} state */
  sendFocus({ focused, visible }) {
    const at = this.now();
    this.sendMessage((cseq) => focus({ cseq, at, focused, visible }));
  }

  /** Call the page's pushState/replaceState first, then note the route change. */
  patchHistory() {
    const history = this.win.history;
    const push = history.pushState;
    const replace = history.replaceState;
    const tracker = this;
    history.pushState = function pushState(data, unused, url) {
      push.call(this, data, unused, url);
      tracker.safely(() => tracker.routeChanged("push"));
    };
    history.replaceState = function replaceState(data, unused, url) {
      replace.call(this, data, unused, url);
      tracker.safely(() => tracker.routeChanged("replace"));
    };
  }

  /** @param {() => void} fn */
  safely(fn) {
    try {
      fn();
    } catch (error) {
      this.onError(error);
    }
  }
}
