// @ts-check
/**
 * The decision rules, apart from the DOM: which of the elements the candidates
 * voted for (or, failing that, which element of the page) is the target — or
 * that none can be trusted. Pure functions over plain records.
 */

/** A candidate's vote counts RANK_DECAY^index: 1, 0.75, 0.56, 0.42… */
export const RANK_DECAY = 0.75;

/** Similarities closer than this cannot tell two elements apart. */
export const MARGIN = 0.1;

/** How well an element's name, text or distinctive attributes must match, unless the first candidate chose it alone. */
export const IDENTITY_MIN = 0.7;

/**
 * An element in the running: the votes it got and how much it looks like the fingerprint.
 * @template T
 * @typedef {object} Contender
 * @property {T} element
 * @property {number} support the sum of the weights of the candidates that matched it alone
 * @property {boolean} firstRank whether the first candidate matched it alone
 * @property {number} similarity
 * @property {number | null} identity null: the fingerprint has nothing that names the element
 * @property {string} strategy the kind of the best-ranked candidate that voted for it, or "fingerprint"
 * @property {number} candidate that candidate's index, or -1
 */

/**
 * @template T
 * @typedef {{outcome: "found", pick: Contender<T>} | {outcome: "ambiguous" | "none"}} Decision
 */

/**
 * The weight of a vote from the candidate at this rank.
 * @param {number} index
 */
export function voteWeight(index) {
  return RANK_DECAY ** index;
}

/**
 * Whether what names the element matches the fingerprint well enough.
 * @param {{identity: number | null}} contender
 * @param {boolean} required whether a fingerprint without naming parts fails
 */
function identified(contender, required) {
  return contender.identity === null ? !required : contender.identity >= IDENTITY_MIN;
}

/**
 * Among the elements candidates voted for: those the first candidate chose alone,
 * or that look enough like the fingerprint, are acceptable; the best supported wins,
 * unless another acceptable one looks as much like the fingerprint (ambiguous).
 * @template T
 * @param {Contender<T>[]} contenders
 * @param {number} threshold
 * @returns {Decision<T>}
 */
export function decideVotes(contenders, threshold) {
  const acceptable = contenders.filter((c) => c.firstRank || (c.similarity >= threshold && identified(c, false)));
  if (!acceptable.length) return { outcome: "none" };
  acceptable.sort((a, b) => b.support - a.support || b.similarity - a.similarity);
  const [best, ...others] = acceptable;
  if (others.some((other) => other.similarity > best.similarity - MARGIN)) return { outcome: "ambiguous" };
  return { outcome: "found", pick: best };
}

/**
 * Without a usable vote: the element most like the fingerprint, if it is named like
 * it, reaches the threshold and is clearly ahead of the runner-up.
 * @template T
 * @param {Contender<T>[]} scored elements of the fingerprint's tag (and role)
 * @param {number} threshold
 * @returns {Decision<T>}
 */
export function decideByFingerprint(scored, threshold) {
  const named = scored.filter((c) => identified(c, true)).sort((a, b) => b.similarity - a.similarity);
  const [best, second] = named;
  if (!best || best.similarity < threshold) return { outcome: "none" };
  if (second && second.similarity > best.similarity - MARGIN) return { outcome: "ambiguous" };
  return { outcome: "found", pick: best };
}
