// @ts-check
/**
 * The tab's outbox: its id, its message counter (`cseq`) and the data
 * messages the server has not acknowledged yet, kept in `sessionStorage` so
 * that they survive reloads and full-page navigations within the tab.
 */
import { DATA_KINDS, TAB_ID } from "./protocol.js";
import { readJson, writeJson } from "./storage.js";

/** @typedef {import("./protocol.js").DataMessage} DataMessage */
/** @typedef {import("./storage.js").StorageLike} StorageLike */

/** Storage keys (in the page origin's sessionStorage). */
export const KEYS = Object.freeze({
  tab: "tandem:tab",
  cseq: "tandem:cseq",
  outbox: "tandem:outbox",
  dropped: "tandem:dropped",
});

/** Most messages kept unacknowledged; beyond it the oldest is dropped (and counted). */
export const OUTBOX_CAP = 1000;

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/**
 * A random tab id: 22 characters of `A-Za-z0-9_-` (132 bits).
 * @param {(bytes: Uint8Array) => Uint8Array} [fill] defaults to crypto.getRandomValues
 */
export function newTabId(fill = (bytes) => globalThis.crypto.getRandomValues(bytes)) {
  const bytes = fill(new Uint8Array(22));
  let id = "";
  for (const byte of bytes) id += ALPHABET[byte & 63];
  return id;
}

/** The tab's id, counter and unacknowledged data messages, kept in a Storage. */
export class Outbox {
  /**
   * @param {StorageLike} storage sessionStorage, or a MemoryStorage in tests
   * @param {{cap?: number, newId?: () => string}} [options]
   */
  constructor(storage, { cap = OUTBOX_CAP, newId = () => newTabId() } = {}) {
    this.storage = storage;
    this.cap = cap;
    this.newId = newId;
    const tab = safeGet(storage, KEYS.tab);
    /** The tab id, stable across reloads of this tab. */
    this.tab = tab && TAB_ID.test(tab) ? tab : newId();
    /** @type {DataMessage[]} */
    this.messages = loadMessages(readJson(storage, KEYS.outbox));
    const last = this.messages.length ? this.messages[this.messages.length - 1].cseq : 0;
    /** The last cseq assigned. */
    this.cseq = Math.max(toCount(safeGet(storage, KEYS.cseq)), last);
    /** How many messages the cap dropped unsent, in this tab. */
    this.dropped = toCount(safeGet(storage, KEYS.dropped));
    if (tab !== this.tab) safeSet(storage, KEYS.tab, this.tab);
  }

  /**
   * Assign the next cseq, build the message with it and keep it until acknowledged.
   * When `build` throws, no number is used.
   * @template {DataMessage} M
   * @param {(cseq: number) => M} build
   * @returns {M}
   */
  next(build) {
    const message = build(this.cseq + 1);
    this.cseq = message.cseq;
    this.messages.push(message);
    const overflow = this.messages.length - this.cap;
    if (overflow > 0) {
      this.messages.splice(0, overflow);
      this.dropped += overflow;
      safeSet(this.storage, KEYS.dropped, String(this.dropped));
    }
    safeSet(this.storage, KEYS.cseq, String(this.cseq));
    this.save();
    return message;
  }

  /**
   * The server stored everything up to `upto`: forget those.
   * @param {number} upto
   * @returns {number} how many were removed
   */
  ackUpTo(upto) {
    const before = this.messages.length;
    this.messages = this.messages.filter((m) => m.cseq > upto);
    if (this.messages.length !== before) this.save();
    return before - this.messages.length;
  }

  /**
   * Forget one message (the server refused it: it would be refused again).
   * @param {number} cseq
   * @returns {boolean} whether it was there
   */
  drop(cseq) {
    const index = this.messages.findIndex((m) => m.cseq === cseq);
    if (index < 0) return false;
    this.messages.splice(index, 1);
    this.save();
    return true;
  }

  /** @returns {DataMessage[]} the unacknowledged messages, oldest first */
  pending() {
    return this.messages.slice();
  }

  /** How many messages are unacknowledged. */
  get size() {
    return this.messages.length;
  }

  /**
   * Become a new tab: a new id, numbering from 1 again, pending messages
   * renumbered in order. Used when the server knows this tab id further than
   * this outbox does (the tab was duplicated with its sessionStorage).
   */
  renew() {
    this.tab = this.newId();
    this.messages = this.messages.map((m, i) => ({ ...m, cseq: i + 1 }));
    this.cseq = this.messages.length;
    safeSet(this.storage, KEYS.tab, this.tab);
    safeSet(this.storage, KEYS.cseq, String(this.cseq));
    this.save();
  }

  save() {
    writeJson(this.storage, KEYS.outbox, this.messages);
  }
}

/** @param {unknown} value @returns {DataMessage[]} */
function loadMessages(value) {
  if (!Array.isArray(value)) return [];
  /** @type {DataMessage[]} */
  const messages = value.filter(
    (m) =>
      typeof m === "object" && m !== null &&
      DATA_KINDS.has(m.kind) &&
      Number.isSafeInteger(m.cseq) && m.cseq >= 1,
  );
  return messages.sort((a, b) => a.cseq - b.cseq);
}

/** @param {string | null} text */
function toCount(text) {
  const n = Number(text);
  return Number.isSafeInteger(n) && n > 0 ? n : 0;
}

/** @param {StorageLike} storage @param {string} key */
function safeGet(storage, key) {
  try {
    return storage.getItem(key);
  } catch {
    return null;
  }
}

/** @param {StorageLike} storage @param {string} key @param {string} value */
function safeSet(storage, key, value) {
  try {
    storage.setItem(key, value);
  } catch {
    // full or blocked: this page still has it in memory
  }
}
