// @ts-check
/**
 * Walkthroughs in the page: plays the runs that `Tandem.start()` and `Tandem.resume()`
 * answer with, reports each step's outcome as a `step` message (numbered, kept in the
 * outbox, acknowledged like every data message), and picks the run up again after a
 * full page load: the run id is kept in this tab's sessionStorage until the run ends.
 *
 * Events on `document`: `tandem:walkthrough` ({run, walkthrough, step}) when a run
 * starts playing, `tandem:walkthrough-end` ({run, reason, session}) when it ends.
 *
 * The process's goal: while a run plays and for `GOAL_WATCH_MS` after it completed, the
 * guide watches for the goal element (or the goal event the page reports with
 * `Tandem.track`) and says once, with a `goal` message, that the page showed it.
 */
import { dispatch } from "./events.js";
import { createPlayer } from "./player/index.js";
import { deepQuery, isShown } from "./player/dom.js";
import { goal as goalMessage, step as stepMessage } from "./protocol.js";
import { resolve as resolveTarget } from "./resolver/index.js";

/** Where the playing run's id is kept, per tab. */
export const RUN_KEY = "tandem.run";

/** How long after a run completed its goal may still show (a form that answers a moment later). */
export const GOAL_WATCH_MS = 10_000;

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
 * @property {string} [session] the support session that offered it
 * @property {{process?: string, element?: string, event?: string}} [goal] the process's goal
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
 * @property {(fn: () => void, ms: number) => unknown} [later] schedules (default: setTimeout)
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
    later = (fn, ms) => setTimeout(fn, ms),
  }) {
    this.later = later;
    this.connection = connection;
    this.session = session;
    this.now = now;
    this.emit = emit;
    /** @type {string | null} the run playing now */
    this.playing = null;
    this.doc = doc;
    this.win = win;
    /** @type {{run: string, session: string, process: string, element: string, event: string, seen: boolean} | null} */
    this.goal = null;
    /** @type {(() => void) | null} */
    this.unwatchGoal = null;
    /** the support session of the run playing (or last played) */
    this.sessionOf = "";
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
    this.sessionOf = run.session ?? "";
    this.watchGoal(run);
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
    if (reason === "completed") {
      this.checkGoal();
      // Still watched for a while; a run started since has a goal of its own, left alone.
      this.later(() => this.goal?.run === run && this.stopGoal(), GOAL_WATCH_MS);
    } else {
      this.stopGoal();
    }
    this.emit("tandem:walkthrough-end", { run, reason, session: this.sessionOf ?? "" });
  }

  /**
   * The page reports a named event (`Tandem.track`): the goal, when it is the goal of the run.
   * @param {string} name
   */
  track(name) {
    const goal = this.goal;
    if (goal && !goal.seen && goal.event && goal.event === name) this.goalSeen("event", name);
  }

  /** @param {RunAnswer} run */
  watchGoal(run) {
    this.stopGoal();
    const wanted = run.goal ?? {};
    if (!wanted.process || (!wanted.element && !wanted.event)) return;
    this.goal = { run: run.run, session: run.session ?? "", process: wanted.process, element: wanted.element ?? "", event: wanted.event ?? "", seen: false };
    if (!this.goal.element || typeof this.win.MutationObserver !== "function") return;
    const observer = new this.win.MutationObserver(() => this.checkGoal());
    observer.observe(this.doc, { subtree: true, childList: true, attributes: true });
    this.unwatchGoal = () => observer.disconnect();
    this.checkGoal();
  }

  checkGoal() {
    const goal = this.goal;
    if (goal && !goal.seen && goal.element && isShown(deepQuery(this.doc, goal.element))) this.goalSeen("element", goal.element);
  }

  /**
   * @param {"element" | "event"} how
   * @param {string} detail
   */
  goalSeen(how, detail) {
    const goal = this.goal;
    if (!goal) return;
    goal.seen = true;
    this.connection.send((cseq) => goalMessage({ cseq, at: this.now(), run: goal.run, process: goal.process, how, detail }));
    this.stopGoal(false);
  }

  /** @param {boolean} [forget] false: keep what was seen (so it is not sent twice) */
  stopGoal(forget = true) {
    this.unwatchGoal?.();
    this.unwatchGoal = null;
    if (forget) this.goal = null;
  }
}
