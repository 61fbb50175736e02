// @ts-check
/**
 * The visitor's side of a co-browse session (docs/cobrowse.md), in its own bundle
 * (`tandem-cobrowse.js`, loaded by on-demand.js once an agent asks). The server says where the
 * session stands (`cobrowse`): who watches, what is asked, whether to record. This shows
 * the banner and the questions, loads the recorder only when the visitor agreed (or the
 * site does not ask first), streams its batches, and performs the agents' actions
 * (`remote`) only while the visitor lets them — a trusted Esc anywhere takes control back.
 */
import { consent, mirror, remoteDone } from "../protocol.js";
import { loadBundle } from "./load.js";
import { perform, refusal } from "./remote.js";
import { createCobrowseUi } from "./ui.js";

/**
 * @typedef {import("./recorder.js").Recording} Recording
 * @typedef {import("./recorder.js").Batch} Batch
 * @typedef {{stream: (message: Record<string, unknown> & {kind: string}) => boolean,
 *   notify: (message: Record<string, unknown> & {kind: string}) => boolean}} Channel
 */

export class CobrowseClient {
  /**
   * @param {{connection: Channel, server: string, win?: Window & typeof globalThis, doc?: Document,
   *   onError?: (error: unknown) => void}} options
   */
  constructor({ connection, server, win = window, doc = document, onError = () => {} }) {
    this.connection = connection;
    this.server = server;
    this.win = win;
    this.doc = doc;
    this.onError = onError;
    this.ui = createCobrowseUi({ doc, win });
    this.session = "";
    /** the name of the agent who may click and type, or "" */
    this.control = "";
    /** @type {Recording | null} */
    this.recording = null;
    /** @type {Promise<void> | null} */
    this.starting = null;
    /** a batch could not be sent: the next instruction to record starts with a fresh snapshot */
    this.lost = false;
    /** @type {string} the question shown (what and who asks), if any */
    this.asking = "";
    /** whether the recorder should run (a load finishing after a stop must not start it) */
    this.wanted = false;
    /** when loading the recorder last failed (it is not tried again for a minute) */
    this.failedAt = -Infinity;
    /**
     * What the visitor took back and the server may not know yet (their answer could not be
     * sent, or crossed the server's news): until the server agrees, it is sent again and the
     * server's word does not restart what the visitor stopped.
     */
    this.refused = { view: false, control: false };
    win.addEventListener("keydown", (event) => this.onKey(event), true);
  }

  /** @param {Record<string, any>} message `cobrowse` or `remote` */
  onMessage(message) {
    if (message.kind === "remote") this.onRemote(message);
    else this.update(message);
  }

  /** @param {Record<string, any>} m */
  update(m) {
    this.session = String(m.session ?? "");
    if (m.ended) {
      this.stopRecording();
      this.control = "";
      this.asking = "";
      this.ui.closeQuestion();
      this.ui.showBanner(null, this.actions());
      return;
    }
    if (!m.record) this.refused.view = false; // the server agrees: the page is not shared
    if (!m.control) this.refused.control = false;
    if (this.refused.view && m.record) {
      this.send_consent("view", false);
      return;
    }
    if (this.refused.control && m.control) this.send_consent("control", false);
    this.control = typeof m.control === "string" && !this.refused.control ? m.control : "";
    this.askIfNeeded(String(m.ask ?? ""), String(m.asker ?? "") || "Someone", Number(m.answer_within_ms) || 0);
    if (m.record) {
      this.ensureRecording(Boolean(m.snapshot));
      this.ui.showBanner({ agents: Array.isArray(m.agents) ? m.agents.map(String) : [], control: this.control }, this.actions());
    } else {
      this.stopRecording();
      this.ui.showBanner(null, this.actions());
    }
  }

  actions() {
    return {
      onStop: () => this.answer("view", false),
      onTakeBack: () => this.takeBack(),
    };
  }

  /**
   * @param {string} ask
   * @param {string} asker
   * @param {number} withinMs
   */
  askIfNeeded(ask, asker, withinMs) {
    const key = ask ? `${ask}:${asker}` : "";
    if (key === this.asking) return;
    this.asking = key;
    if (ask === "view") {
      this.ui.ask(
        { title: "Share this page with support?", yes: "Share this page", no: "Not now", withinMs,
          text: `${asker} from support would like to see this page to help you. They will not see what you type, passwords or card numbers, and you can stop at any time.` },
        (yes) => this.answer("view", yes),
      ); // prettier-ignore
    } else if (ask === "control") {
      this.ui.ask(
        { title: "Let support click and type for you?", yes: "Allow", no: "Don't allow", withinMs,
          text: `${asker} would like to click and type on this page for you. Press Esc at any time to take back control.` },
        (yes) => this.answer("control", yes),
      ); // prettier-ignore
    } else {
      this.ui.closeQuestion();
    }
  }

  /**
   * @param {"view" | "control"} what
   * @param {boolean} granted
   */
  answer(what, granted) {
    this.asking = "";
    if (!granted && what === "view") {
      this.refused.view = true;
      this.stopRecording();
      this.ui.showBanner(null, this.actions());
    }
    if (!granted && what === "control") this.refused.control = true;
    if (!granted && what === "control") this.control = "";
    if (granted) this.refused[what] = false;
    this.send_consent(what, granted);
  }

  takeBack() {
    this.answer("control", false);
  }

  /**
   * @param {"view" | "control"} what
   * @param {boolean} granted
   */
  send_consent(what, granted) {
    this.connection.notify(/** @type {any} */ (consent({ session: this.session, what, granted })));
  }

  /** @param {KeyboardEvent} event */
  onKey(event) {
    if (event.key !== "Escape" || !event.isTrusted || !this.control) return;
    this.takeBack();
  }

  // --- the recorder -----------------------------------------------------------------------

  /** @param {boolean} fresh the server asks for a new full snapshot */
  ensureRecording(fresh) {
    this.wanted = true;
    if (this.recording) {
      if (fresh || this.lost) {
        this.lost = false;
        this.recording.snapshot();
      }
      return;
    }
    if (this.starting || performance.now() - this.failedAt < 60_000) return;
    this.starting = loadRecorder(this.server, this.doc, this.win)
      .then((mirrorApi) => {
        if (!this.wanted || this.recording) return; // stopped while it loaded
        this.lost = false;
        this.recording = mirrorApi.startRecording({
          win: this.win,
          onBatch: (batch) => this.send(batch),
          onError: this.onError,
        });
      })
      .catch((error) => {
        this.failedAt = performance.now();
        this.onError(error);
      })
      .finally(() => {
        this.starting = null;
      });
  }

  /** @param {Batch} batch */
  send(batch) {
    if (!this.session) return;
    try {
      const sent = this.connection.stream(/** @type {any} */ (mirror({ session: this.session, ...batch })));
      if (!sent) this.lost = true;
    } catch (error) {
      this.lost = true; // too large to send (a huge page): the agents keep waiting for a snapshot
      this.onError(error);
    }
  }

  stopRecording() {
    this.wanted = false;
    this.recording?.stop();
    this.recording = null;
    this.lost = false;
  }

  // --- the agents' actions ------------------------------------------------------------------

  /** @param {Record<string, any>} m */
  onRemote(m) {
    const action = {
      id: Number(m.id), action: m.action, node: Number(m.node), page: Number(m.page), x: Number(m.x ?? 0.5),
      y: Number(m.y ?? 0.5), value: String(m.value ?? ""), name: String(m.name ?? ""),
    }; // prettier-ignore
    const recording = this.recording;
    const node = recording ? recording.node(action.node) : null;
    const why = recording
      ? refusal(action, node, { page: recording.page(), control: Boolean(this.control) })
      : "not_sharing";
    if (!why) {
      try {
        const element = /** @type {Element} */ (node?.nodeType === 1 ? node : node?.parentElement);
        perform(action, element, this.win);
      } catch (error) {
        this.onError(error);
        this.done(action.id, false, "failed");
        return;
      }
    }
    this.done(action.id, !why, why ?? "");
  }

  /**
   * @param {number} id
   * @param {boolean} ok
   * @param {string} reason
   */
  done(id, ok, reason) {
    this.connection.notify(/** @type {any} */ (remoteDone({ session: this.session, id, ok, reason })));
  }
}

/**
 * Load `tandem-mirror.js` from the Tandem server (once).
 * @param {string} server
 * @param {Document} doc
 * @param {Window} win
 * @returns {Promise<{startRecording: typeof import("./recorder.js").startRecording}>}
 */
export function loadRecorder(server, doc, win) {
  return loadBundle({ server, file: "tandem-mirror.js", global: "TandemMirror", doc, win });
}
