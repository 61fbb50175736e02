// @ts-check
/** Test doubles for the connection: a fake WebSocket playing the server, and a connection wired to it. */
import assert from "node:assert/strict";

import { Connection } from "../src/connection.js";
import { Outbox } from "../src/outbox.js";
import { decode, encode, focus } from "../src/protocol.js";
import { MemoryStorage } from "../src/storage.js";

/** A WebSocket stand-in: records what the client sends, plays the server's part. */
export class FakeSocket {
  /** @param {string} url */
  constructor(url) {
    this.url = url;
    this.binaryType = "blob";
    /** @type {(Record<string, unknown> & {kind: string})[]} decoded frames the client sent */
    this.sent = [];
    /** @type {{code?: number, reason?: string} | null} */
    this.closed = null;
    /** @type {(() => void) | null} */
    this.onopen = null;
    /** @type {((event: {data: unknown}) => void) | null} */
    this.onmessage = null;
    /** @type {((event: {code: number, reason: string}) => void) | null} */
    this.onclose = null;
    /** @type {(() => void) | null} */
    this.onerror = null;
  }

  /** @param {Uint8Array} data */
  send(data) {
    if (this.closed) throw new Error("send after close");
    this.sent.push(decode(data));
  }

  /** @param {number} [code] @param {string} [reason] */
  close(code, reason) {
    this.closed = { code, reason };
  }

  // --- the server's side ---

  open() {
    this.onopen?.();
  }

  /** @param {object} message a server message, sent as a binary frame (an ArrayBuffer, as browsers deliver it) */
  receive(message) {
    const bytes = encode(message);
    this.onmessage?.({ data: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) });
  }

  /** @param {number} code @param {string} [reason] */
  serverClose(code, reason = "") {
    this.closed = { code, reason };
    this.onclose?.({ code, reason });
  }

  /** @param {string} kind */
  sentOf(kind) {
    return this.sent.filter((m) => m.kind === kind);
  }
}

export const ANON = { anon: "anon-Q2x8mN4pR7sT1vW3", sig: "c2lnbmF0dXJlLW9mLXRoZS1zZXJ2ZXI" };
export const TOKEN = { user: "u-ada", token: "eyJhbGciOiJIUzI1NiJ9.e30.sig" };

/** @param {{session?: MemoryStorage, local?: MemoryStorage}} [options] */
export function setup({ session = new MemoryStorage(), local = new MemoryStorage() } = {}) {
  /** @type {FakeSocket[]} */
  const sockets = [];
  class Socket extends FakeSocket {
    /** @param {string} url */
    constructor(url) {
      super(url);
      sockets.push(this);
    }
  }
  /** @type {{type: string, detail: Record<string, unknown>}[]} */
  const events = [];
  /** @type {{fn: () => void, ms: number, cancelled: boolean}[]} */
  const timers = [];
  const outbox = new Outbox(session);
  /** @type {boolean[]} */
  const welcomes = [];
  const connection = new Connection({
    site: "demo",
    socketUrl: "ws://127.0.0.1:8000/ws",
    client: "0.1.0",
    outbox,
    session,
    local,
    WebSocket: Socket,
    emit: (type, detail) => events.push({ type, detail: /** @type {Record<string, unknown>} */ (detail) }),
    random: () => 0.5,
    schedule: (fn, ms) => {
      const timer = { fn, ms, cancelled: false };
      timers.push(timer);
      return () => {
        timer.cancelled = true;
      };
    },
    onWelcome: (first) => welcomes.push(first),
  });
  const socket = () => {
    const last = sockets.at(-1);
    assert.ok(last, "no socket was opened");
    return last;
  };
  /** Connect and answer hello with welcome. @param {object} [welcome] */
  const connect = (welcome = {}) => {
    connection.start();
    socket().open();
    socket().receive({ kind: "welcome", v: 1, tab: outbox.tab, ack: 0, user: "anon-Q2x8mN4pR7sT1vW3", ...welcome });
    return socket();
  };
  const sendFocus = () => connection.send((cseq) => focus({ cseq, at: 1000 + cseq, focused: true, visible: true }));
  /** @param {string} type */
  const eventsOf = (type) => events.filter((e) => e.type === type).map((e) => e.detail);
  const liveTimers = () => timers.filter((t) => !t.cancelled);
  return { connection, outbox, session, local, sockets, socket, events, eventsOf, timers, liveTimers, connect, sendFocus, welcomes };
}

