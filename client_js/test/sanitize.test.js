// @ts-check
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { sanitizeUrl, sensitiveKey } from "../src/sanitize.js";

/** Shared with the server's tests (tests/unit/test_location.py): both sides redact alike. */
const CASES = /** @type {{url: string, expected: string}[]} */ (
  JSON.parse(readFileSync(new URL("../../tests/golden/redaction_cases.json", import.meta.url), "utf8"))
);

for (const { url, expected } of CASES) {
  test(`sanitizeUrl(${url})`, () => {
    assert.equal(sanitizeUrl(url), expected);
  });
}

test("a string that is not a URL gives the empty string", () => {
  assert.equal(sanitizeUrl("not a url"), "");
});

test("words, not substrings, decide", () => {
  for (const key of ["success", "access", "account", "considered", "author", "zipcode", "footprint"]) {
    assert.equal(sensitiveKey(key), false, key);
  }
  for (const key of ["cc", "cc_number", "ccNumber", "x-api-key", "myPassword", "sessionid", "PIN"]) {
    assert.equal(sensitiveKey(key), true, key);
  }
});
