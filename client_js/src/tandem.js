// @ts-check
/**
 * Tandem's browser client. A site adds one script tag; this defines
 * `window.Tandem`, the one public API object, and announces itself with the
 * `tandem:ready` event on `document` (all events are namespaced `tandem:*`:
 * ready, connected, disconnected, identified, error).
 *
 * It never breaks the host page: whatever fails is logged and reported as a
 * `tandem:error` event.
 */
import { createApi } from "./api.js";
import { OnDemandCobrowse } from "./cobrowse/on-demand.js";
import { findScriptTag, readConfig } from "./config.js";
import { Connection } from "./connection.js";
import { dispatch, reportError } from "./events.js";
import { Guide } from "./guide.js";
import { LocationTracker } from "./location.js";
import { Outbox } from "./outbox.js";
import { signal } from "./protocol.js";
import { SignalWatcher } from "./signals.js";
import { safeStorage } from "./storage.js";
import { createWidget } from "./widget/widget.js";

/** @type {string} */
// @ts-ignore -- replaced at build time by esbuild's `define`
const VERSION = typeof __TANDEM_VERSION__ === "string" ? __TANDEM_VERSION__ : "dev";

/** @typedef {import("./api.js").TandemApi} TandemApi */

function start() {
  const w = /** @type {Window & {Tandem?: TandemApi}} */ (window);
  if (w.Tandem) return; // loaded twice: keep the first
  const config = Object.freeze(readConfig(findScriptTag(document)));
  const session = safeStorage(() => w.sessionStorage);
  const local = safeStorage(() => w.localStorage);
  const outbox = new Outbox(session);
  /** @type {LocationTracker | null} */
  let tracker = null;
  /** @type {TandemApi | null} */
  let api = null;
  /** @type {OnDemandCobrowse | null} */
  let cobrowse = null;
  const connection = new Connection({
    site: config.site,
    socketUrl: config.socketUrl,
    client: VERSION,
    outbox,
    session,
    local,
    onRun: (run) => guide.play(/** @type {any} */ (run)),
    onCobrowse: (message) => cobrowse?.onMessage(message),
    onWelcome: (first) => {
      if (!first) tracker?.resync();
      // A walkthrough was playing when the page loaded (a link, a reload): go on with it.
      const pending = first ? guide.pending() : null;
      if (pending && api) api.resume(pending).catch((error) => reportError(error));
      // An author's preview link (the console's "Preview"): start the walkthrough it names.
      const preview = first && !pending ? previewed(w) : null;
      if (preview && api) api.start(preview).catch((error) => reportError(error));
    },
  });
  tracker = new LocationTracker({ win: w, send: (build) => connection.send(build), onError: (error) => reportError(error) });
  const guide = new Guide({ connection, session });
  cobrowse = new OnDemandCobrowse({ connection, server: config.server, onError: (error) => reportError(error) });
  // An agent joined the visitor's support session: their co-browse question may follow.
  document.addEventListener("tandem:help", (event) => {
    if (/** @type {CustomEvent} */ (event).detail?.channel === "live_agent") cobrowse?.preload();
  });

  api = createApi({ version: VERSION, config, connection, settle: () => tracker?.flush(), guide });
  Object.defineProperty(w, "Tandem", { value: api, writable: false, configurable: false });

  connection.start();
  tracker.start();
  new SignalWatcher({ win: window, send: (build) => connection.send(build), build: signal }).start();
  if (config.widget) createWidget({ api, onError: (error) => reportError(error) });
  // An open WebSocket keeps a page out of the back/forward cache: close it while the page is hidden there.
  w.addEventListener("pagehide", (event) => {
    if (event.persisted) connection.pause();
  });
  w.addEventListener("pageshow", (event) => {
    if (event.persisted) connection.start();
  });
  dispatch("tandem:ready", { version: VERSION, site: config.site });
}

/**
 * The walkthrough a preview link starts (`#tandem-start=ID`), taken off the URL so a reload
 * does not start it again.
 * @param {Window} w
 * @returns {string | null}
 */
export function previewed(w) {
  const found = /(?:^#|&)tandem-start=([a-z0-9][a-z0-9-]{0,62})(?=&|$)/.exec(w.location.hash);
  if (!found) return null;
  const rest = w.location.hash.slice(1).split("&").filter((part) => !part.startsWith("tandem-start=")).join("&");
  w.history.replaceState(w.history.state, "", `${w.location.pathname}${w.location.search}${rest ? `#${rest}` : ""}`);
  return found[1];
}

try {
  start();
} catch (error) {
  // Never break the host page: report and stay inert.
  reportError(error);
}
