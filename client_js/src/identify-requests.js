// @ts-check
/**
 * The `identify()` calls waiting for the server's answer, and the tab's token
 * identity they keep in sessionStorage (docs/protocol.md, "Identity").
 *
 * A request is queued until the socket is ready. Then either `welcome` has
 * already answered it (the same identity went in hello, with no traits to
 * add), or it is sent and in flight until `identified` or `identity_refused`,
 * which the server answers in order. A refused identity is forgotten, so that
 * the next hello does not carry it again. A sign-out waits here too, for the
 * welcome of a socket whose hello carried no identity.
 */
import { clearIdentity, loadIdentity, saveIdentity } from "./identity.js";

/** @typedef {import("./identity.js").IdentityRequest} IdentityRequest */
/** @typedef {import("./protocol.js").TokenIdentity} TokenIdentity */
/** @typedef {import("./storage.js").StorageLike} StorageLike */
/** @typedef {{request: IdentityRequest, resolve: (value: {user: string}) => void, reject: (error: Error) => void}} Waiter */
/** @typedef {{resolve: (value: {user: null}) => void, reject: (error: Error) => void}} SignOutWaiter */

export class IdentifyRequests {
  /** @param {StorageLike} session sessionStorage: the tab's token identity */
  constructor(session) {
    this.session = session;
    /** @type {TokenIdentity | null} the identity the current socket's hello carried */
    this.hello = null;
    /** @type {Waiter[]} identify requests not yet sent on the current socket */
    this.queued = [];
    /** @type {Waiter[]} identify messages sent, waiting for `identified` or `identity_refused`, in order */
    this.inflight = [];
    /** @type {SignOutWaiter[]} sign-outs waiting for the next welcome */
    this.signOuts = [];
  }

  /** Whether something waits for a connection: requests to send, or a sign-out to confirm. */
  get waiting() {
    return this.queued.length > 0 || this.signOuts.length > 0;
  }

  /**
   * Keep the identity for this tab (the next hello carries it) and queue the request.
   * @param {IdentityRequest} request
   * @param {Waiter["resolve"]} resolve
   * @param {Waiter["reject"]} reject
   */
  add(request, resolve, reject) {
    saveIdentity(this.session, request);
    this.queued.push({ request, resolve, reject });
  }

  /**
   * A socket opens: its hello carries the tab's stored identity, if any.
   * @returns {TokenIdentity | null}
   */
  forHello() {
    this.hello = loadIdentity(this.session);
    return this.hello;
  }

  /** The socket is gone: requests sent on it and not answered go again after the next welcome. */
  requeue() {
    this.queued.unshift(...this.inflight);
    this.inflight = [];
  }

  /**
   * On a ready socket: settle the requests the identity in hello already answered, send the others.
   * @param {string} user who `welcome` said the visitor is
   * @param {(request: IdentityRequest) => void} send sends an identify message
   * @param {(user: string) => void} identified announces a request settled without one
   */
  sendQueued(user, send, identified) {
    for (const waiter of this.queued.splice(0)) {
      const { request } = waiter;
      const fromHello = this.hello && same(request, this.hello);
      if (fromHello && user === request.user && Object.keys(request.traits).length === 0) {
        waiter.resolve({ user: request.user });
        identified(request.user);
        continue;
      }
      send(request);
      this.inflight.push(waiter);
    }
  }

  /** @param {SignOutWaiter} waiter a sign-out, settled by the welcome of a socket opened after it */
  awaitWelcome(waiter) {
    this.signOuts.push(waiter);
  }

  /** A welcome arrived: the server has seen a hello sent after every sign-out waiting here. */
  welcomed() {
    for (const waiter of this.signOuts.splice(0)) waiter.resolve({ user: null });
  }

  /** @param {string} user `identified`: the oldest request in flight succeeded */
  identified(user) {
    this.inflight.shift()?.resolve({ user });
  }

  /** @param {Error} error `identity_refused` after welcome: the oldest request in flight failed */
  refused(error) {
    const waiter = this.inflight.shift();
    if (waiter) {
      this.forget(waiter.request);
      waiter.reject(error);
    }
  }

  /** @param {Error} error `identity_refused` before welcome: hello's identity failed, and the requests for it */
  refusedInHello(error) {
    const refused = this.hello;
    if (!refused) return;
    this.forget(refused);
    const failed = this.queued.filter((w) => same(w.request, refused));
    this.queued = this.queued.filter((w) => !failed.includes(w));
    for (const waiter of failed) waiter.reject(error);
  }

  /** The server closed the connection because it refused hello's identity. */
  forgetHello() {
    if (this.hello) this.forget(this.hello);
  }

  /** Forget the tab's stored identity, whichever it is. */
  clear() {
    clearIdentity(this.session);
  }

  /**
   * Sign-out: forget the stored identity and fail every request still waiting.
   * @param {Error} error
   */
  signOut(error) {
    this.clear();
    for (const waiter of [...this.inflight.splice(0), ...this.queued.splice(0)]) waiter.reject(error);
  }

  /**
   * The connection stopped for good: fail the requests and sign-outs not yet sent.
   * @param {Error} error
   */
  rejectAll(error) {
    for (const waiter of this.queued.splice(0)) waiter.reject(error);
    for (const waiter of this.signOuts.splice(0)) waiter.reject(error);
  }

  /**
   * Forget the stored identity if it is this (refused) one.
   * @param {TokenIdentity} refused
   */
  forget(refused) {
    const stored = loadIdentity(this.session);
    if (stored && same(stored, refused)) this.clear();
  }
}

/** @param {TokenIdentity} a @param {TokenIdentity} b */
function same(a, b) {
  return a.user === b.user && a.token === b.token;
}
