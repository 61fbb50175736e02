// @ts-check
// The resolver's pure parts: comparing texts, and the decision rules over votes and similarities.
// (Its DOM parts run in real Chromium: tests/browser/test_resolver.py.)
import assert from "node:assert/strict";
import { test } from "node:test";

import { IDENTITY_MIN, MARGIN, decideByFingerprint, decideVotes, voteWeight } from "../src/resolver/decide.js";
import { normalize, textMatches, textSimilarity } from "../src/resolver/text.js";

/**
 * A contender for the decision functions.
 * @param {string} element
 * @param {Partial<import("../src/resolver/decide.js").Contender<string>>} [fields]
 * @returns {import("../src/resolver/decide.js").Contender<string>}
 */
function contender(element, fields = {}) {
  return { element, support: 0, firstRank: false, similarity: 0, identity: null, strategy: "css", candidate: 1, ...fields };
}

test("texts compare ignoring case and runs of whitespace", () => {
  assert.equal(normalize("  Send\n  invitation "), "send invitation");
  assert.ok(textMatches("Send  Invitation", "send invitation", true));
  assert.ok(!textMatches("Send invitation now", "send invitation", true));
  assert.ok(textMatches("Send invitation now", "invitation", false));
  assert.ok(!textMatches("", "", true), "nothing matches an empty text");
});

test("similarity: 1 for the same text, partial for rewordings, low for other words", () => {
  assert.equal(textSimilarity("Save address", " save  ADDRESS"), 1);
  assert.equal(textSimilarity("", ""), 0);
  const reworded = textSimilarity("Send invitation", "Send invite");
  assert.ok(reworded >= IDENTITY_MIN && reworded < 1, `${reworded}`);
  const neighbour = textSimilarity("Delete account", "Delete project");
  assert.ok(neighbour < IDENTITY_MIN, `${neighbour}`);
  assert.ok(textSimilarity("Invite a teammate", "Add a team member") < 0.5);
});

test("similarity: texts whose numbers differ are not alike", () => {
  const same = textSimilarity("Edit invoice 1001", "Edit invoice 1001 ");
  const other = textSimilarity("Edit invoice 1001", "Edit invoice 1002");
  assert.equal(same, 1);
  assert.ok(other < IDENTITY_MIN, `${other}`);
});

test("votes weigh less with rank", () => {
  assert.equal(voteWeight(0), 1);
  assert.ok(voteWeight(1) < 1 && voteWeight(2) < voteWeight(1));
});

test("the first candidate alone decides, whatever the similarity", () => {
  const decision = decideVotes([contender("a", { support: 1, firstRank: true, similarity: 0.2, identity: 0 })], 0.6);
  assert.deepEqual(decision.outcome === "found" && decision.pick.element, "a");
});

test("a later candidate's element needs the threshold and a matching identity", () => {
  const alike = contender("a", { support: 0.75, similarity: 0.8, identity: 0.9 });
  assert.equal(decideVotes([alike], 0.6).outcome, "found");
  assert.equal(decideVotes([{ ...alike, similarity: 0.5 }], 0.6).outcome, "none");
  assert.equal(decideVotes([{ ...alike, identity: 0.4 }], 0.6).outcome, "none", "a look-alike neighbour is refused");
  assert.equal(decideVotes([{ ...alike, identity: null }], 0.6).outcome, "found", "nothing names it: similarity alone");
});

test("disagreeing candidates with alike elements are ambiguous; a clear favourite wins", () => {
  const first = contender("a", { support: 1, firstRank: true, similarity: 0.9, identity: 1 });
  const close = contender("b", { support: 0.75, similarity: 0.9 - MARGIN / 2, identity: 1 });
  const far = contender("c", { support: 0.75, similarity: 0.65, identity: 1 });
  assert.equal(decideVotes([first, close], 0.6).outcome, "ambiguous");
  const decision = decideVotes([far, first], 0.6);
  assert.equal(decision.outcome === "found" && decision.pick.element, "a");
});

test("the fingerprint alone finds only a named element, above the threshold, clearly ahead", () => {
  const best = contender("a", { similarity: 0.9, identity: 1 });
  const runnerUp = contender("b", { similarity: 0.7, identity: 0.8 });
  const pick = decideByFingerprint([runnerUp, best], 0.6);
  assert.equal(pick.outcome === "found" && pick.pick.element, "a");
  assert.equal(decideByFingerprint([best, { ...runnerUp, similarity: 0.85 }], 0.6).outcome, "ambiguous");
  assert.equal(decideByFingerprint([{ ...best, similarity: 0.55 }], 0.6).outcome, "none");
  assert.equal(decideByFingerprint([{ ...best, identity: null }], 0.6).outcome, "none", "nothing names it: no guess");
  assert.equal(decideByFingerprint([{ ...best, identity: 0.5 }], 0.6).outcome, "none");
});
