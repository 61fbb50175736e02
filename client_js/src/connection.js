// @ts-check
/**
 * The tab's WebSocket to the Tandem server (docs/protocol.md): `hello` on
 * open, resending the outbox after `welcome`, acknowledgements, identity, and
 * reconnecting with backoff. Everything it touches is injected (socket class,
 * storages, timers, random, events), so it runs in Node tests unchanged.
 */
import { reconnectDelay } from "./backoff.js";
import { dispatch, reportError } from "./events.js";
import {
  clearAnonymous, clearIdentity, loadAnonymous, loadIdentity, parseIdentity, saveAnonymous, saveIdentity,
} from "./identity.js";
import { ANON_ID, SLUG, decode, encodeChecked, hello, identify as identifyMessage } from "./protocol.js";

/** @typedef {import("./protocol.js").DataMessage} DataMessage */
/** @typedef {import("./protocol.js").ClientMessage} ClientMessage */
/** @typedef {import("./protocol.js").TokenIdentity} TokenIdentity */
/** @typedef {import("./identity.js").IdentityRequest} IdentityRequest */
/** @typedef {import("./storage.js").StorageLike} StorageLike */
/** @typedef {import("./outbox.js").Outbox} Outbox */
/** @typedef {import("./events.js").Emit} Emit */

/**
 * What Connection needs of a WebSocket (the browser's, or a fake in tests).
 * @typedef {object} SocketLike
 * @property {string} binaryType
 * @property {(data: Uint8Array) => void} send
 * @property {(code?: number, reason?: string) => void} close
 * @property {(() => void) | null} onopen
 * @property {((event: {data: unknown}) => void) | null} onmessage
 * @property {((event: {code: number, reason: string}) => void) | null} onclose
 * @property {(() => void) | null} onerror
 */
/** @typedef {new (url: string) => SocketLike} SocketConstructor */

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
 * @typedef {object} ConnectionOptions
 * @property {string} site
 * @property {string} socketUrl          `ws(s)://SERVER/ws`; `?site=` is added here
 * @property {string} [client]           this client's version, sent in hello
 * @property {Outbox} outbox
 * @property {StorageLike} session        sessionStorage: the tab's token identity
 * @property {StorageLike} local          localStorage: the site's anonymous id
 * @property {SocketConstructor} [WebSocket]
 * @property {Emit} [emit]
 * @property {() => number} [random]
 * @property {(fn: () => void, ms: number) => () => void} [schedule] run fn after ms; returns a cancel function
 * @property {(first: boolean) => void} [onWelcome] after each welcome, once the outbox is resent
 */

/** @typedef {{request: IdentityRequest, resolve: (value: {user: string}) => void, reject: (error: Error) => void}} Waiter */

const CLOSE_CODES = /** @type {Record<number, string>} */ ({ 1002: "unsupported_version", 1008: "policy" });
/** Close code this client uses when it drops a socket itself (hello refused, tab renewed). */
const CLIENT_CLOSE = 4000;

/**
 * One tab's connection: opens the socket, says hello, resends the outbox after
 * each welcome, sends data messages as they come, and reconnects with backoff.
 */
export class Connection {
  /** @param {ConnectionOptions} options */
  constructor(options) {
    this.site = options.site;
    this.socketUrl = options.socketUrl;
    this.client = options.client ?? "";
    this.outbox = options.outbox;
    this.session = options.session;
    this.local = options.local;
    this.Socket = options.WebSocket ?? /** @type {SocketConstructor} */ (/** @type {unknown} */ (globalThis.WebSocket));
    this.emit = options.emit ?? dispatch;
    this.random = options.random ?? Math.random;
    this.schedule =
      options.schedule ??
      ((fn, ms) => {
        const timer = setTimeout(fn, ms);
        return () => clearTimeout(timer);
      });
    this.onWelcome = options.onWelcome ?? (() => {});

    /** @type {ConnectionState} */
    this.state = "idle";
    /** @type {SocketLike | null} */
    this.socket = null;
    /** Reconnect attempts since the last welcome. */
    this.attempt = 0;
    /** @type {(() => void) | null} */
    this.cancelTimer = null;
    this.paused = false;
    this.welcomes = 0;
    this.user = "";
    this.anonymous = "";
    this.needsIdentity = false;
    this.lastAck = 0;
    /** Highest cseq sent on the current socket. */
    this.sentUpTo = 0;
    /** @type {TokenIdentity | null} the identity the current socket's hello carried */
    this.helloIdentity = null;
    /** @type {Waiter[]} identify requests not yet sent on the current socket */
    this.queued = [];
    /** @type {Waiter[]} identify messages sent, waiting for `identified` or `identity_refused`, in order */
    this.inflight = [];
    /** Set when the server closed because of a refused identity: a new identify() may try again. */
    this.stoppedForIdentity = false;
  }

  /** The WebSocket URL with this site's key. */
  get url() {
    const separator = this.socketUrl.includes("?") ? "&" : "?";
    return `${this.socketUrl}${separator}site=${encodeURIComponent(this.site)}`;
  }

  /** Connect, unless connected, connecting or stopped. */
  start() {
    this.paused = false;
    if (this.state === "waiting") {
      this.cancelTimer?.();
      this.cancelTimer = null;
      this.state = "idle";
    }
    if (this.state !== "idle") return;
    if (typeof this.Socket !== "function") {
      this.stop(0, "WebSocket is not available in this browser", "client");
      return;
    }
    if (!SLUG.test(this.site)) {
      this.stop(0, `invalid site key ${JSON.stringify(this.site)}`, "config");
      return;
    }
    this.open();
  }

  /** Close without reconnecting until `start()` (the page goes into the back/forward cache). */
  pause() {
    if (this.state === "stopped") return;
    this.paused = true;
    this.cancelTimer?.();
    this.cancelTimer = null;
    const wasReady = this.state === "ready";
    // Detach at once: the close event may only arrive after the page is restored.
    this.abandon(1000, "page hidden");
    this.state = "idle";
    if (wasReady) this.emit("tandem:disconnected", { code: 1000, reason: "page hidden", retryIn: null });
  }

  /**
   * Number, keep and (when connected) send a data message.
   * @param {(cseq: number) => DataMessage} build
   * @returns {DataMessage | null} the message, or null when it could not be built (reported)
   */
  send(build) {
    try {
      const message = this.outbox.next((cseq) => {
        const built = build(cseq);
        encodeChecked(built); // never queue what the server would refuse as too large
        return built;
      });
      if (this.state === "idle" && !this.paused) this.start();
      this.flush();
      return message;
    } catch (error) {
      reportError(error, this.emit);
      return null;
    }
  }

  /**
   * `Tandem.identify()`: check the argument, keep the identity for this tab
   * and send it (now, or in the next hello).
   * @param {unknown} arg `{id, token, traits?}`
   * @returns {Promise<{user: string}>} resolves on `identified`, rejects on `identity_refused`
   */
  identify(arg) {
    return new Promise((resolve, reject) => {
      const request = parseIdentity(arg);
      encodeChecked(identifyMessage(request)); // refuse what the server would close the connection for
      if (this.state === "stopped") {
        if (!this.stoppedForIdentity) throw new Error("Tandem: not connected (the server refused this client)");
        this.state = "idle";
        this.stoppedForIdentity = false;
      }
      saveIdentity(this.session, request);
      this.queued.push({ request, resolve, reject });
      if (this.state === "ready") this.sendQueued();
      else if (this.state === "idle" && !this.paused) this.start();
    });
  }

  /** @returns {ConnectionStatus} */
  status() {
    return {
      state: this.state,
      connected: this.state === "ready",
      tab: this.outbox.tab,
      user: this.user,
      anonymous: this.anonymous,
      needsIdentity: this.needsIdentity,
      pending: this.outbox.size,
      lastAck: this.lastAck,
      dropped: this.outbox.dropped,
    };
  }

  // --- socket lifecycle ---------------------------------------------------------------

  open() {
    this.state = "connecting";
    /** @type {SocketLike} */
    let socket;
    try {
      socket = new this.Socket(this.url);
    } catch (error) {
      reportError(error, this.emit);
      this.retry(false);
      return;
    }
    this.socket = socket;
    socket.binaryType = "arraybuffer";
    socket.onopen = () => this.guarded(socket, () => this.onOpen(socket));
    socket.onmessage = (event) => this.guarded(socket, () => this.onFrame(event.data));
    socket.onclose = (event) => this.guarded(socket, () => this.onClose(event.code, event.reason));
    socket.onerror = () => {}; // a close event follows
  }

  /**
   * Run a socket callback unless the socket is no longer the current one; report what it throws.
   * @param {SocketLike} socket
   * @param {() => void} fn
   */
  guarded(socket, fn) {
    if (socket !== this.socket) return;
    try {
      fn();
    } catch (error) {
      reportError(error, this.emit);
    }
  }

  /** @param {SocketLike} socket */
  onOpen(socket) {
    this.state = "open";
    this.sentUpTo = 0;
    this.helloIdentity = loadIdentity(this.session);
    const message = hello({
      site: this.site,
      tab: this.outbox.tab,
      client: this.client,
      identity: this.helloIdentity,
      anonymous: loadAnonymous(this.local, this.site),
    });
    socket.send(encodeChecked(message));
  }

  /** @param {number} code @param {string} reason */
  onClose(code, reason) {
    const wasReady = this.state === "ready";
    this.socket = null;
    this.queued.unshift(...this.inflight); // unanswered: send again after the next welcome
    this.inflight = [];
    if (this.paused) {
      this.state = "idle";
      return;
    }
    if (code === 1002 || code === 1008) {
      if (wasReady) this.emit("tandem:disconnected", { code, reason, retryIn: null });
      const refused = /^identity_refused\b/.test(reason);
      if (refused && this.helloIdentity) this.forgetIdentity(this.helloIdentity);
      this.stop(code, reason, reason.match(/^([a-z_]+):/)?.[1] ?? CLOSE_CODES[code]);
      this.stoppedForIdentity = refused;
      return;
    }
    const needed = this.outbox.size > 0 || this.queued.length > 0;
    if (code === 1000 && !needed) {
      // A normal close: connect again when the page has something to send.
      this.state = "idle";
      if (wasReady) this.emit("tandem:disconnected", { code, reason, retryIn: null });
      return;
    }
    const retryIn = this.retry(code === 1012);
    if (wasReady) this.emit("tandem:disconnected", { code, reason, retryIn });
  }

  /**
   * Schedule the next attempt.
   * @param {boolean} restart the server is restarting (1012)
   * @returns {number} the delay in ms
   */
  retry(restart) {
    this.state = "waiting";
    const delay = reconnectDelay(this.attempt, this.random, { restart });
    this.attempt += 1;
    this.cancelTimer?.();
    this.cancelTimer = this.schedule(() => {
      this.cancelTimer = null;
      if (this.state !== "waiting") return;
      try {
        this.open();
      } catch (error) {
        reportError(error, this.emit);
      }
    }, delay);
    return delay;
  }

  /**
   * Stop for good and say why.
   * @param {number} close the close code (0: the client stopped itself)
   * @param {string} reason
   * @param {string} code
   */
  stop(close, reason, code) {
    this.state = "stopped";
    this.cancelTimer?.();
    this.cancelTimer = null;
    const message = reason || `the server closed the connection (${close})`;
    const error = new Error(`Tandem: ${message}`);
    for (const waiter of this.queued.splice(0)) waiter.reject(error);
    /** @type {import("./events.js").TandemErrorDetail} */
    const detail = { code, message };
    if (close) detail.close = close;
    console.error(error.message);
    this.emit("tandem:error", detail);
  }

  /**
   * Close the current socket from this side without the close handler running.
   * @param {number} code
   * @param {string} reason
   */
  abandon(code, reason) {
    const socket = this.socket;
    this.socket = null;
    if (!socket) return;
    socket.onopen = socket.onmessage = socket.onclose = null;
    socket.close(code, reason);
    this.queued.unshift(...this.inflight);
    this.inflight = [];
  }

  // --- messages -----------------------------------------------------------------------

  /** @param {unknown} data */
  onFrame(data) {
    if (!(data instanceof ArrayBuffer || data instanceof Uint8Array)) throw new TypeError("Tandem: expected a binary frame");
    const message = decode(data);
    switch (message.kind) {
      case "welcome":
        return this.onWelcomeMessage(message);
      case "ack":
        return this.onAck(int(message.upto));
      case "identified":
        return this.onIdentified(str(message.user), message.anonymous === true);
      case "error":
        return this.onError(message);
      default:
        throw new TypeError(`Tandem: unknown message kind ${JSON.stringify(message.kind)}`);
    }
  }

  /** @param {Record<string, unknown>} message */
  onWelcomeMessage(message) {
    const ack = int(message.ack);
    if (ack > this.outbox.cseq) {
      // The server has more of this tab than this tab ever numbered: the tab was duplicated
      // along with its sessionStorage. Become a tab of our own.
      this.outbox.renew();
      this.abandon(CLIENT_CLOSE, "tab renewed");
      this.open();
      return;
    }
    this.state = "ready";
    this.attempt = 0;
    this.welcomes += 1;
    this.user = str(message.user);
    this.needsIdentity = message.needs_identity === true;
    const anonymous = anonymousOf(message.anonymous);
    this.anonymous = anonymous ? anonymous.anon : "";
    if (anonymous) saveAnonymous(this.local, this.site, anonymous);
    this.outbox.ackUpTo(ack);
    this.lastAck = ack;
    this.sentUpTo = ack;
    this.emit("tandem:connected", { tab: this.outbox.tab, user: this.user, anonymous: this.anonymous });
    this.sendQueued();
    this.flush();
    this.onWelcome(this.welcomes === 1);
  }

  /** @param {number} upto */
  onAck(upto) {
    this.outbox.ackUpTo(upto);
    this.lastAck = Math.max(this.lastAck, upto);
  }

  /** @param {string} user @param {boolean} anonymous */
  onIdentified(user, anonymous) {
    this.user = user;
    if (!anonymous) this.anonymous = "";
    this.needsIdentity = false;
    this.inflight.shift()?.resolve({ user });
    this.emit("tandem:identified", { user });
    this.flush();
  }

  /** @param {Record<string, unknown>} message */
  onError(message) {
    const code = str(message.code);
    const cseq = int(message.cseq);
    const field = str(message.field);
    /** @type {import("./events.js").TandemErrorDetail} */
    const detail = { code, message: str(message.message) };
    if (field) detail.field = field;
    if (cseq) detail.cseq = cseq;
    const beforeWelcome = this.state === "open";

    if (code === "identity_required") {
      // Held, not dropped: sent again once the visitor is identified.
      this.needsIdentity = true;
      if (cseq) this.sentUpTo = Math.min(this.sentUpTo, cseq - 1);
    } else if (cseq) {
      this.outbox.drop(cseq); // it would be refused again
    }

    if (code === "identity_refused") {
      const error = Object.assign(new Error(`Tandem: identity refused: ${detail.message}`), { code });
      if (beforeWelcome) {
        // The identity in hello was refused; requests for that same identity fail with it.
        const refused = this.helloIdentity;
        if (refused) {
          this.forgetIdentity(refused);
          const failed = this.queued.filter((w) => same(w.request, refused));
          this.queued = this.queued.filter((w) => !failed.includes(w));
          for (const waiter of failed) waiter.reject(error);
        }
      } else {
        const waiter = this.inflight.shift();
        if (waiter) {
          this.forgetIdentity(waiter.request);
          waiter.reject(error);
        }
      }
    } else if (beforeWelcome) {
      // The server refused our hello: never wait for a welcome that will not come.
      if (field.startsWith("identity")) clearIdentity(this.session);
      if (field.startsWith("anonymous")) clearAnonymous(this.local, this.site);
      this.abandon(CLIENT_CLOSE, "hello refused");
      this.retry(false);
    }
    this.emit("tandem:error", detail);
  }

  // --- sending ------------------------------------------------------------------------

  /** Send the data messages not yet sent on this socket, in order, unless held. */
  flush() {
    if (this.state !== "ready" || this.needsIdentity || !this.socket) return;
    for (const message of this.outbox.pending()) {
      if (message.cseq <= this.sentUpTo) continue;
      this.sentUpTo = message.cseq;
      /** @type {Uint8Array} */
      let bytes;
      try {
        bytes = encodeChecked(message);
      } catch (error) {
        this.outbox.drop(message.cseq);
        reportError(error, this.emit);
        continue;
      }
      this.socket.send(bytes);
    }
  }

  /** After welcome, or when connected: settle or send the identify requests. */
  sendQueued() {
    if (this.state !== "ready" || !this.socket) return;
    for (const waiter of this.queued.splice(0)) {
      const { request } = waiter;
      const fromHello = this.helloIdentity && same(request, this.helloIdentity);
      if (fromHello && this.user === request.user && Object.keys(request.traits).length === 0) {
        waiter.resolve({ user: request.user });
        this.emit("tandem:identified", { user: request.user });
        continue;
      }
      this.socket.send(encodeChecked(identifyMessage(request)));
      this.inflight.push(waiter);
    }
  }

  /**
   * Forget the stored identity if it is this (refused) one.
   * @param {TokenIdentity} refused
   */
  forgetIdentity(refused) {
    const stored = loadIdentity(this.session);
    if (stored && same(stored, refused)) clearIdentity(this.session);
  }
}

/** @param {TokenIdentity} a @param {TokenIdentity} b */
function same(a, b) {
  return a.user === b.user && a.token === b.token;
}

/** @param {unknown} value */
function str(value) {
  return typeof value === "string" ? value : "";
}

/** @param {unknown} value */
function int(value) {
  return typeof value === "number" && Number.isSafeInteger(value) && value > 0 ? value : 0;
}

/**
 * @param {unknown} value
 * @returns {import("./protocol.js").AnonymousIdentity | null}
 */
function anonymousOf(value) {
  if (typeof value !== "object" || value === null) return null;
  const { anon, sig } = /** @type {{anon?: unknown, sig?: unknown}} */ (value);
  return typeof anon === "string" && ANON_ID.test(anon) && typeof sig === "string" && sig ? { anon, sig } : null;
}
