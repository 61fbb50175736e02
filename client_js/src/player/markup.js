// @ts-check
/**
 * Step text: the safe markdown subset of server/knowledge/markup.py (**bold**, *em*,
 * `code`, [links](https://…|/path), line breaks), parsed into spans and built with
 * DOM calls — never innerHTML.
 */

const INLINE = /\*\*(.+?)\*\*|\*(.+?)\*|`([^`\n]+)`|\[([^\]\n]+)\]\(([^)\s]+)\)/g;

/**
 * @typedef {{kind: "text" | "strong" | "em" | "code" | "link" | "br", text: string, href?: string}} Span
 */

/**
 * Whether a link target is allowed: an http(s) URL or a path on the site.
 * @param {string} href
 */
export function safeHref(href) {
  return /^https?:\/\//i.test(href) || (href.startsWith("/") && !href.startsWith("//"));
}

/**
 * The spans of a step text, in order (the same as the server's `parse_text`).
 * @param {string} text
 * @returns {Span[]}
 */
export function parseText(text) {
  /** @type {Span[]} */
  const spans = [];
  text.split("\n").forEach((line, lineNo) => {
    if (lineNo) spans.push({ kind: "br", text: "" });
    let pos = 0;
    for (const match of line.matchAll(INLINE)) {
      const start = match.index ?? 0;
      if (start > pos) spans.push({ kind: "text", text: line.slice(pos, start) });
      const [, bold, em, code, label, href] = match;
      if (bold !== undefined) spans.push({ kind: "strong", text: bold });
      else if (em !== undefined) spans.push({ kind: "em", text: em });
      else if (code !== undefined) spans.push({ kind: "code", text: code });
      else if (safeHref(href)) spans.push({ kind: "link", text: label, href });
      else spans.push({ kind: "text", text: match[0] });
      pos = start + match[0].length;
    }
    if (pos < line.length) spans.push({ kind: "text", text: line.slice(pos) });
  });
  return spans;
}

/**
 * DOM nodes for a step text. http(s) links open in a new tab, without opener or referrer.
 * @param {Pick<Document, "createElement" | "createTextNode">} doc
 * @param {string} text
 * @returns {Node[]}
 */
export function renderText(doc, text) {
  return parseText(text).map((span) => {
    if (span.kind === "text") return doc.createTextNode(span.text);
    if (span.kind === "br") return doc.createElement("br");
    const element = doc.createElement(span.kind === "link" ? "a" : span.kind);
    element.textContent = span.text;
    if (span.kind === "link" && span.href) {
      element.setAttribute("href", span.href);
      element.setAttribute("rel", "noopener noreferrer");
      if (/^https?:/i.test(span.href)) element.setAttribute("target", "_blank");
    }
    return element;
  });
}
