// @ts-check
// The recorder capture's pure parts: which names look generated, which values look like card
// numbers. (Its DOM parts run in real Chromium: tests/browser/test_recorder.py.)
import assert from "node:assert/strict";
import { test } from "node:test";

import { looksLikeCardNumber } from "../src/capture/fields.js";
import { looksGenerated } from "../src/capture/generate.js";

test("names people write are kept", () => {
  for (const name of ["invite-open", "address-line1", "btn-primary", "mainNav", "card", "h2", "step-2", "InviteForm", "nav_item"]) {
    assert.equal(looksGenerated(name), false, name);
  }
});

test("names builds and frameworks generate are rejected", () => {
  // The demo's mutated variant (e + 6 hex digits), CSS-in-JS hashes, counters, UUIDs, React ids.
  for (const name of ["e3fa9c1", "e0b1c2d", "css-1x2y3z", "sc-bdVaJa", "jsx-2871231", "ember1234", "_3xYz9Qa", ":r1:", "3f2504e0-4f89-11d3-9a0c-0305e82c3301", "a8f5f167f44f4964e6c998dee827110c", "x9K2pL7mQ", "",
    // Framework counters and CSS modules: Radix, Headless UI, React 19, Angular Material, jQuery UI, JSF, JSS.
    "radix-:r2:", "headlessui-menu-button-:r1:", "«r1»", "_r_1_", "Home_container__d4b2f", "mat-input-0",
    "cdk-overlay-0", "ui-id-3", "j_idt12:email", "jss123"]) {
    assert.equal(looksGenerated(name), true, name);
  }
});

test("card numbers are recognised by length and Luhn's check", () => {
  assert.ok(looksLikeCardNumber("4242 4242 4242 4242"));
  assert.ok(looksLikeCardNumber("4242-4242-4242-4242"));
  assert.ok(looksLikeCardNumber("378282246310005")); // 15 digits
  assert.ok(!looksLikeCardNumber("4242 4242 4242 4241"), "fails Luhn's check");
  assert.ok(!looksLikeCardNumber("1234"), "too short");
  assert.ok(!looksLikeCardNumber("INV-1001"));
});
