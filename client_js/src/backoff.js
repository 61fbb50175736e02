// @ts-check
/**
 * How long to wait before reconnecting (docs/protocol.md, "Reconnecting"):
 * 0.5 s × 2^attempt, capped at 30 s, drawn between half and all of it
 * ("equal jitter") so that a restarted server is not hit by every client at once;
 * and the timer that holds a connection's next attempt.
 */

export const BASE_DELAY_MS = 500;
export const MAX_DELAY_MS = 30_000;
/** After close 1012 (server restarting) the first wait is at most this. */
export const RESTART_DELAY_MS = 1000;

/**
 * @param {number} attempt 0 for the first retry after a working connection
 * @param {() => number} [random] uniform in [0, 1), e.g. Math.random
 * @param {{restart?: boolean}} [options] restart: the server closed with 1012
 *   (shutting down; another node takes over): wait anywhere up to 1 s
 * @returns {number} milliseconds
 */
export function reconnectDelay(attempt, random = Math.random, { restart = false } = {}) {
  if (restart) return Math.floor(random() * RESTART_DELAY_MS);
  const exponent = Math.min(Math.max(0, Math.floor(attempt)), 16);
  const ceiling = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** exponent);
  return Math.floor(ceiling / 2 + random() * (ceiling / 2));
}

/** @typedef {(fn: () => void, ms: number) => () => void} Schedule run fn after ms; returns a cancel function */

/** @type {Schedule} */
export function setTimer(fn, ms) {
  const timer = setTimeout(fn, ms);
  return () => clearTimeout(timer);
}

/** The one pending reconnect of a connection, and how many attempts failed since the last success. */
export class ReconnectTimer {
  /**
   * @param {() => number} [random]
   * @param {Schedule} [schedule]
   */
  constructor(random = Math.random, schedule = setTimer) {
    this.random = random;
    this.schedule = schedule;
    /** Reconnect attempts since the last success. */
    this.attempt = 0;
    /** @type {(() => void) | null} */
    this.cancelTimer = null;
  }

  /**
   * Replace the pending attempt with one after the next backoff delay.
   * @param {boolean} restart the server is restarting (1012)
   * @param {() => void} fn the attempt
   * @returns {number} the delay in ms
   */
  next(restart, fn) {
    const delay = reconnectDelay(this.attempt, this.random, { restart });
    this.attempt += 1;
    this.cancel();
    this.cancelTimer = this.schedule(() => {
      this.cancelTimer = null;
      fn();
    }, delay);
    return delay;
  }

  /** Drop the pending attempt, if any. */
  cancel() {
    this.cancelTimer?.();
    this.cancelTimer = null;
  }

  /** A connection worked: the next wait starts from the shortest again. */
  reset() {
    this.attempt = 0;
  }
}
