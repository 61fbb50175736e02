// @ts-check
/**
 * One resolving pass: the candidates vote, the fingerprint checks the votes,
 * and when no candidate picks an element alone the fingerprint alone may find it.
 */
import { matchCandidate } from "./candidates.js";
import { decideByFingerprint, decideVotes, voteWeight } from "./decide.js";
import { tagOf } from "./dom.js";
import { compare } from "./fingerprint.js";
import { Search, followFrames } from "./search.js";
import { isVisible } from "./visibility.js";

/** @typedef {import("./types.js").Descriptor} Descriptor */
/** @typedef {import("./types.js").Fingerprint} Fingerprint */
/** @typedef {import("./types.js").ResolveOptions} ResolveOptions */
/** @typedef {import("./types.js").Resolution} Resolution */
/** @typedef {import("./types.js").Tried} Tried */
/** @typedef {import("./decide.js").Contender<Element>} Contender */
/** @typedef {import("./decide.js").Decision<Element>} Decision */

/**
 * The options, with their defaults.
 * @param {ResolveOptions} options
 */
export function settle(options) {
  return {
    threshold: options.threshold ?? 0.6,
    timeoutMs: Math.max(0, options.timeoutMs ?? 0),
    root: options.root ?? document,
    testIdAttribute: options.testIdAttribute ?? "data-testid",
  };
}

/**
 * Every candidate's matches; an element matched alone by a candidate gets its vote.
 * @param {Descriptor} descriptor
 * @param {Search} search
 */
function vote(descriptor, search) {
  /** @type {Tried[]} */
  const tried = [];
  /** @type {Map<Element, Contender>} */
  const contenders = new Map();
  (descriptor.candidates ?? []).forEach((candidate, index) => {
    const found = matchCandidate(candidate, search);
    tried.push({ kind: candidate.kind, index, matches: found.length });
    if (found.length !== 1) return;
    const element = found[0];
    const contender = contenders.get(element) ?? {
      element, support: 0, firstRank: false, strategy: candidate.kind, candidate: index,
      ...compare(descriptor.fingerprint, element, search),
    }; // prettier-ignore
    contender.support += voteWeight(index);
    contender.firstRank ||= index === 0;
    contenders.set(element, contender);
  });
  return { tried, contenders: [...contenders.values()] };
}

/**
 * The elements of the fingerprint's tag (and role), scored against it.
 * @param {Fingerprint} fp
 * @param {Search} search
 * @returns {Contender[]}
 */
function scoreLookalikes(fp, search) {
  const plausible = search.elements.filter((e) => tagOf(e) === fp.tag && (!fp.role || search.role(e) === fp.role));
  return plausible.map((element) => ({
    element, support: 0, firstRank: false, strategy: "fingerprint", candidate: -1,
    ...compare(fp, element, search),
  })); // prettier-ignore
}

/**
 * @param {Decision} decision
 * @param {Tried[]} tried
 * @returns {Resolution}
 */
function toResolution(decision, tried) {
  if (decision.outcome === "found") {
    const { element, strategy, candidate, similarity } = decision.pick;
    const status = isVisible(element) ? "found" : "not_visible";
    return { status, element, strategy, candidate, similarity, tried };
  }
  const crowded = tried.some((t) => t.matches > 1);
  const status = decision.outcome === "ambiguous" || crowded ? "ambiguous" : "not_found";
  return { status, element: null, strategy: null, candidate: -1, similarity: 0, tried };
}

/**
 * One pass over the page; also says which roots it searched, for watching them.
 * @param {Descriptor} descriptor
 * @param {ReturnType<typeof settle>} settings
 */
export function pass(descriptor, settings) {
  const fp = descriptor.fingerprint ?? null;
  const inFrame = fp?.frame?.length ? followFrames(settings.root, fp.frame) : null;
  const search = new Search(inFrame ?? settings.root, settings.testIdAttribute);
  const { tried, contenders } = vote(descriptor, search);
  let decision = decideVotes(contenders, settings.threshold);
  if (decision.outcome === "none" && fp?.tag) decision = decideByFingerprint(scoreLookalikes(fp, search), settings.threshold);
  return { resolution: toResolution(decision, tried), roots: search.roots };
}

/**
 * Resolve a target descriptor now, in one pass, without waiting.
 * @param {Descriptor} descriptor
 * @param {ResolveOptions} [options]
 * @returns {Resolution}
 */
export function resolveNow(descriptor, options = {}) {
  return pass(descriptor, settle(options)).resolution;
}
