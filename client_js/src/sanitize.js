// @ts-check
/**
 * Remove what must not leave the page from a URL before it is reported:
 * credentials (`user:pass@`), and the values of sensitive-looking query and
 * fragment parameters (`?token=…`, `#access_token=…`). Everything else is
 * kept byte for byte. The server applies the same rule again
 * (server/knowledge/location.py, `sensitive_key`).
 */

/**
 * A key is sensitive when one of its words (split at punctuation and camelCase)
 * is one of these, or when it contains one of SENSITIVE_PARTS. Same rule as the
 * server's; tests/golden/redaction_cases.json runs on both sides.
 */
export const SENSITIVE_WORDS = new Set(
  ("pass password passwd pwd secret token auth authorization session sid key code otp pin " +
    "signature sig card cc cvv cvc csc ssn iban email jwt bearer credential credentials").split(" "),
);
export const SENSITIVE_PARTS = ["password", "passwd", "secret", "token", "apikey", "sessionid", "signature", "bearer", "credential"];
const WORD = /[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+/g;

/**
 * True when a parameter's value must not leave the page.
 * @param {string} key
 */
export function sensitiveKey(key) {
  for (const word of key.match(WORD) || []) if (SENSITIVE_WORDS.has(word.toLowerCase())) return true;
  const compact = key.toLowerCase().replace(/[^a-z0-9]/g, "");
  return SENSITIVE_PARTS.some((part) => compact.includes(part));
}

/** What a sensitive value is replaced with. */
export const REDACTED = "redacted";

/**
 * @param {string} href an absolute URL
 * @returns {string} the URL without credentials or sensitive values; "" if it is not a URL
 */
export function sanitizeUrl(href) {
  /** @type {URL} */
  let url;
  try {
    url = new URL(href);
  } catch {
    return "";
  }
  url.username = "";
  url.password = "";
  if (url.search.length > 1) url.search = redactPairs(url.search.slice(1));
  if (url.hash.length > 1 && url.hash.includes("=")) url.hash = redactPairs(url.hash.slice(1));
  return url.href;
}

/**
 * Redact the values of sensitive keys in `a=1&b=2`, leaving every other pair as it was.
 * @param {string} text
 */
function redactPairs(text) {
  return text
    .split("&")
    .map((pair) => {
      const eq = pair.indexOf("=");
      if (eq < 0) return pair;
      const key = pair.slice(0, eq);
      return sensitiveKey(decodeKey(key)) ? `${key}=${REDACTED}` : pair;
    })
    .join("&");
}

/** @param {string} key */
function decodeKey(key) {
  try {
    return decodeURIComponent(key.replace(/\+/g, " "));
  } catch {
    return key;
  }
}
