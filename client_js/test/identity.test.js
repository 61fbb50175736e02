// @ts-check
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  IDENTITY_KEY, anonymousKey, clearIdentity, loadAnonymous, loadIdentity, parseIdentity, saveAnonymous, saveIdentity,
} from "../src/identity.js";
import { MemoryStorage } from "../src/storage.js";

test("parseIdentity accepts {id, token, traits} and maps id to user", () => {
  assert.deepEqual(parseIdentity({ id: "u-ada", token: "t", traits: { a: "x", n: 1.5, b: false, z: null } }), {
    user: "u-ada",
    token: "t",
    traits: { a: "x", n: 1.5, b: false, z: null },
  });
  assert.deepEqual(parseIdentity({ id: "u", token: "t" }).traits, {});
});

test("parseIdentity refuses what the server would refuse, naming the problem", () => {
  /** @type {[unknown, RegExp][]} */
  const cases = [
    [undefined, /expects an object/],
    ["u-ada", /expects an object/],
    [{ token: "t" }, /id must be/],
    [{ id: "x".repeat(129), token: "t" }, /id must be/],
    [{ id: "u", token: "" }, /token must be/],
    [{ id: "u", token: "x".repeat(4097) }, /token must be/],
    [{ id: "u", token: "t", traits: [] }, /traits must be/],
    [{ id: "u", token: "t", traits: { list: [1] } }, /trait "list"/],
    [{ id: "u", token: "t", traits: { n: NaN } }, /trait "n"/],
    [{ id: "u", token: "t", traits: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, i])) }, /at most 64/],
  ];
  for (const [arg, message] of cases) assert.throws(() => parseIdentity(arg), message);
});

test("the token identity is kept per tab and can be forgotten", () => {
  const session = new MemoryStorage();
  assert.equal(loadIdentity(session), null);
  saveIdentity(session, { user: "u", token: "t" });
  assert.deepEqual(loadIdentity(session), { user: "u", token: "t" });
  clearIdentity(session);
  assert.equal(session.getItem(IDENTITY_KEY), null);
  session.setItem(IDENTITY_KEY, "{broken");
  assert.equal(loadIdentity(session), null);
});

test("the anonymous id is kept per site", () => {
  const local = new MemoryStorage();
  const anon = { anon: "anon-Q2x8mN4pR7sT1vW3", sig: "c2lnbmF0dXJlLW9mLXRoZS1zZXJ2ZXI" };
  saveAnonymous(local, "demo", anon);
  assert.deepEqual(loadAnonymous(local, "demo"), anon);
  assert.equal(loadAnonymous(local, "other"), null);
  assert.ok(local.getItem(anonymousKey("demo")));
});
