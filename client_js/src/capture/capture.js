// @ts-check
/**
 * What the author does, captured in every page and frame (the recorder adds this as an
 * init script, so it runs in each frame before the page's own code) and sent to the
 * recorder through one exposed binding. Events are read on the window in the capture
 * phase, at their real target inside open shadow roots (the composed path), before the
 * page reacts to them. Each sent event carries the target's descriptor, generated here.
 *
 * Privacy: the value of a private field — a password field (or one that ever was), an
 * autocomplete one-time-code / cc-* / *-password field, anything in [data-tandem-private],
 * a field the author marked private, or a value that looks like a card number — never
 * leaves the page: the event says only that something private was typed. File names of
 * uploads are never sent either.
 */
import { isPrivateField } from "../player/private-field.js";
import { frameElementOf, isElement, tagOf } from "../resolver/dom.js";
import { isVisible } from "../resolver/visibility.js";
import { candidatesFor, descriptorFor, expectationSelector, isTandemUi } from "./generate.js";
import {
  CAPTCHA,
  FIELDS,
  HOVER_MS,
  KEYS,
  clickTarget,
  inPrivateRegion,
  isClickable,
  isField,
  isInput,
  isTextField,
  labelOf,
  looksLikeCardNumber,
  realTarget,
  submitterOf,
} from "./fields.js";

/**
 * One captured event as sent: its `type` (click, input, select, check, press, submit, upload,
 * captcha, hover, pick, hello, command), this frame's id, and for element events `ref` (the
 * element, numbered per frame: consecutive typing in one field merges), `target` (its
 * descriptor) and `label` (what it is called, for the step's text).
 * @typedef {{type: string} & Record<string, unknown>} Sent
 */

/**
 * Install the capture in one window (a page or a frame).
 * @param {{win: Window & typeof globalThis, send: (event: Sent) => Promise<unknown>, testIdAttribute?: string}} options
 */
export function installCapture({ win, send, testIdAttribute = "data-testid" }) {
  const doc = win.document;
  const frame = Math.random().toString(36).slice(2, 10);
  // An iframe of another origin: its elements cannot be reached from the top page.
  const crossOrigin = win.top !== win && frameElementOf(doc) === null;
  /** @type {WeakMap<Element, number>} */
  const refs = new WeakMap();
  let nextRef = 1;
  /** Fields that were once password fields: private for good, whatever they show now. */
  const everPassword = new WeakSet();
  /** Fields the author marked private here, or whose typing looked like a card number. */
  const markedPrivate = new WeakSet();
  /** Fields the author marked private on any page so far (their candidates, from the recorder). */
  /** @type {string[]} */
  let authorMarks = [];
  /** @type {WeakMap<Element, boolean>} */
  let authorMarked = new WeakMap();
  /**
   * The field being typed into: its value is sent once, when the typing ends (the field loses
   * focus or changes, another event comes, the page goes away, the recorder asks) — so it is
   * judged whole (a card number is one before its last digit is typed) and a pause sends nothing.
   * @type {{element: Element, target: import("../resolver/types.js").Descriptor, label: string, ref: number} | null}
   */
  let typing = null;
  let lastStepAt = 0;
  /** @type {{element: Element, at: number, opened: Element[]} | null} */
  let hovering = null;
  /** @type {null | "expect" | "private"} */
  let picking = null;
  /** @type {WeakSet<Element>} */
  const captchasSeen = new WeakSet();
  /** The sends not yet answered: `flush` waits for them. */
  let pending = Promise.resolve(/** @type {unknown} */ (null));

  /** @param {Element} element */
  const refOf = (element) => {
    if (!refs.has(element)) refs.set(element, nextRef++);
    return /** @type {number} */ (refs.get(element));
  };
  /** @param {Sent} event */
  const emit = (event) => {
    // `at`: when it happened (the wall clock the recorder's own shares), so that an event of one
    // frame reaching the recorder after another frame's navigation is still put before it.
    const sent = send({ ...event, frame, at: Date.now(), ...(crossOrigin && event.target ? { cross_origin: true } : {}) });
    pending = pending.then(() => sent).catch(() => null);
    return sent;
  };
  /** @param {Element} element */
  const isAuthorMarked = (element) => {
    if (!authorMarks.length) return false;
    if (!authorMarked.has(element)) {
      const mine = candidatesFor(element, { testIdAttribute, conceal: true }).map((c) => JSON.stringify(c));
      authorMarked.set(element, mine.some((c) => authorMarks.includes(c)));
    }
    return /** @type {boolean} */ (authorMarked.get(element));
  };
  /** @param {Element} element */
  const privateReason = (element) => {
    if (isInput(element) && (element.getAttribute("type") ?? "").toLowerCase() === "password") everPassword.add(element);
    if (everPassword.has(element)) return "password";
    if (markedPrivate.has(element) || isAuthorMarked(element)) return "marked";
    if (isPrivateField(element)) {
      const autocomplete = (element.getAttribute("autocomplete") ?? "").toLowerCase();
      if (autocomplete.includes("one-time-code")) return "one-time code";
      if (autocomplete.includes("cc-")) return "card";
      return autocomplete.includes("password") ? "password" : "marked";
    }
    return null;
  };
  /** What an element shows must not be written: a private field, typed content, a private region. */
  const concealed = (/** @type {Element} */ element) =>
    !!privateReason(element) || inPrivateRegion(element) || /** @type {HTMLElement} */ (element).isContentEditable === true;
  /** @param {Element} element */
  const describeTarget = (element) => {
    const conceal = concealed(element);
    const target = descriptorFor(element, { testIdAttribute, conceal });
    return { target, label: labelOf(element, target, conceal), ref: refOf(element) };
  };

  /** @param {Document | ShadowRoot} root */
  const observe = (root) => {
    // A field that turns from a password field into a text field ("show password") stays private.
    new win.MutationObserver((records) => {
      for (const record of records) {
        if (record.oldValue?.toLowerCase() === "password" && isElement(record.target)) everPassword.add(record.target);
      }
    }).observe(root, { subtree: true, attributes: true, attributeFilter: ["type"], attributeOldValue: true });
    // Content that appears while the pointer rests on something: a hover-opened menu.
    new win.MutationObserver((records) => {
      if (!hovering || performance.now() - hovering.at > HOVER_MS) return;
      for (const record of records) {
        const nodes = record.type === "childList" ? Array.from(record.addedNodes) : [record.target];
        for (const node of nodes) if (isElement(node) && opensNew(node)) hovering.opened.push(node);
      }
    }).observe(root, { subtree: true, childList: true, attributes: true, attributeFilter: ["hidden", "style", "class", "open", "aria-hidden"] });
  };
  /** New content a hover opened: visible, not the page's frame, not around what is hovered. */
  const opensNew = (/** @type {Element} */ node) =>
    !!hovering && !isTandemUi(node) && !["html", "body", "main"].includes(tagOf(node)) &&
    !hovering.element.contains(node) && !node.contains(hovering.element) && isVisible(node);
  observe(doc);
  // Shadow roots (open or closed) are observed as they are made: the init script runs first.
  const attachShadow = win.Element.prototype.attachShadow;
  win.Element.prototype.attachShadow = function (/** @type {ShadowRootInit} */ init) {
    const root = attachShadow.call(this, init);
    try {
      observe(root);
    } catch {
      // never break the page
    }
    return root;
  };

  /** The typing is over: send its field's value (or only that it was private). */
  const endTyping = () => {
    if (!typing) return;
    const { element, target, label, ref } = typing;
    typing = null;
    const value = /** @type {HTMLInputElement} */ (element).value ?? element.textContent ?? "";
    let reason = privateReason(element) ?? (inPrivateRegion(element) ? "marked" : null);
    if (!reason && looksLikeCardNumber(value)) {
      markedPrivate.add(element);
      reason = "card";
    }
    void emit({ type: "input", ref, target, label, private: reason, value: reason ? null : value });
  };

  /** @param {Event} event */
  const ours = (event) => event.composedPath().some((node) => isElement(node) && isTandemUi(node));

  /**
   * A capture-phase listener that never breaks the page: a failure is reported, not thrown.
   * @param {string} type
   * @param {(event: any) => void} handle
   */
  const listen = (type, handle) => {
    win.addEventListener(type, (event) => {
      try {
        handle(event);
      } catch (error) {
        void emit({ type: "error", where: type, message: String(error).slice(0, 300) });
      }
    }, true); // prettier-ignore
  };

  listen("mouseover", (event) => {
    if (!event.isTrusted || ours(event)) return;
    const element = realTarget(event);
    if (!element) return;
    const target = clickTarget(element);
    if (hovering && (hovering.element === target || hovering.opened.some((o) => o.contains(target)))) return;
    hovering = { element: target, at: performance.now(), opened: [] };
  });

  listen("focusin", (event) => {
    const element = realTarget(event);
    if (element) privateReason(element); // a password field is remembered before it can change type
  });

  listen("click", (event) => {
    if (!event.isTrusted) return;
    const element = realTarget(event);
    if (!element) return;
    if (picking && !ours(event)) {
      event.preventDefault();
      event.stopImmediatePropagation();
      pick(element);
      return;
    }
    if (ours(event)) return;
    const captcha = element.closest(CAPTCHA);
    if (captcha) {
      sendCaptcha(captcha);
      return;
    }
    const target = clickTarget(element);
    if (isField(target)) return; // typing, choosing and ticking are their own steps
    if (tagOf(target) === "label" && /** @type {HTMLLabelElement} */ (target).control) return;
    endTyping();
    const opened = hovering && performance.now() - hovering.at < 30_000 ? hovering : null;
    if (opened && opened.opened.some((o) => o.contains(target)) && !opened.element.contains(target)) {
      const appeared = opened.opened.find((o) => o.contains(target)) ?? null;
      void emit({ type: "hover", ...describeTarget(opened.element), appears: appeared ? expectationSelector(appeared, { testIdAttribute }) : null });
    }
    hovering = null;
    lastStepAt = performance.now();
    void emit({ type: "click", ...describeTarget(target) });
  });

  /** @param {Element} element what the author clicked while picking */
  const pick = (element) => {
    const purpose = picking;
    picking = null;
    if (purpose === "expect") {
      void emit({ type: "pick", purpose, selector: expectationSelector(element, { testIdAttribute }), label: describeTarget(element).label });
      return;
    }
    // The field itself, whether its label, a wrapper or the field was clicked.
    const label = element.closest("label");
    const field = element.matches(FIELDS) ? element
      : (label && /** @type {HTMLLabelElement} */ (label).control) || element.closest(FIELDS) || element.querySelector(FIELDS); // prettier-ignore
    if (!field) {
      void emit({ type: "pick", purpose: "private", not_field: true });
      return;
    }
    markedPrivate.add(field);
    const { ref, label: name } = describeTarget(field);
    const marks = candidatesFor(field, { testIdAttribute, conceal: true });
    void emit({ type: "pick", purpose: "private", ref, label: name, candidates: marks });
  };

  listen("input", (event) => {
    if (!event.isTrusted || ours(event)) return;
    const element = realTarget(event);
    if (!element || !isTextField(element)) return;
    if (typing && typing.element !== element) endTyping();
    if (!typing) typing = { element, ...describeTarget(element) };
  });

  listen("focusout", (event) => {
    if (typing && realTarget(event) === typing.element) endTyping();
  });
  win.addEventListener("pagehide", () => endTyping());

  listen("change", (event) => {
    const element = realTarget(event);
    if (!element || ours(event)) return;
    const tag = tagOf(element);
    const type = (element.getAttribute("type") ?? "").toLowerCase();
    // A <select> or a file input changed by a script (Playwright's select_option or
    // set_input_files, an assistive tool) is still the author's choice; other controls only
    // count when a person changed them.
    if (!event.isTrusted && tag !== "select" && !(tag === "input" && type === "file")) return;
    if (typing?.element === element) {
      endTyping();
      return;
    }
    const reason = privateReason(element) ?? (inPrivateRegion(element) ? "marked" : null);
    if (tag === "select") {
      const select = /** @type {HTMLSelectElement} */ (element);
      endTyping();
      lastStepAt = performance.now();
      const option = select.selectedOptions[0];
      const chosen = reason ? { private: reason, value: null, option: null } : { value: select.value, option: option ? option.text.trim().slice(0, 80) : select.value };
      void emit({ type: "select", ...describeTarget(element), ...chosen });
    } else if (tag === "input" && (type === "checkbox" || type === "radio")) {
      endTyping();
      lastStepAt = performance.now();
      const checked = /** @type {HTMLInputElement} */ (element).checked;
      void emit({ type: "check", ...describeTarget(element), checked, radio: type === "radio", private: reason });
    } else if (tag === "input" && type === "file") {
      endTyping();
      lastStepAt = performance.now();
      void emit({ type: "upload", ...describeTarget(element) }); // the file's name is never sent
    }
  });

  listen("keydown", (event) => {
    if (!event.isTrusted || event.isComposing) return;
    if (picking && event.key === "Escape") {
      picking = null;
      void emit({ type: "pick", purpose: "cancel" });
      return;
    }
    if (ours(event) || !KEYS.has(event.key)) return;
    const element = realTarget(event);
    if (event.key === "Enter" && element && (tagOf(element) === "textarea" || /** @type {HTMLElement} */ (element).isContentEditable)) return;
    // Enter on a button or link clicks it, and Enter in a form's field clicks its submit button:
    // the click is the step (it is what a visitor does, and what drive mode can do).
    if (event.key === "Enter" && element) {
      const clicked = clickTarget(element);
      if ((isClickable(clicked) && !isField(clicked)) || submitterOf(element)) {
        endTyping();
        return;
      }
    }
    const focused = element && tagOf(element) !== "body" && tagOf(element) !== "html" ? element : null;
    const typedInto = typing?.element === focused;
    endTyping();
    lastStepAt = performance.now();
    void emit({ type: "press", key: event.key, after_typing: typedInto, ...(focused ? describeTarget(focused) : {}) });
  });

  listen("submit", (event) => {
    if (!event.isTrusted) return;
    const form = /** @type {HTMLFormElement} */ (realTarget(event));
    if (!form || tagOf(form) !== "form") return;
    const method = (form.getAttribute("method") ?? "get").toLowerCase();
    // Names of private fields a GET form would put in the URL: the recorder removes their values.
    const privateNames = Array.from(form.elements)
      .filter((field) => field.getAttribute("name") && (privateReason(field) || inPrivateRegion(field)))
      .map((field) => /** @type {string} */ (field.getAttribute("name")));
    const submitter = /** @type {SubmitEvent} */ (event).submitter;
    const unrecorded = performance.now() - lastStepAt > 1000;
    endTyping();
    if (unrecorded && submitter) void emit({ type: "click", ...describeTarget(submitter) });
    void emit({ type: "submit", method, private_names: privateNames });
  });

  /** @param {Element} element */
  const sendCaptcha = (element) => {
    if (captchasSeen.has(element)) return;
    captchasSeen.add(element);
    endTyping();
    lastStepAt = performance.now();
    void emit({ type: "captcha", ...describeTarget(element) });
  };
  // Focus moving into a captcha's (cross-origin) frame: the window loses focus to it.
  win.addEventListener("blur", () => {
    win.setTimeout(() => {
      const active = doc.activeElement;
      if (active && tagOf(active) === "iframe" && active.matches(CAPTCHA)) sendCaptcha(active.closest(CAPTCHA) ?? active);
    }, 0);
  });

  // Navigations the page makes (links, forms, scripts, SPA routes) — as opposed to the author
  // typing an address, going back or reloading — are announced, so the recorder credits them to
  // the step that caused them. Only the address's path is sent: a GET form's query may hold a
  // private value.
  const nav = /** @type {any} */ (win).navigation;
  if (win.top === win && nav && typeof nav.addEventListener === "function") {
    nav.addEventListener("navigate", (/** @type {any} */ event) => {
      try {
        if (event.navigationType === "traverse" || event.navigationType === "reload") return;
        if (event.downloadRequest !== null && event.downloadRequest !== undefined) return;
        if (event.hashChange) return;
        const url = new URL(String(event.destination?.url ?? ""), win.location.href);
        void emit({ type: "navigating", url: url.origin + url.pathname });
      } catch {
        // not a URL: the navigation itself will fail
      }
    });
  }

  return {
    frame,
    /** Wait until everything captured so far (typing under way included) has reached the recorder. */
    flush: () => {
      endTyping();
      return pending;
    },
    /** @param {"expect" | "private"} purpose the next click picks an element for this */
    pick: (purpose) => {
      picking = purpose;
    },
    /** @param {unknown} marks the candidates of fields the author marked private, from the recorder */
    setMarks: (marks) => {
      if (!Array.isArray(marks)) return;
      const next = marks.map((m) => JSON.stringify(m));
      if (next.length !== authorMarks.length) authorMarked = new WeakMap(); // judge every field again
      authorMarks = next;
    },
  };
}
