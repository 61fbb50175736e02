// @ts-check
/** URL patterns of `advance.url` and `expect.url`. */

/**
 * Whether a URL matches a pattern: with the browser's URLPattern when there is one
 * (a pattern starting with "/" is a pathname pattern), else `pathRegExp`.
 * @param {string} pattern
 * @param {string} href
 * @param {any} [URLPatternImpl] the URLPattern constructor (default: the global one)
 */
export function urlMatches(pattern, href, URLPatternImpl = /** @type {any} */ (globalThis).URLPattern) {
  let url;
  try {
    url = new URL(href);
  } catch {
    return false;
  }
  if (URLPatternImpl) {
    try {
      const compiled = pattern.startsWith("/") ? new URLPatternImpl({ pathname: pattern }) : new URLPatternImpl(pattern);
      return Boolean(compiled.test(url.href));
    } catch {
      // not a valid pattern: read it by hand
    }
  }
  const path = pattern.startsWith("/") ? pattern : safePath(pattern);
  if (path === null) return false;
  return pathRegExp(path).test(url.pathname);
}

/**
 * The common subset of URLPattern pathname syntax, for browsers without it: `:name` is one
 * segment, `*` is anything; everything else is literal.
 * @param {string} path
 */
export function pathRegExp(path) {
  const source = path
    .split(/(:[A-Za-z_][A-Za-z0-9_]*|\*)/)
    .map((part) => (part === "*" ? ".*" : part.startsWith(":") ? "[^/]+" : part.replace(/[.+?^${}()|[\]\\]/g, "\\$&")))
    .join("");
  return new RegExp(`^${source}$`);
}

/** @param {string} pattern */
function safePath(pattern) {
  try {
    return new URL(pattern).pathname;
  } catch {
    return null;
  }
}
