// @ts-check
/**
 * Who the visitor is. `Tandem.identify({id, token, traits})` takes a token
 * the site's backend signed; this module checks the argument's shape and
 * keeps identities where the next connection finds them:
 *
 * - the token identity per tab, in sessionStorage (`tandem:identity`);
 * - the anonymous id the server issued, per site, in localStorage
 *   (`tandem:anon:SITE`), so that a returning visitor keeps one profile.
 */
import { ANON_ID, LIMITS } from "./protocol.js";
import { readJson, writeJson } from "./storage.js";

/** @typedef {import("./protocol.js").TokenIdentity} TokenIdentity */
/** @typedef {import("./protocol.js").AnonymousIdentity} AnonymousIdentity */
/** @typedef {import("./protocol.js").TraitValue} TraitValue */
/** @typedef {import("./storage.js").StorageLike} StorageLike */
/** @typedef {{user: string, token: string, traits: Record<string, TraitValue>}} IdentityRequest */

export const IDENTITY_KEY = "tandem:identity";

/** @param {string} site */
export const anonymousKey = (site) => `tandem:anon:${site}`;

/**
 * Check what the page passed to `Tandem.identify()`.
 * @param {unknown} arg `{id, token, traits?}`
 * @returns {IdentityRequest}
 * @throws {TypeError} naming what is wrong
 */
export function parseIdentity(arg) {
  if (typeof arg !== "object" || arg === null || Array.isArray(arg)) {
    throw new TypeError("Tandem.identify() expects an object {id, token, traits}, or null to sign out");
  }
  const { id, token, traits = {} } = /** @type {{id?: unknown, token?: unknown, traits?: unknown}} */ (arg);
  if (typeof id !== "string" || id.length < 1 || id.length > LIMITS.user) {
    throw new TypeError(`Tandem.identify(): id must be a string of 1 to ${LIMITS.user} characters`);
  }
  if (typeof token !== "string" || token.length < 1 || token.length > LIMITS.token) {
    throw new TypeError(`Tandem.identify(): token must be a string of 1 to ${LIMITS.token} characters`);
  }
  if (typeof traits !== "object" || traits === null || Array.isArray(traits)) {
    throw new TypeError("Tandem.identify(): traits must be an object");
  }
  const entries = Object.entries(traits);
  if (entries.length > LIMITS.traits) {
    throw new TypeError(`Tandem.identify(): at most ${LIMITS.traits} traits`);
  }
  /** @type {Record<string, TraitValue>} */
  const checked = {};
  for (const [name, value] of entries) {
    const ok =
      value === null || typeof value === "string" || typeof value === "boolean" ||
      (typeof value === "number" && Number.isFinite(value));
    if (!ok) throw new TypeError(`Tandem.identify(): trait ${JSON.stringify(name)} must be a string, number, boolean or null`);
    checked[name] = value;
  }
  return { user: id, token, traits: checked };
}

/**
 * @param {StorageLike} session
 * @returns {TokenIdentity | null}
 */
export function loadIdentity(session) {
  const value = readJson(session, IDENTITY_KEY);
  if (typeof value !== "object" || value === null) return null;
  const { user, token } = /** @type {{user?: unknown, token?: unknown}} */ (value);
  if (typeof user !== "string" || typeof token !== "string") return null;
  if (!user || user.length > LIMITS.user || !token || token.length > LIMITS.token) return null;
  return { user, token };
}

/** @param {StorageLike} session @param {TokenIdentity} identity */
export function saveIdentity(session, identity) {
  writeJson(session, IDENTITY_KEY, { user: identity.user, token: identity.token });
}

/** @param {StorageLike} session */
export function clearIdentity(session) {
  try {
    session.removeItem?.(IDENTITY_KEY);
  } catch {
    // blocked storage: nothing was stored
  }
}

/**
 * @param {StorageLike} local
 * @param {string} site
 * @returns {AnonymousIdentity | null}
 */
export function loadAnonymous(local, site) {
  const value = readJson(local, anonymousKey(site));
  if (typeof value !== "object" || value === null) return null;
  const { anon, sig } = /** @type {{anon?: unknown, sig?: unknown}} */ (value);
  if (typeof anon !== "string" || !ANON_ID.test(anon)) return null;
  if (typeof sig !== "string" || sig.length < 16 || sig.length > 128) return null;
  return { anon, sig };
}

/** @param {StorageLike} local @param {string} site @param {AnonymousIdentity} anonymous */
export function saveAnonymous(local, site, anonymous) {
  writeJson(local, anonymousKey(site), { anon: anonymous.anon, sig: anonymous.sig });
}

/** @param {StorageLike} local @param {string} site */
export function clearAnonymous(local, site) {
  try {
    local.removeItem?.(anonymousKey(site));
  } catch {
    // blocked storage: nothing was stored
  }
}
