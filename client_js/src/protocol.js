// @ts-check
/**
 * The wire protocol (docs/protocol.md): message builders, msgpack encoding and
 * size limits. The builders mirror server/protocol/messages.py exactly: keys in
 * the order of the Python struct fields (`kind` first), and a field equal to
 * its default is left out, so both sides produce the same bytes (checked by
 * tests/golden/protocol_vectors.json).
 *
 * Pure: no DOM, no I/O.
 */
import { Decoder, Encoder } from "@msgpack/msgpack";

/** The protocol version this client speaks. */
export const PROTOCOL_VERSION = 1;

const KiB = 1024;

/** Largest encoded size of each client message kind, in bytes (as in messages.py). */
export const SIZE_LIMITS = Object.freeze({
  hello: 8 * KiB,
  identify: 8 * KiB,
  location: 16 * KiB,
  focus: 256,
  chunk: 65 * KiB,
  launcher: 64,
  start: 256,
  resume: 256,
  step: 1 * KiB,
  signal: 1 * KiB,
  goal: 512,
  feedback: 256,
  rating: 256,
  chat: 9 * KiB,
  typing: 128,
  help: 1 * KiB,
  mirror: 64 * KiB,
  consent: 256,
  remote_done: 256,
});

/** The largest message the server puts back together from chunks (as in messages.py). */
export const MAX_ASSEMBLED = 8 * 1024 * KiB;

/** Field limits of the server's schemas (in characters / entries). */
export const LIMITS = Object.freeze({
  url: 4096,
  title: 512,
  referrer: 4096,
  markers: 16,
  user: 128,
  token: 4 * KiB,
  traits: 64,
  client: 32,
  chunkParts: 512,
});

/** A site key, a process marker: `^[a-z0-9][a-z0-9-]{0,62}$`. */
export const SLUG = /^[a-z0-9][a-z0-9-]{0,62}$/;
/** A tab id: 8–64 of `A-Za-z0-9_-`. */
export const TAB_ID = /^[A-Za-z0-9_-]{8,64}$/;
/** An anonymous id issued by the server. */
export const ANON_ID = /^anon-[A-Za-z0-9_-]{16,64}$/;
const CHUNK_ID = /^[A-Za-z0-9_-]{1,32}$/;

/** @typedef {"load" | "push" | "replace" | "pop" | "hash"} Nav */
/** @typedef {string | number | boolean | null} TraitValue */
/** @typedef {{user: string, token: string}} TokenIdentity */
/** @typedef {{anon: string, sig: string}} AnonymousIdentity */

/**
 * @typedef {object} HelloMessage
 * @property {"hello"} kind
 * @property {number} v
 * @property {string} site
 * @property {string} tab
 * @property {string} [client]
 * @property {TokenIdentity} [identity]
 * @property {AnonymousIdentity} [anonymous]
 */
/**
 * @typedef {object} IdentifyMessage
 * @property {"identify"} kind
 * @property {string} user
 * @property {string} token
 * @property {Record<string, TraitValue>} [traits]
 */
/**
 * @typedef {object} LocationMessage
 * @property {"location"} kind
 * @property {number} cseq
 * @property {number} at
 * @property {string} url
 * @property {string} [title]
 * @property {Nav} [nav]
 * @property {string[]} [markers]
 * @property {string} [referrer]
 */
/**
 * @typedef {object} FocusMessage
 * @property {"focus"} kind
 * @property {number} cseq
 * @property {number} at
 * @property {boolean} focused
 * @property {boolean} visible
 */
/**
 * @typedef {object} ChunkMessage
 * @property {"chunk"} kind
 * @property {string} id
 * @property {number} index
 * @property {number} total
 * @property {Uint8Array} data
 */
/**
 * @typedef {"shown" | "completed" | "skipped" | "failed" | "reversed" | "abandoned"} StepEventKind
 * @typedef {object} StepMessage
 * @property {"step"} kind
 * @property {number} cseq
 * @property {number} at
 * @property {string} run
 * @property {string} step
 * @property {StepEventKind} event
 * @property {string} [reason]
 * @property {string} [strategy]
 * @property {number} [similarity]
 * @property {string} [goto]
 */
/**
 * @typedef {"button" | "link" | "text_field" | "stepper" | "other"} ClickTarget
 * @typedef {object} SignalMessage
 * @property {"signal"} kind
 * @property {number} cseq
 * @property {number} at
 * @property {"click" | "error"} signal
 * @property {number} [x]
 * @property {number} [y]
 * @property {ClickTarget} [target]
 * @property {string} [selector]
 * @property {number} [effect_ms]
 * @property {string} [message]
 */
/**
 * @typedef {object} GoalMessage
 * @property {"goal"} kind
 * @property {number} cseq
 * @property {number} at
 * @property {string} run
 * @property {string} process
 * @property {"element" | "event"} how
 * @property {string} [detail]
 */
/**
 * @typedef {object} FeedbackMessage
 * @property {"feedback"} kind
 * @property {number} cseq
 * @property {number} at
 * @property {string} session
 * @property {boolean} helped
 */
/**
 * @typedef {object} RatingMessage
 * @property {"rating"} kind
 * @property {number} cseq
 * @property {number} at
 * @property {string} session
 * @property {number} score
 */
/**
 * @typedef {object} ChatMessage
 * @property {"chat"} kind
 * @property {number} cseq
 * @property {number} at
 * @property {string} session
 * @property {string} text
 */
/** @typedef {LocationMessage | FocusMessage | StepMessage | SignalMessage | GoalMessage | FeedbackMessage | RatingMessage | ChatMessage} DataMessage numbered, stored, acknowledged */
/** @typedef {HelloMessage | IdentifyMessage | DataMessage | ChunkMessage} ClientMessage */

/** The kinds of data message: numbered, kept in the outbox (across page loads) until acknowledged. */
export const DATA_KINDS = new Set(["location", "focus", "step", "signal", "goal", "feedback", "rating", "chat"]);

/** A message over its kind's size limit: it is never sent (the server would close with 1009). */
export class MessageTooLarge extends Error {
  /** @param {string} kind @param {number} size @param {number} limit */
  constructor(kind, size, limit) {
    super(`Tandem: ${kind} message of ${size} bytes exceeds its limit of ${limit}`);
    this.name = "MessageTooLarge";
    this.kind = kind;
    this.size = size;
    this.limit = limit;
  }
}

// --- builders ---------------------------------------------------------------------

/**
 * `hello`: the first message of every connection.
 * @param {{site: string, tab: string, v?: number, client?: string,
 *   identity?: TokenIdentity | null, anonymous?: AnonymousIdentity | null}} fields
 * @returns {HelloMessage}
 */
export function hello({ site, tab, v = PROTOCOL_VERSION, client = "", identity = null, anonymous = null }) {
  /** @type {HelloMessage} */
  const message = { kind: "hello", v, site, tab };
  if (client !== "") message.client = truncate(client, LIMITS.client);
  if (identity) message.identity = { user: identity.user, token: identity.token };
  if (anonymous) message.anonymous = { anon: anonymous.anon, sig: anonymous.sig };
  return message;
}

/**
 * `identify`: who the visitor is, vouched for by the site's signed token.
 * @param {{user: string, token: string, traits?: Record<string, TraitValue>}} fields
 * @returns {IdentifyMessage}
 */
export function identify({ user, token, traits = {} }) {
  /** @type {IdentifyMessage} */
  const message = { kind: "identify", user, token };
  if (Object.keys(traits).length > 0) message.traits = { ...traits };
  return message;
}

/**
 * `location`: where the tab is. Long url/title/referrer are cut to the
 * server's limits and markers are reduced to valid, distinct slugs (at most
 * 16), so the message always passes the server's schema.
 * @param {{cseq: number, at: number, url: string, title?: string, nav?: Nav,
 *   markers?: readonly string[], referrer?: string}} fields
 * @returns {LocationMessage}
 */
export function location({ cseq, at, url, title = "", nav = "load", markers = [], referrer = "" }) {
  if (!url) throw new TypeError("Tandem: a location needs a url");
  /** @type {LocationMessage} */
  const message = { kind: "location", cseq, at, url: truncateUrl(url, LIMITS.url) };
  if (title !== "") message.title = truncate(title, LIMITS.title);
  if (nav !== "load") message.nav = nav;
  const valid = [...new Set(markers)].filter((m) => SLUG.test(m)).slice(0, LIMITS.markers);
  if (valid.length > 0) message.markers = valid;
  if (referrer !== "") message.referrer = truncateUrl(referrer, LIMITS.referrer);
  return message;
}

/**
 * `focus`: the tab gained or lost focus, or became visible or hidden.
 * @param {{cseq: number, at: number, focused: boolean, visible: boolean}} fields
 * @returns {FocusMessage}
 */
export function focus({ cseq, at, focused, visible }) {
  return { kind: "focus", cseq, at, focused, visible };
}

/**
 * `step`: what happened to a step of a walkthrough run (the player reports it).
 * @param {{cseq: number, at: number, run: string, step: string, event: StepEventKind,
 *   reason?: string, strategy?: string, similarity?: number | null, goto?: string | null}} fields
 * @returns {StepMessage}
 */
export function step({ cseq, at, run, step, event, reason = "", strategy = "", similarity = null, goto = null }) {
  /** @type {StepMessage} */
  const message = { kind: "step", cseq, at, run, step, event };
  if (reason !== "") message.reason = truncate(reason, 64);
  if (strategy !== "") message.strategy = truncate(strategy, 32);
  if (typeof similarity === "number" && Number.isFinite(similarity)) message.similarity = Math.min(Math.max(similarity, 0), 1);
  if (goto) message.goto = goto;
  return message;
}

/**
 * `signal`: a click (with what it caused) or an uncaught error, for frustration signals.
 * @param {{cseq: number, at: number, signal: "click" | "error", x?: number, y?: number, target?: ClickTarget,
 *   selector?: string, effect_ms?: number | null, message?: string}} fields
 * @returns {SignalMessage}
 */
export function signal({ cseq, at, signal, x = 0, y = 0, target = "other", selector = "", effect_ms = null, message = "" }) {
  /** @type {SignalMessage} */
  const out = { kind: "signal", cseq, at, signal };
  const px = (/** @type {number} */ v) => (Number.isFinite(v) ? Math.max(-1e6, Math.min(1e6, Math.round(v))) : 0);
  if (px(x) !== 0) out.x = px(x);
  if (px(y) !== 0) out.y = px(y);
  if (target !== "other") out.target = target;
  if (selector !== "") out.selector = truncate(selector, 256);
  if (typeof effect_ms === "number" && effect_ms >= 0) out.effect_ms = Math.round(effect_ms);
  if (message !== "") out.message = truncate(message, 300);
  return out;
}

/**
 * `goal`: the page shows the process's goal (its element, or the site's goal event).
 * @param {{cseq: number, at: number, run: string, process: string, how: "element" | "event", detail?: string}} fields
 * @returns {GoalMessage}
 */
export function goal({ cseq, at, run, process, how, detail = "" }) {
  /** @type {GoalMessage} */
  const message = { kind: "goal", cseq, at, run, process, how };
  if (detail !== "") message.detail = truncate(detail, 256);
  return message;
}

/**
 * `feedback`: "Did this help?" answered, about one support session.
 * @param {{cseq: number, at: number, session: string, helped: boolean}} fields
 * @returns {FeedbackMessage}
 */
export function feedback({ cseq, at, session, helped }) {
  return { kind: "feedback", cseq, at, session, helped };
}

/**
 * `rating`: the visitor rates the help a person gave them (1 to 5).
 * @param {{cseq: number, at: number, session: string, score: number}} fields
 * @returns {RatingMessage}
 */
export function rating({ cseq, at, session, score }) {
  return { kind: "rating", cseq, at, session, score: Math.min(5, Math.max(1, Math.round(score))) };
}

/**
 * `chat`: the visitor writes to the person who took their support session.
 * @param {{cseq: number, at: number, session: string, text: string}} fields
 * @returns {ChatMessage}
 */
export function chat({ cseq, at, session, text }) {
  return { kind: "chat", cseq, at, session, text: truncate(text, 2000) };
}

/**
 * `typing`: the visitor is typing a chat message (not numbered, not stored).
 * @param {{session: string}} fields
 */
export function typing({ session }) {
  return { kind: "typing", session };
}

/**
 * `mirror`: the page's rrweb events while an agent may see it (docs/cobrowse.md); a `full`
 * one (Meta + FullSnapshot) starts the recorder's next `page` run. Large ones go in chunks.
 * @param {{session: string, page: number, full: boolean, events: unknown[]}} fields
 */
export function mirror({ session, page, full, events }) {
  /** @type {Record<string, unknown>} */
  const message = { kind: "mirror", session, page, events };
  if (full) message.full = true;
  return message;
}

/**
 * `consent`: the visitor's answer about the agents seeing the page (`view`) or acting on it (`control`).
 * @param {{session: string, what: "view" | "control", granted: boolean}} fields
 */
export function consent({ session, what, granted }) {
  return { kind: "consent", session, what, granted };
}

/**
 * `remote_done`: what became of an agent's action.
 * @param {{session: string, id: number, ok: boolean, reason?: string}} fields
 */
export function remoteDone({ session, id, ok, reason = "" }) {
  /** @type {Record<string, unknown>} */
  const message = { kind: "remote_done", session, id, ok };
  if (reason) message.reason = truncate(reason, 64);
  return message;
}

/**
 * `chunk`: one part of a message too large for one frame.
 * @param {{id: string, index: number, total: number, data: Uint8Array}} fields
 * @returns {ChunkMessage}
 */
export function chunk({ id, index, total, data }) {
  return { kind: "chunk", id, index, total, data };
}

/**
 * Split a message's msgpack bytes into `chunk` messages (as server/protocol/chunks.py does).
 * @param {Uint8Array} bytes
 * @param {string} id 1–32 of `A-Za-z0-9_-`
 * @param {number} [partSize]
 * @returns {ChunkMessage[]}
 */
export function splitIntoChunks(bytes, id, partSize = 60 * KiB) {
  if (!CHUNK_ID.test(id)) throw new TypeError(`Tandem: invalid chunk id ${JSON.stringify(id)}`);
  if (!(partSize >= 1 && partSize <= 64 * KiB)) throw new RangeError("Tandem: chunk part size must be 1 B to 64 KiB");
  const total = Math.max(1, Math.ceil(bytes.length / partSize));
  if (total > LIMITS.chunkParts) throw new MessageTooLarge("chunked", bytes.length, LIMITS.chunkParts * partSize);
  /** @type {ChunkMessage[]} */
  const parts = [];
  for (let index = 0; index < total; index++) {
    parts.push(chunk({ id, index, total, data: bytes.subarray(index * partSize, (index + 1) * partSize) }));
  }
  return parts;
}

// --- encoding ---------------------------------------------------------------------

/** @type {Encoder | null} */
let encoder = null;
/** @type {Decoder | null} */
let decoder = null;

/**
 * The msgpack bytes of a message (a fresh copy).
 * @param {object} message
 * @returns {Uint8Array}
 */
export function encode(message) {
  encoder ??= new Encoder({ ignoreUndefined: true });
  return encoder.encode(message);
}

/**
 * Decode one frame. Throws unless it is a msgpack map with a string `kind`.
 * @param {Uint8Array | ArrayBuffer} bytes
 * @returns {Record<string, unknown> & {kind: string}}
 */
export function decode(bytes) {
  decoder ??= new Decoder();
  const value = decoder.decode(bytes);
  if (typeof value !== "object" || value === null || Array.isArray(value) || value instanceof Uint8Array) {
    throw new TypeError("Tandem: a message must be a msgpack map");
  }
  const map = /** @type {Record<string, unknown>} */ (value);
  if (typeof map.kind !== "string") throw new TypeError("Tandem: a message needs a kind");
  return /** @type {Record<string, unknown> & {kind: string}} */ (map);
}

/**
 * Encode a client message and check it against its kind's size limit.
 * @param {ClientMessage} message
 * @returns {Uint8Array}
 * @throws {MessageTooLarge}
 */
export function encodeChecked(message) {
  const bytes = encode(message);
  const limit = SIZE_LIMITS[message.kind];
  if (bytes.length > limit) throw new MessageTooLarge(message.kind, bytes.length, limit);
  return bytes;
}

// --- truncation -------------------------------------------------------------------

/**
 * Cut a string to at most `max` characters without splitting a surrogate pair.
 * @param {string} text
 * @param {number} max
 */
export function truncate(text, max) {
  if (text.length <= max) return text;
  let cut = text.slice(0, max);
  const last = cut.charCodeAt(cut.length - 1);
  if (last >= 0xd800 && last <= 0xdbff) cut = cut.slice(0, -1);
  return cut;
}

/**
 * Cut a URL to at most `max` characters: drop the fragment first, then cut
 * the rest without leaving half a `%XX` escape.
 * @param {string} url
 * @param {number} max
 */
export function truncateUrl(url, max) {
  if (url.length <= max) return url;
  const hash = url.indexOf("#");
  const base = hash >= 0 ? url.slice(0, hash) : url;
  if (base.length <= max) return base;
  return truncate(base, max).replace(/%[0-9A-Fa-f]?$/, "");
}
