// @ts-check
/**
 * What tandem.js holds of co-browsing (docs/cobrowse.md): nothing of it runs on an ordinary
 * page view. The consent questions, the banner and the agents' actions are in their own bundle,
 * `tandem-cobrowse.js`, loaded from the Tandem server the first time the server says an agent
 * asks to see the page (or sees it, or is given control); it is fetched ahead when an agent
 * joins the visitor's support session (`preload`), so the question shows at once.
 *
 * It fails closed: until the bundle runs nothing is recorded (the recorder is loaded by it,
 * only after the visitor agreed), an agent's action is refused as `not_sharing`, and when the
 * bundle cannot be loaded the page answers no to the agents (the visitor could not be asked,
 * nor shown the banner) — the agent sees that the page was not shared.
 */
import { consent, remoteDone } from "../protocol.js";
import { loadBundle } from "./load.js";

/**
 * @typedef {import("./cobrowse.js").CobrowseClient} CobrowseClient
 * @typedef {import("./cobrowse.js").Channel} Channel
 * @typedef {{CobrowseClient: typeof import("./cobrowse.js").CobrowseClient}} CobrowseBundle
 * @typedef {(options: {server: string, file: string, global: string, doc: Document, win: Window}) => Promise<CobrowseBundle>} Load
 */

export class OnDemandCobrowse {
  /**
   * @param {{connection: Channel, server: string, win?: Window & typeof globalThis, doc?: Document,
   *   onError?: (error: unknown) => void, load?: Load}} options
   */
  constructor({ connection, server, win = window, doc = document, onError = () => {}, load = loadBundle }) {
    this.connection = connection;
    this.server = server;
    this.win = win;
    this.doc = doc;
    this.onError = onError;
    this.load = load;
    /** @type {CobrowseClient | null} the visitor's side, once its bundle ran */
    this.client = null;
    /** @type {Promise<CobrowseBundle> | null} the bundle, loading or loaded */
    this.bundle = null;
    /** @type {Record<string, any> | null} where the session stands, for the client once it runs */
    this.latest = null;
    /** whether the client is being started (its bundle loads) */
    this.starting = false;
  }

  /** @param {Record<string, any>} message `cobrowse` or `remote` */
  onMessage(message) {
    if (this.client) return this.client.onMessage(message);
    if (message.kind === "remote") {
      // Nothing is recorded before the bundle runs: no node of the page is known to any agent.
      const refused = remoteDone({ session: String(message.session ?? ""), id: Number(message.id), ok: false, reason: "not_sharing" });
      this.connection.notify(/** @type {any} */ (refused));
      return;
    }
    this.latest = message;
    if (!this.starting && wantsVisitor(message)) this.start();
  }

  /** An agent joined the visitor's support session: fetch the bundle ahead of their question. */
  preload() {
    this.fetch().catch(() => {}); // said when it is needed (start)
  }

  /** @returns {Promise<CobrowseBundle>} */
  fetch() {
    if (!this.bundle) {
      const bundle = this.load({ server: this.server, file: "tandem-cobrowse.js", global: "TandemCobrowse", doc: this.doc, win: this.win });
      this.bundle = bundle;
      bundle.catch(() => {
        if (this.bundle === bundle) this.bundle = null; // tried again when next needed
      });
    }
    return this.bundle;
  }

  start() {
    this.starting = true;
    this.fetch()
      .then((bundle) => {
        const client = new bundle.CobrowseClient({ connection: this.connection, server: this.server, win: this.win, doc: this.doc, onError: this.onError });
        this.client = client;
        const latest = this.latest;
        this.latest = null;
        if (latest) client.onMessage(latest);
      })
      .catch((error) => {
        // Fail closed: the visitor could not be asked nor shown the banner, so the page is not shared.
        const latest = this.latest;
        this.latest = null;
        this.onError(error);
        if (latest && wantsVisitor(latest)) {
          this.connection.notify(/** @type {any} */ (consent({ session: String(latest.session ?? ""), what: "view", granted: false })));
        }
      })
      .finally(() => {
        this.starting = false;
      });
  }
}

/**
 * Whether the session's state needs the visitor's side: a question, a page to share, control given.
 * @param {Record<string, any>} message a `cobrowse` message
 */
export function wantsVisitor(message) {
  return !message.ended && Boolean(message.ask || message.record || message.control);
}
