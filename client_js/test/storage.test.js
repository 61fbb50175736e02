// @ts-check
import assert from "node:assert/strict";
import { test } from "node:test";

import { MemoryStorage, safeStorage } from "../src/storage.js";

test("safeStorage passes through to a working storage", () => {
  const real = new MemoryStorage();
  const storage = safeStorage(() => real);
  storage.setItem("k", "v");
  assert.equal(real.getItem("k"), "v");
  assert.equal(storage.getItem("k"), "v");
  storage.removeItem("k");
  assert.equal(real.getItem("k"), null);
});

test("safeStorage keeps working in memory when storage is blocked or full", () => {
  const blocked = safeStorage(() => {
    throw new Error("SecurityError");
  });
  blocked.setItem("k", "v");
  assert.equal(blocked.getItem("k"), "v");
  const full = safeStorage(() => ({
    getItem: () => null,
    setItem: () => {
      throw new Error("QuotaExceededError");
    },
  }));
  full.setItem("k", "v");
  assert.equal(full.getItem("k"), "v");
});
