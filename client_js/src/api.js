// @ts-check
/**
 * `window.Tandem`: the one object the host page sees, and the types of what
 * it takes and reports. tandem.js builds it around the tab's connection;
 * tests build it around a connection of theirs.
 */

import { chat as chatMessage, feedback as feedbackMessage, rating as ratingMessage, typing as typingMessage } from "./protocol.js";
import * as requests from "./requests.js";

/** @typedef {import("./connection.js").Connection} Connection */
/** @typedef {import("./config.js").TandemConfig} TandemConfig */

/**
 * `idle`: not connected and not trying (before start, after a normal close, while the page is hidden in the
 * back/forward cache); `connecting`: socket opening; `open`: hello sent, waiting for welcome; `ready`: welcome
 * received; `waiting`: a reconnect is scheduled; `stopped`: the server refused this client for good (1002, 1008).
 * @typedef {"idle" | "connecting" | "open" | "ready" | "waiting" | "stopped"} ConnectionState
 */

/**
 * @typedef {object} ConnectionStatus
 * @property {ConnectionState} state
 * @property {boolean} connected   welcome received on the current socket
 * @property {string} tab
 * @property {string} user         the visitor's id as the server knows it ("" before welcome)
 * @property {string} anonymous    the anonymous id, when the visitor is anonymous
 * @property {boolean} needsIdentity
 * @property {number} pending      unacknowledged data messages
 * @property {number} lastAck      highest cseq the server has stored
 * @property {number} dropped      messages dropped unsent because the outbox was full
 */

/**
 * What the page passes to `Tandem.identify()`: a token the site's backend signed for the user `id`.
 * @typedef {{id: string, token: string, traits?: Record<string, import("./protocol.js").TraitValue>}} TandemIdentity
 */

/**
 * @typedef {object} TandemApi
 * @property {string} version
 * @property {TandemConfig} config
 * @property {(identity: TandemIdentity | null) => Promise<{user: string | null}>} identify
 *   who the visitor is. With an identity: resolves with `{user}` once the server verified the token, and
 *   rejects with the reason when it did not. With `null` (sign-out): forgets the tab's identity and, when
 *   the server knows the tab by it, reconnects so that the tab is anonymous again (or, on a strict site,
 *   waits for an identity); resolves with `{user: null}` once the server has seen the tab without the
 *   identity (at once when it never had it: a cheap no-op when nothing was stored). identify() calls still
 *   waiting then reject with code `signed_out`. `Tandem.status()` tells the anonymous id, if any.
 * @property {() => Readonly<ConnectionStatus>} status
 * @property {(question?: string, options?: {person?: boolean}) => Promise<Record<string, unknown>>} help
 *   ask for help where the visitor is (`{person: true}`: ask for a person, who is sent what Tandem knows);
 *   resolves with the server's `help_answer` (session, offer, persona,
 *   text, walkthrough, title, step, faq), rejects with a `code` (`not_connected`, `identity_required`, …)
 * @property {() => Promise<Record<string, unknown>>} launcher
 *   the walkthroughs that can start here (`walkthroughs`) and a run to continue (`resume`)
 * @property {(walkthrough: string, options?: {session?: string}) => Promise<Record<string, unknown>>} start
 *   start a walkthrough (from a help answer: pass its `session`) and play it; resolves with the `run`
 * @property {(run: string) => Promise<Record<string, unknown>>} resume
 *   continue a run at its current step and play it (tandem.js does this by itself after a page load)
 * @property {() => {run: string | null, step: string, index: number} | null} current
 *   the walkthrough step showing now, or null
 * @property {() => void} stop
 *   end the walkthrough playing (as if the visitor closed it)
 * @property {(event: string) => void} track
 *   the page reports a named event (e.g. "report.exported"): a process whose goal is that event was reached
 * @property {(session: string, helped: boolean) => void} feedback
 *   the visitor's answer to "Did this help?" about a support session (the widget asks it)
 * @property {(session: string, text: string) => void} chat
 *   the visitor writes to the person who took their support session (kept until the server has it)
 * @property {(session: string) => void} typing
 *   the visitor is typing a chat message (news of the moment: dropped when not connected)
 * @property {(session: string, score: number) => void} rate
 *   the visitor rates, 1 to 5, the help a person gave them in a support session they closed
 */

/**
 * What plays runs: the page's Guide (guide.js).
 * @typedef {{play: (run: any) => boolean, forget: () => void, stop: (reason?: string) => void,
 *   current: () => {run: string | null, step: string, index: number} | null, track: (name: string) => void}} RunPlayer
 */

/**
 * @param {{version: string, config: TandemConfig, connection: Connection, settle?: () => void, guide?: RunPlayer | null}} parts
 *   `settle` reports a route change that is still settling, so that requests about the visitor's
 *   place (help, launcher, start) reach the server after the place they are about; `guide` plays runs
 * @returns {TandemApi}
 */
export function createApi({ version, config, connection, settle = () => {}, guide = null }) {
  /** @param {Record<string, unknown>} run */
  const play = (run) => {
    guide?.play(run);
    return run;
  };
  /** @param {(req: number) => import("./requests.js").RequestMessage} build */
  const here = (build) => {
    settle();
    return connection.request(build);
  };
  return Object.freeze({
    version,
    config,
    identify: (identity) => (identity === null ? connection.signOut() : connection.identify(identity)),
    status: () => Object.freeze(connection.status()),
    help: (question = "", options = {}) =>
      here((req) => requests.help({ req, question: String(question), person: options.person === true })),
    launcher: () => here((req) => requests.launcher({ req })),
    start: (walkthrough, options = {}) =>
      here((req) => requests.start({ req, walkthrough: String(walkthrough), session: options.session ?? "" })).then(play),
    resume: (run) =>
      connection.request((req) => requests.resume({ req, run: String(run) })).then(play, (error) => {
        if (error?.code === "unknown_run") guide?.forget();
        throw error;
      }),
    current: () => guide?.current() ?? null,
    stop: () => guide?.stop("closed"),
    track: (event) => guide?.track(String(event)),
    chat: (session, text) => {
      connection.send((cseq) => chatMessage({ cseq, at: Date.now(), session: String(session), text: String(text) }));
    },
    typing: (session) => {
      connection.notify(typingMessage({ session: String(session) }));
    },
    rate: (session, score) => {
      connection.send((cseq) => ratingMessage({ cseq, at: Date.now(), session: String(session), score: Number(score) }));
    },
    feedback: (session, helped) => {
      connection.send((cseq) => feedbackMessage({ cseq, at: Date.now(), session: String(session), helped: Boolean(helped) }));
    },
  });
}
