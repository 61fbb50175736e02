// @ts-check
/**
 * Who the server says this tab's visitor is (`welcome`, `identified`): a user
 * id; the anonymous id when the visitor is anonymous, kept per site in
 * localStorage and presented in the next hello so the visitor keeps one
 * profile; and whether the site waits for an identity before it accepts data.
 */
import { clearAnonymous, loadAnonymous, saveAnonymous } from "./identity.js";

/** @typedef {import("./storage.js").StorageLike} StorageLike */
/** @typedef {import("./protocol.js").AnonymousIdentity} AnonymousIdentity */
/** @typedef {import("./server-messages.js").WelcomeMessage} WelcomeMessage */

export class Visitor {
  /**
   * @param {StorageLike} local localStorage: the site's anonymous id
   * @param {string} site
   */
  constructor(local, site) {
    this.local = local;
    this.site = site;
    /** The visitor's id as the server knows it ("" before welcome). */
    this.user = "";
    /** The anonymous id, when the visitor is anonymous. */
    this.anonymous = "";
    this.needsIdentity = false;
  }

  /** Whether the server knows the visitor by a token (rather than anonymously, or not at all). */
  get byToken() {
    return this.user !== "" && this.anonymous === "";
  }

  /** @returns {AnonymousIdentity | null} the anonymous id to present in hello */
  forHello() {
    return loadAnonymous(this.local, this.site);
  }

  /** @param {WelcomeMessage} welcome */
  welcomed({ user, needsIdentity, anonymous }) {
    this.user = user;
    this.needsIdentity = needsIdentity;
    this.anonymous = anonymous ? anonymous.anon : "";
    if (anonymous) saveAnonymous(this.local, this.site, anonymous);
  }

  /** @param {string} user @param {boolean} anonymous */
  identified(user, anonymous) {
    this.user = user;
    if (!anonymous) this.anonymous = "";
    this.needsIdentity = false;
  }

  /** The server refused the anonymous id in hello: the next hello asks for a new one. */
  forgetAnonymous() {
    clearAnonymous(this.local, this.site);
  }

  /** Signed out: nobody until the next welcome says otherwise. */
  forget() {
    this.user = "";
    this.anonymous = "";
  }
}
