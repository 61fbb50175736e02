// @ts-check
/**
 * Walkthroughs in the page: plays the runs that `Tandem.start()` and `Tandem.resume()`
 * answer with, reports each step's outcome as a `step` message (numbered, kept in the
 * outbox, acknowledged like every data message), and picks the run up again after a
 * full page load: the run id is kept in this tab's sessionStorage until the run ends.
 *
 * Events on `document`: `tandem:walkthrough` ({run, walkthrough, step}) when a run
 * starts playing, `tandem:walkthrough-end` ({run, reason}) when it ends.
 */
import { dispatch } from "./events.js";
import { createPlayer } from "./player/index.js";
import { step as stepMessage } from "./protocol.js";
import { resolve as resolveTarget } from "./resolver/index.js";

/** Where the playing run's id is kept, per tab. */
export const RUN_KEY = "tandem.run";

/** The player's end that needs no report: the last step's `completed` already ended the run. */
const NOT_AN_END = new Set(["completed"]);

/**
 * @typedef {object} RunAnswer a `run` message (docs/protocol.md)
 * @property {string} run
 * @property {string} walkthrough
 * @property {string} status
 * @property {string} step
 * @property {import("./player/types.js").Step[]} steps
 * @property {string} [title]
 * @property {{name?: string, avatar?: string}} [persona]
 */

/**
 * @typedef {object} GuideOptions
 * @property {Document} [doc]
 * @property {import("./player/types.js").Win} [win]
 * @property {{send: (build: (cseq: number) => import("./protocol.js").DataMessage) => unknown}} connection
 * @property {Required<import("./storage.js").StorageLike>} session this tab's sessionStorage (safe)
 * @property {import("./player/types.js").Resolve} [resolve] finds a step's target (default: the resolver)
 * @property {() => number} [now] epoch ms
 * @property {(type: string, detail: object) => void} [emit]
 */

export class Guide {
  /** @param {GuideOptions} options */
  constructor({
    doc = document,
    win = /** @type {import("./player/types.js").Win} */ (window),
    connection,
    session,
    resolve = /** @type {import("./player/types.js").Resolve} */ (/** @type {unknown} */ (resolveTarget)),
    now = () => Date.now(),
    emit = dispatch,
  }) {
    this.connection = connection;
    this.session = session;
    this.now = now;
    this.emit = emit;
    /** @type {string | null} the run playing now */
    this.playing = null;
    this.player = createPlayer({
      doc,
      win,
      resolve,
      onEvent: (event) => this.report(event),
      onEnd: (end) => this.ended(end),
    });
  }

  /** The run this tab was playing before the page loaded, if any. */
  pending() {
    return this.session.getItem(RUN_KEY);
  }

  /**
   * Play a run (a `run` answer). A run that is no longer active is not played.
   * @param {RunAnswer} run
   * @returns {boolean} whether it plays
   */
  play(run) {
    if (run.status !== "active") {
      if (this.pending() === run.run) this.forget();
      return false;
    }
    this.session.setItem(RUN_KEY, run.run);
    this.player.play({ run: run.run, title: run.title, step: run.step, steps: run.steps, persona: run.persona });
    this.playing = run.run;
    this.emit("tandem:walkthrough", { run: run.run, walkthrough: run.walkthrough, step: run.step });
    return true;
  }

  /**
   * Stop playing (the visitor's run is ended with `reason`).
   * @param {string} [reason]
   */
  stop(reason = "stopped") {
    this.player.stop(reason);
  }

  /** The run and step showing now, or null. */
  current() {
    return this.player.current();
  }

  /** The run is gone (unknown to the server): do not try it again. */
  forget() {
    this.session.removeItem(RUN_KEY);
  }

  /** @param {import("./player/types.js").StepEvent} event */
  report(event) {
    const run = this.playing;
    if (!run) return;
    this.connection.send((cseq) => stepMessage({ cseq, at: this.now(), run, ...event }));
  }

  /** @param {import("./player/types.js").EndEvent} end */
  ended({ reason, step }) {
    const run = this.playing;
    this.playing = null;
    if (!run) return;
    if (!NOT_AN_END.has(reason) && step) {
      this.connection.send((cseq) => stepMessage({ cseq, at: this.now(), run, step, event: "abandoned", reason }));
    }
    if (this.pending() === run) this.forget();
    this.emit("tandem:walkthrough-end", { run, reason });
  }
}
