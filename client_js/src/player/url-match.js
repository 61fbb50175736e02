// @ts-check
/** URL patterns of `advance.url` and `expect.url`. */

/**
 * Whether a URL matches a pattern: with the browser's URLPattern when there is one
 * (a pattern starting with "/" is a pathname pattern), else a pathname prefix check.
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
      // not a valid pattern: fall back to the prefix check
    }
  }
  const path = pattern.startsWith("/") ? pattern : safePath(pattern);
  if (path === null) return false;
  return url.pathname === path || url.pathname.startsWith(path.endsWith("/") ? path : `${path}/`);
}

/** @param {string} pattern */
function safePath(pattern) {
  try {
    return new URL(pattern).pathname;
  } catch {
    return null;
  }
}
