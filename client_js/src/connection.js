// @ts-check
/**
 * The tab's connection to the Tandem server (docs/protocol.md): the socket's
 * lifecycle (`hello` on open, `welcome`, closes, reconnecting with backoff)
 * and what the page asks of it (data messages, identify, sign-out). It
 * delegates to delivery.js (the outbox over the socket), identify-requests.js
 * (identify() calls awaiting answers), visitor.js (who the server says the
 * visitor is), server-messages.js (reading frames) and socket.js. Everything
 * it touches is injected (socket class, storages, timers, random, events), so
 * it runs in Node tests unchanged.
 */
import { ReconnectTimer } from "./backoff.js";
import { Delivery } from "./delivery.js";
import { dispatch, reportError } from "./events.js";
import { IdentifyRequests } from "./identify-requests.js";
import { parseIdentity } from "./identity.js";
import { MAX_ASSEMBLED, MessageTooLarge, SIZE_LIMITS, SLUG, encode, encodeChecked, hello, identify as identifyMessage, splitIntoChunks } from "./protocol.js";
import { Requests, requestError } from "./requests.js";
import { errorDetail, readServerMessage } from "./server-messages.js";
import { detach, openSocket } from "./socket.js";
import { Visitor } from "./visitor.js";

/** @typedef {import("./protocol.js").DataMessage} DataMessage */
/** @typedef {import("./storage.js").StorageLike} StorageLike */
/** @typedef {import("./outbox.js").Outbox} Outbox */
/** @typedef {import("./events.js").Emit} Emit */
/** @typedef {import("./server-messages.js").WelcomeMessage} WelcomeMessage */
/** @typedef {import("./server-messages.js").ErrorMessage} ErrorMessage */
/** @typedef {import("./socket.js").SocketLike} SocketLike */
/** @typedef {import("./socket.js").SocketConstructor} SocketConstructor */
/** @typedef {import("./api.js").ConnectionState} ConnectionState */
/** @typedef {import("./api.js").ConnectionStatus} ConnectionStatus */

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
 * @property {import("./backoff.js").Schedule} [schedule] run fn after ms; returns a cancel function
 * @property {(first: boolean) => void} [onWelcome] after each welcome, once the outbox is resent
 * @property {(run: Record<string, unknown>) => void} [onRun] a run the agent helping the visitor started
 * @property {(message: Record<string, unknown>) => void} [onCobrowse] a co-browse message (`cobrowse`, `remote`)
 */

const CLOSE_CODES = /** @type {Record<number, string>} */ ({ 1002: "unsupported_version", 1008: "policy" });
/** Close code this client uses when it drops a socket itself (hello refused, tab renewed, signed out). */
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
    this.Socket = options.WebSocket ?? /** @type {SocketConstructor} */ (/** @type {unknown} */ (globalThis.WebSocket));
    this.emit = options.emit ?? dispatch;
    this.reconnect = new ReconnectTimer(options.random, options.schedule);
    this.onWelcome = options.onWelcome ?? (() => {});
    this.onRun = options.onRun ?? (() => {});
    this.onCobrowse = options.onCobrowse ?? (() => {});
    /** @type {number | undefined} */
    this.chunkId = undefined;
    this.identities = new IdentifyRequests(options.session);
    this.requests = new Requests();
    this.delivery = new Delivery(options.outbox);
    this.visitor = new Visitor(options.local, options.site);

    /** @type {ConnectionState} */
    this.state = "idle";
    /** @type {SocketLike | null} */
    this.socket = null;
    this.paused = false;
    this.welcomes = 0;
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
      this.reconnect.cancel();
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
    this.reconnect.cancel();
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
      const message = this.delivery.add(build);
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
      this.identities.add(request, resolve, reject);
      if (this.state === "ready") this.sendQueued();
      else if (this.state === "idle" && !this.paused) this.start();
    });
  }

  /**
   * `Tandem.identify(null)`, sign-out: forget the tab's identity (no later hello carries it) and fail the
   * identify() calls still waiting (error code `signed_out`). When the server may know the current socket
   * by a token, drop that socket and connect again: the new hello presents the site's anonymous id, or on
   * a strict site no one (the tab then waits for an identity).
   * @returns {Promise<{user: null}>} at once when no socket carries an identity (a cheap no-op when none
   *   was stored), else on the next welcome; rejects only if the server then refuses this client for good
   */
  signOut() {
    return new Promise((resolve, reject) => {
      const reconnect = this.socketIdentified();
      const error = Object.assign(new Error("Tandem: signed out before the identity was verified"), { code: "signed_out" });
      this.identities.signOut(error);
      if (!reconnect) {
        resolve({ user: null });
        return;
      }
      this.identities.awaitWelcome({ resolve, reject });
      this.abandon(CLIENT_CLOSE, "signed out");
      this.visitor.forget();
      this.open();
    });
  }

  /** Whether the server may know the current socket's visitor by a token: from hello, verified, or in flight. */
  socketIdentified() {
    if (!this.socket) return false;
    if (this.state === "open") return this.identities.hello !== null;
    if (this.state !== "ready") return false;
    return this.visitor.byToken || this.identities.inflight.length > 0;
  }

  /** @returns {ConnectionStatus} */
  status() {
    return {
      state: this.state,
      connected: this.state === "ready",
      tab: this.outbox.tab,
      user: this.visitor.user,
      anonymous: this.visitor.anonymous,
      needsIdentity: this.visitor.needsIdentity,
      pending: this.outbox.size,
      lastAck: this.delivery.lastAck,
      dropped: this.outbox.dropped,
    };
  }

  // --- socket lifecycle ---------------------------------------------------------------

  open() {
    this.state = "connecting";
    try {
      this.socket = openSocket(this.Socket, this.url, {
        isCurrent: (socket) => socket === this.socket,
        open: (socket) => this.onOpen(socket),
        frame: (data) => this.onFrame(data),
        close: (code, reason) => this.onClose(code, reason),
        emit: this.emit,
      });
    } catch (error) {
      reportError(error, this.emit);
      this.retry(false);
    }
  }

  /** @param {SocketLike} socket */
  onOpen(socket) {
    this.state = "open";
    this.delivery.opened();
    const message = hello({
      site: this.site,
      tab: this.outbox.tab,
      client: this.client,
      identity: this.identities.forHello(),
      anonymous: this.visitor.forHello(),
    });
    socket.send(encodeChecked(message));
  }

  /** @param {number} code @param {string} reason */
  onClose(code, reason) {
    const wasReady = this.state === "ready";
    this.socket = null;
    this.identities.requeue(); // unanswered: send again after the next welcome
    this.requests.failAll(requestError("disconnected", "Tandem: the connection closed before the answer came"));
    if (this.paused) {
      this.state = "idle";
      return;
    }
    if (code === 1008 && /^tab_taken\b/.test(reason)) {
      // Another live page has this tab's id (the browser duplicated the tab with its sessionStorage):
      // this page becomes a tab of its own, with what it still has to send, and connects again.
      if (wasReady) this.emit("tandem:disconnected", { code, reason, retryIn: 0 });
      this.outbox.renew();
      this.open();
      return;
    }
    if (code === 1002 || code === 1008) {
      if (wasReady) this.emit("tandem:disconnected", { code, reason, retryIn: null });
      const refused = /^identity_refused\b/.test(reason);
      if (refused) this.identities.forgetHello();
      this.stop(code, reason, reason.match(/^([a-z_]+):/)?.[1] ?? CLOSE_CODES[code]);
      this.stoppedForIdentity = refused;
      return;
    }
    const needed = this.outbox.size > 0 || this.identities.waiting;
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
    return this.reconnect.next(restart, () => {
      if (this.state !== "waiting") return;
      try {
        this.open();
      } catch (error) {
        reportError(error, this.emit);
      }
    });
  }

  /**
   * Stop for good and say why.
   * @param {number} close the close code (0: the client stopped itself)
   * @param {string} reason
   * @param {string} code
   */
  stop(close, reason, code) {
    this.state = "stopped";
    this.reconnect.cancel();
    const message = reason || `the server closed the connection (${close})`;
    const error = new Error(`Tandem: ${message}`);
    this.identities.rejectAll(error);
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
    detach(socket, code, reason);
    this.identities.requeue();
    this.requests.failAll(requestError("disconnected", "Tandem: the connection closed before the answer came"));
  }

  // --- messages -----------------------------------------------------------------------

  /** @param {unknown} data */
  onFrame(data) {
    const message = readServerMessage(data);
    switch (message.kind) {
      case "welcome":
        return this.onWelcomeMessage(message);
      case "ack":
        return this.delivery.acked(message.upto);
      case "identified":
        return this.onIdentified(message.user, message.anonymous);
      case "error":
        if (message.req) this.requests.fail(message.req, requestError(message.code, `Tandem: ${message.message}`));
        return this.onError(message);
      case "chat_line":
        return this.emit("tandem:chat", { session: message.session, sender: message.sender, name: message.name, text: message.text, at: message.at });
      case "typed":
        return this.emit("tandem:typing", { session: message.session, name: message.name });
      case "cobrowse":
        return this.onCobrowse(message.message);
      case "answer":
        // An answer nobody asked for on this page: help the server offers by itself (frustration seen,
        // or the site's backend asked on the visitor's behalf).
        if (!this.requests.settle(message.req, message.message) && !this.requests.wasAsked(message.req)) {
          if (message.message.kind === "help_answer") this.emit("tandem:help", message.message);
          // A run nobody on this page asked for: the agent who helps the visitor started it.
          if (message.message.kind === "run") this.onRun(message.message);
        }
    }
  }

  /**
   * Send a request and wait for its answer (docs/protocol.md: launcher, start, resume, help).
   * @param {(req: number) => import("./requests.js").RequestMessage} build
   * @returns {Promise<Record<string, unknown>>}
   */
  request(build) {
    if (this.state !== "ready" || !this.socket) return Promise.reject(requestError("not_connected", "Tandem: not connected"));
    const { req, answer } = this.requests.open();
    this.socket.send(encodeChecked(/** @type {any} */ (build(req))));
    return answer;
  }

  /**
   * Send a message that is a moment's news (not numbered, not kept): dropped when not connected.
   * @param {Record<string, unknown> & {kind: string}} message
   */
  notify(message) {
    if (this.state !== "ready" || !this.socket) return false;
    this.socket.send(encodeChecked(/** @type {any} */ (message)));
    return true;
  }

  /**
   * Send a moment's news that may be large (the mirror): in chunks when it does not fit a frame.
   * False when not connected (nothing is kept: the caller starts over after a reconnect).
   * @param {Record<string, unknown> & {kind: string}} message
   */
  stream(message) {
    const socket = this.socket;
    if (this.state !== "ready" || !socket) return false;
    const bytes = encode(message);
    if (bytes.length > MAX_ASSEMBLED) throw new MessageTooLarge(message.kind, bytes.length, MAX_ASSEMBLED);
    if (bytes.length <= SIZE_LIMITS[/** @type {keyof typeof SIZE_LIMITS} */ (message.kind)]) {
      socket.send(bytes);
      return true;
    }
    const id = `m${(this.chunkId = (this.chunkId ?? 0) + 1)}`;
    for (const part of splitIntoChunks(bytes, id)) socket.send(encode(part));
    return true;
  }

  /** @param {WelcomeMessage} welcome */
  onWelcomeMessage(welcome) {
    if (welcome.ack > this.outbox.cseq) {
      // The server has more of this tab than this tab ever numbered: the tab was duplicated
      // along with its sessionStorage. Become a tab of our own.
      this.outbox.renew();
      this.abandon(CLIENT_CLOSE, "tab renewed");
      this.open();
      return;
    }
    this.state = "ready";
    this.reconnect.reset();
    this.welcomes += 1;
    this.visitor.welcomed(welcome);
    this.delivery.welcomed(welcome.ack);
    const { user, anonymous } = this.visitor;
    this.emit("tandem:connected", { tab: this.outbox.tab, user, anonymous });
    this.sendQueued();
    this.identities.welcomed();
    this.flush();
    this.onWelcome(this.welcomes === 1);
  }

  /** @param {string} user @param {boolean} anonymous */
  onIdentified(user, anonymous) {
    this.visitor.identified(user, anonymous);
    this.identities.identified(user);
    this.emit("tandem:identified", { user });
    this.flush();
  }

  /** @param {ErrorMessage} error */
  onError(error) {
    const { code } = error;
    const beforeWelcome = this.state === "open";
    if (code === "identity_required") this.visitor.needsIdentity = true;
    this.delivery.refused(code, error.cseq);
    if (code === "identity_refused") {
      const refusal = Object.assign(new Error(`Tandem: identity refused: ${error.message}`), { code });
      // Before welcome, the identity in hello was refused: requests for that same identity fail with it.
      if (beforeWelcome) this.identities.refusedInHello(refusal);
      else this.identities.refused(refusal);
    } else if (beforeWelcome) {
      // The server refused our hello: never wait for a welcome that will not come.
      if (error.field.startsWith("identity")) this.identities.clear();
      if (error.field.startsWith("anonymous")) this.visitor.forgetAnonymous();
      this.abandon(CLIENT_CLOSE, "hello refused");
      this.retry(false);
    }
    this.emit("tandem:error", errorDetail(error));
  }

  // --- sending ------------------------------------------------------------------------

  /** Send the data messages not yet sent on this socket, in order, unless held. */
  flush() {
    const socket = this.socket;
    if (this.state !== "ready" || this.visitor.needsIdentity || !socket) return;
    this.delivery.flush((bytes) => socket.send(bytes), this.emit);
  }

  /** After welcome, or when connected: settle or send the identify requests. */
  sendQueued() {
    const socket = this.socket;
    if (this.state !== "ready" || !socket) return;
    this.identities.sendQueued(
      this.visitor.user,
      (request) => socket.send(encodeChecked(identifyMessage(request))),
      (user) => this.emit("tandem:identified", { user }),
    );
  }
}
