// @ts-check
/** Text helpers: normalising and comparing names and texts. Pure functions, no DOM. */

/**
 * Collapse whitespace and trim.
 * @param {string | null | undefined} text
 */
export function squash(text) {
  return (text ?? "").replace(/\s+/g, " ").trim();
}

/**
 * The form texts are compared in: whitespace collapsed, lower case.
 * @param {string | null | undefined} text
 */
export function normalize(text) {
  return squash(text).toLowerCase();
}

/**
 * Whether `actual` matches `wanted`: the same text (exact) or containing it, ignoring case and spacing.
 * @param {string | null | undefined} actual
 * @param {string} wanted
 * @param {boolean} exact
 */
export function textMatches(actual, wanted, exact) {
  const a = normalize(actual);
  const w = normalize(wanted);
  if (!a || !w) return false;
  return exact ? a === w : a.includes(w);
}

/**
 * The character bigrams of a string, counted.
 * @param {string} text
 */
function bigrams(text) {
  /** @type {Map<string, number>} */
  const counts = new Map();
  for (let i = 0; i < text.length - 1; i++) {
    const pair = text.slice(i, i + 2);
    counts.set(pair, (counts.get(pair) ?? 0) + 1);
  }
  return counts;
}

/** @param {string} text */
function numbers(text) {
  return (text.match(/\d+/g) ?? []).join(" ");
}

/**
 * How alike two texts are, 0..1: 1 when equal (ignoring case and spacing), else
 * the Sørensen–Dice coefficient of their character bigrams. Numbers identify
 * things ("Invoice 1001" is not "Invoice 1002"), so texts whose numbers differ
 * get half the score.
 * @param {string | null | undefined} left
 * @param {string | null | undefined} right
 */
export function textSimilarity(left, right) {
  const a = normalize(left);
  const b = normalize(right);
  if (a === b) return a ? 1 : 0;
  if (a.length < 2 || b.length < 2) return 0;
  const x = bigrams(a);
  const y = bigrams(b);
  let shared = 0;
  for (const [pair, count] of x) shared += Math.min(count, y.get(pair) ?? 0);
  const dice = (2 * shared) / (a.length - 1 + (b.length - 1));
  return numbers(a) === numbers(b) ? dice : dice / 2;
}

/**
 * At most `max` characters.
 * @param {string} text
 * @param {number} max
 */
export function clip(text, max) {
  return text.length > max ? text.slice(0, max) : text;
}
