// @ts-check
// What the page removes from rrweb's events before sending them (src/cobrowse/scrub.js).
import assert from "node:assert/strict";
import { test } from "node:test";

import { MASK, scrubEvent, urlValue } from "../src/cobrowse/scrub.js";

/**
 * @param {number} id
 * @param {string} tagName
 * @param {Record<string, unknown>} attributes
 * @param {any[]} [childNodes]
 */
const el = (id, tagName, attributes, childNodes = []) => ({ type: 2, id, tagName, attributes, childNodes });
const never = () => false;

/** @param {any} node */
const full = (node) => ({ type: 2, data: { node, initialOffset: { left: 0, top: 0 } }, timestamp: 1 });

test("fields lose their placeholder, title and aria text; hidden inputs their value", () => {
  const page = el(1, "form", {}, [
    el(2, "input", { placeholder: "CANARY-P", title: "CANARY-T", "aria-label": "CANARY-A", value: MASK, name: "email" }),
    el(3, "input", { type: "hidden", value: "CANARY-H", name: "csrf" }),
    el(4, "textarea", { "aria-description": "CANARY-D" }),
    el(5, "button", { title: "Send the invite" }),
  ]);
  const out = scrubEvent(full(page), never);
  const text = JSON.stringify(out);
  for (const canary of ["CANARY-P", "CANARY-T", "CANARY-A", "CANARY-H", "CANARY-D"]) assert.ok(!text.includes(canary), canary);
  const [email, hidden, , button] = out.data.node.childNodes;
  assert.deepEqual(email.attributes, { value: MASK, name: "email" });
  assert.deepEqual(hidden.attributes, { type: "hidden", name: "csrf" });
  assert.equal(button.attributes.title, "Send the invite"); // not a field, not masked: kept
  assert.equal(page.childNodes[1].attributes.value, "CANARY-H", "the page's own event is not changed");
});

test("inside a masked area titles and aria text go too; a blocked element keeps only its size", () => {
  const page = el(1, "div", { "data-tandem-mask": "" }, [
    el(2, "span", { title: "CANARY-T", "aria-label": "CANARY-A", class: "x" }),
    el(3, "div", { rr_width: "200px", rr_height: "30px", class: "secret", "data-tandem-private": "", title: "CANARY-B" }),
  ]);
  const out = scrubEvent(full(page), never);
  assert.deepEqual(out.data.node.childNodes[0].attributes, { class: "x" });
  assert.deepEqual(out.data.node.childNodes[1].attributes, { rr_width: "200px", rr_height: "30px", class: "secret" });
});

test("handlers go, script URLs are emptied and sensitive query values redacted", () => {
  const page = el(1, "div", { onclick: "steal()", ONMOUSEOVER: "x()" }, [
    el(2, "a", { href: "javascript:steal()" }),
    el(3, "a", { href: "https://acme.test/reset?token=CANARY-Q&page=2" }),
    el(4, "img", { src: "/avatar.png?session=CANARY-S" }),
  ]);
  const out = scrubEvent(full(page), never);
  assert.deepEqual(out.data.node.attributes, {});
  const [script, reset, image] = out.data.node.childNodes;
  assert.equal(script.attributes.href, "");
  assert.equal(reset.attributes.href, "https://acme.test/reset?token=redacted&page=2");
  assert.equal(image.attributes.src, "/avatar.png?session=redacted");
});

test("mutations: added nodes under a masked parent, attribute changes and the Meta href", () => {
  const mutation = {
    type: 3, timestamp: 2,
    data: {
      source: 0, texts: [], removes: [],
      adds: [{ parentId: 9, nextId: null, node: el(20, "span", { title: "CANARY-T" }) }],
      attributes: [{ id: 7, attributes: { placeholder: "CANARY-P", value: "CANARY-V", onclick: "x()", class: "on", title: null } }],
    },
  }; // prettier-ignore
  const out = scrubEvent(mutation, (id) => id === 9);
  assert.deepEqual(out.data.adds[0].node.attributes, {});
  assert.deepEqual(out.data.attributes[0].attributes, { class: "on", title: null });
  const meta = scrubEvent({ type: 4, data: { href: "https://acme.test/?password=CANARY", width: 1, height: 1 }, timestamp: 0 }, never);
  assert.equal(meta.data.href, "https://acme.test/?password=redacted");
});

test("URL values: plain paths and data images stay, script URLs in any case or spacing do not", () => {
  assert.equal(urlValue("/team/invite"), "/team/invite");
  assert.equal(urlValue("data:image/png;base64,AAAA"), "data:image/png;base64,AAAA");
  assert.equal(urlValue(" JaVa\tScript:alert(1)"), "");
  assert.equal(urlValue("data:text/html,<script>"), "");
  assert.equal(urlValue("https://user:pw@acme.test/"), "https://acme.test/");
});

test("a rich-text editor's text is masked; srcset and style URLs lose their sensitive values", () => {
  const page = el(1, "div", {}, [
    el(2, "div", { contenteditable: "true" }, [{ type: 3, id: 3, textContent: "typed" }, el(4, "b", { title: "CANARY-T" })]),
    el(5, "img", { srcset: "/a.png?token=CANARY-1 1x, https://x.test/b.png?session=CANARY-2 2x", style: "background: url('/bg.png?token=CANARY-3')" }),
  ]);
  const out = scrubEvent(full(page), never);
  assert.deepEqual(out.data.node.childNodes[0].childNodes[1].attributes, {});
  const image = out.data.node.childNodes[1].attributes;
  assert.equal(image.srcset, "/a.png?token=redacted 1x, https://x.test/b.png?session=redacted 2x");
  assert.equal(image.style, "background: url('/bg.png?token=redacted')");
});
