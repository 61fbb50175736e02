// @ts-check
/**
 * Requests the page makes through Tandem and the server answers: what can start
 * here (`launcher` → `offers`), start or resume a walkthrough (`start`/`resume`
 * → `run`), ask for help (`help` → `help_answer`). Each carries a `req` number;
 * the answer, or an `error` with the same `req`, settles it (docs/protocol.md).
 */

/** @typedef {{kind: "launcher", req: number}} LauncherMessage */
/** @typedef {{kind: "start", req: number, walkthrough: string, session?: string}} StartMessage */
/** @typedef {{kind: "resume", req: number, run: string}} ResumeMessage */
/** @typedef {{kind: "help", req: number, question?: string, person?: boolean}} HelpMessage */
/** @typedef {LauncherMessage | StartMessage | ResumeMessage | HelpMessage} RequestMessage */

/** @param {{req: number}} fields @returns {LauncherMessage} */
export function launcher({ req }) {
  return { kind: "launcher", req };
}

/** @param {{req: number, walkthrough: string, session?: string}} fields @returns {StartMessage} */
export function start({ req, walkthrough, session = "" }) {
  /** @type {StartMessage} */
  const message = { kind: "start", req, walkthrough };
  if (session) message.session = session;
  return message;
}

/** @param {{req: number, run: string}} fields @returns {ResumeMessage} */
export function resume({ req, run }) {
  return { kind: "resume", req, run };
}

/** @param {{req: number, question?: string, person?: boolean}} fields @returns {HelpMessage} */
export function help({ req, question = "", person = false }) {
  /** @type {HelpMessage} */
  const message = { kind: "help", req };
  if (question) message.question = question.slice(0, 500);
  if (person) message.person = true;
  return message;
}

/**
 * @typedef {object} Pending
 * @property {(value: Record<string, unknown>) => void} resolve
 * @property {(error: Error) => void} reject
 * @property {unknown} timer
 */

/** Requests waiting for their answer, by `req`. */
export class Requests {
  /**
   * @param {{timeoutMs?: number, setTimer?: (fn: () => void, ms: number) => unknown,
   *   clearTimer?: (timer: unknown) => void}} [options]
   */
  constructor({ timeoutMs = 15_000, setTimer = (fn, ms) => setTimeout(fn, ms), clearTimer = (t) => clearTimeout(/** @type {any} */ (t)) } = {}) {
    this.timeoutMs = timeoutMs;
    this.setTimer = setTimer;
    this.clearTimer = clearTimer;
    this.last = 0;
    /** @type {Map<number, Pending>} */
    this.pending = new Map();
    /** @type {Set<number>} requests given up on (timed out, disconnected): their late answers are not news */
    this.abandoned = new Set();
  }

  /**
   * Whether `req` names a request of this page that is no longer waiting.
   * @param {number} req
   */
  wasAsked(req) {
    return this.abandoned.has(req);
  }

  /** A new request number and the promise its answer settles. */
  open() {
    const req = (this.last = (this.last % 2_000_000_000) + 1);
    /** @type {Promise<Record<string, unknown>>} */
    const answer = new Promise((resolve, reject) => {
      const timer = this.setTimer(() => this.fail(req, requestError("timeout", "Tandem: no answer from the server")), this.timeoutMs);
      this.pending.set(req, { resolve, reject, timer });
    });
    return { req, answer };
  }

  /** @param {number} req @param {Record<string, unknown>} message @returns {boolean} whether a request was waiting */
  settle(req, message) {
    const pending = this.take(req);
    pending?.resolve(message);
    return pending !== undefined;
  }

  /** @param {number} req @param {Error} error */
  fail(req, error) {
    const pending = this.take(req);
    if (!pending) return;
    this.abandoned.add(req);
    if (this.abandoned.size > 100) this.abandoned.delete(this.abandoned.values().next().value ?? 0);
    pending.reject(error);
  }

  /** Every waiting request fails (the connection closed: its answers will not come). @param {Error} error */
  failAll(error) {
    for (const req of [...this.pending.keys()]) this.fail(req, error);
  }

  /** @param {number} req */
  take(req) {
    const pending = this.pending.get(req);
    if (pending === undefined) return undefined;
    this.pending.delete(req);
    this.clearTimer(pending.timer);
    return pending;
  }
}

/**
 * An Error with the code the server (or the client) gave.
 * @param {string} code @param {string} message
 */
export function requestError(code, message) {
  return Object.assign(new Error(message), { code });
}
