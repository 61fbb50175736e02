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
import { hostOf, isElement, tagOf } from "../resolver/dom.js";
import { isVisible } from "../resolver/visibility.js";
import { descriptorFor, expectationSelector, isTandemUi } from "./generate.js";

/** Keys that become steps. */
const KEYS = new Set(["Enter", "Tab", "Escape"]);

/** Inputs that hold typed text. */
const TEXT_TYPES = new Set(["", "text", "email", "password", "search", "tel", "url", "number", "date", "datetime-local", "month", "time", "week"]);

/** Roles that make an element the thing clicked (clicks on their insides are retargeted to them). */
const CLICKABLE_ROLES = new Set(["button", "link", "menuitem", "menuitemcheckbox", "menuitemradio", "tab", "option", "switch", "treeitem", "checkbox", "radio"]);

/** What a captcha looks like: the widgets' own containers and frames. */
const CAPTCHA = ".g-recaptcha, .h-captcha, .cf-turnstile, [data-sitekey], iframe[src*='recaptcha'], iframe[src*='hcaptcha'], iframe[src*='turnstile'], iframe[title*='captcha' i]";

/** How long after a hover new content still counts as opened by it. */
const HOVER_MS = 1500;

/**
 * One captured event as sent: its `type` (click, input, select, check, press, submit, upload,
 * captcha, hover, pick, hello, command), this frame's id, and for element events `ref` (the
 * element, numbered per frame: consecutive typing in one field merges), `target` (its
 * descriptor) and `label` (what it is called, for the step's text).
 * @typedef {{type: string} & Record<string, unknown>} Sent
 */

/**
 * Luhn's check: does a run of 13–19 digits look like a card number?
 * @param {string} value
 */
export function looksLikeCardNumber(value) {
  const digits = value.replace(/[\s-]/g, "");
  if (!/^\d{13,19}$/.test(digits)) return false;
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

/**
 * @param {Element} element
 * @returns {element is HTMLInputElement}
 */
function isInput(element) {
  return tagOf(element) === "input";
}

/**
 * A field whose typing becomes a fill step.
 * @param {Element} element
 */
export function isTextField(element) {
  if (tagOf(element) === "textarea") return true;
  if (isInput(element)) return TEXT_TYPES.has((element.getAttribute("type") ?? "").toLowerCase());
  return /** @type {HTMLElement} */ (element).isContentEditable === true;
}

/**
 * A form control whose clicks are not steps (its change is).
 * @param {Element} element
 */
function isField(element) {
  const tag = tagOf(element);
  if (tag === "select" || tag === "textarea" || tag === "option") return true;
  if (!isInput(element)) return false;
  const type = (element.getAttribute("type") ?? "").toLowerCase();
  return !["submit", "button", "reset", "image"].includes(type);
}

/**
 * @param {Element} element
 */
function isClickable(element) {
  const tag = tagOf(element);
  if (tag === "button" || tag === "summary" || tag === "select" || tag === "textarea" || tag === "label") return true;
  if (tag === "a" && element.hasAttribute("href")) return true;
  if (tag === "input") return true;
  const role = element.getAttribute("role");
  return !!role && CLICKABLE_ROLES.has(role.trim().toLowerCase());
}

/**
 * The element an event really happened on: the first element of its composed path.
 * @param {Event} event
 * @returns {Element | null}
 */
function realTarget(event) {
  const first = event.composedPath()[0];
  return isElement(first) ? first : isElement(event.target) ? event.target : null;
}

/**
 * The interactive element a click on `element` was meant for: itself or its nearest
 * clickable ancestor (a span inside a button is the button), crossing shadow roots.
 * @param {Element} element
 */
export function clickTarget(element) {
  for (let current = /** @type {Element | null} */ (element); current; current = current.parentElement ?? hostOf(current)) {
    if (isClickable(current)) return current;
    if (tagOf(current) === "body") break;
  }
  return element;
}

/**
 * What an element is called, for the step's text: its accessible name, placeholder or name.
 * @param {Element} element
 * @param {import("../resolver/types.js").Descriptor} descriptor
 */
function labelOf(element, descriptor) {
  const fp = descriptor.fingerprint;
  const name = fp?.name || element.getAttribute("placeholder") || element.getAttribute("name") || fp?.text || "";
  return name.replace(/\s+/g, " ").trim().slice(0, 80) || tagOf(element);
}

/**
 * Install the capture in one window (a page or a frame).
 * @param {{win: Window & typeof globalThis, send: (event: Sent) => Promise<unknown>, testIdAttribute?: string}} options
 */
export function installCapture({ win, send, testIdAttribute = "data-testid" }) {
  const doc = win.document;
  const frame = Math.random().toString(36).slice(2, 10);
  /** @type {WeakMap<Element, number>} */
  const refs = new WeakMap();
  let nextRef = 1;
  /** Fields that were once password fields: private for good, whatever they show now. */
  const everPassword = new WeakSet();
  /** Fields the author marked private, or whose typing looked like a card number. */
  const markedPrivate = new WeakSet();
  /**
   * The field being typed into: its value is sent once, when the typing ends (the field loses
   * focus or changes, another event comes, the page goes away, the recorder asks) — so it is
   * judged whole (a card number is one before its last digit is typed) and a pause sends nothing.
   * @type {{element: Element, target: import("../resolver/types.js").Descriptor, label: string, ref: number} | null}
   */
  let typing = null;
  /** @type {{key: string, element: Element | null, at: number} | null} */
  let lastKey = null;
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
    const sent = send({ ...event, frame });
    pending = pending.then(() => sent).catch(() => null);
    return sent;
  };
  /** @param {Element} element */
  const describeTarget = (element) => {
    const target = descriptorFor(element, { testIdAttribute });
    return { target, label: labelOf(element, target), ref: refOf(element) };
  };
  /** @param {Element} element */
  const privateReason = (element) => {
    if (isInput(element) && (element.getAttribute("type") ?? "").toLowerCase() === "password") everPassword.add(element);
    if (everPassword.has(element)) return "password";
    if (markedPrivate.has(element)) return "marked";
    if (isPrivateField(element)) {
      const autocomplete = (element.getAttribute("autocomplete") ?? "").toLowerCase();
      if (autocomplete.includes("one-time-code")) return "one-time code";
      if (autocomplete.includes("cc-")) return "card";
      return autocomplete.includes("password") ? "password" : "marked";
    }
    return null;
  };

  // A field that turns from a password field into a text field ("show password") stays private.
  new win.MutationObserver((records) => {
    for (const record of records) {
      if (record.oldValue?.toLowerCase() === "password" && isElement(record.target)) everPassword.add(record.target);
    }
  }).observe(doc, { subtree: true, attributes: true, attributeFilter: ["type"], attributeOldValue: true });

  // Content that appears while the pointer rests on something: a hover-opened menu.
  new win.MutationObserver((records) => {
    if (!hovering || performance.now() - hovering.at > HOVER_MS) return;
    for (const record of records) {
      const nodes = record.type === "childList" ? Array.from(record.addedNodes) : [record.target];
      for (const node of nodes) {
        if (isElement(node) && !isTandemUi(node) && !hovering.element.contains(node) && isVisible(node)) hovering.opened.push(node);
      }
    }
  }).observe(doc, { subtree: true, childList: true, attributes: true, attributeFilter: ["hidden", "style", "class", "open", "aria-hidden"] });

  /** The typing is over: send its field's value (or only that it was private). */
  const endTyping = () => {
    if (!typing) return;
    const { element, target, label, ref } = typing;
    typing = null;
    const value = /** @type {HTMLInputElement} */ (element).value ?? element.textContent ?? "";
    let reason = privateReason(element);
    if (!reason && looksLikeCardNumber(value)) {
      markedPrivate.add(element);
      reason = "card";
    }
    void emit({ type: "input", ref, target, label, private: reason, value: reason ? null : value });
  };

  /** @param {Event} event */
  const ours = (event) => event.composedPath().some((node) => isElement(node) && isTandemUi(node));

  win.addEventListener("mouseover", (event) => {
    if (!event.isTrusted || ours(event)) return;
    const element = realTarget(event);
    if (!element) return;
    const target = clickTarget(element);
    if (hovering && (hovering.element === target || hovering.opened.some((o) => o.contains(target)))) return;
    hovering = { element: target, at: performance.now(), opened: [] };
  }, true); // prettier-ignore

  win.addEventListener("click", (event) => {
    if (!event.isTrusted || ours(event)) return;
    const element = realTarget(event);
    if (!element) return;
    if (picking) {
      event.preventDefault();
      event.stopImmediatePropagation();
      const purpose = picking;
      picking = null;
      if (purpose === "private") {
        markedPrivate.add(element);
        void emit({ type: "pick", purpose, ref: refOf(element), label: describeTarget(element).label });
      } else {
        void emit({ type: "pick", purpose, selector: expectationSelector(element, { testIdAttribute }), label: describeTarget(element).label });
      }
      return;
    }
    const captcha = element.closest(CAPTCHA);
    if (captcha) {
      sendCaptcha(captcha);
      return;
    }
    const target = clickTarget(element);
    if (isField(target)) return; // typing, choosing and ticking are their own steps
    if (tagOf(target) === "label" && /** @type {HTMLLabelElement} */ (target).control) return;
    // A click the browser made from Enter or Space on a button: the key press was the step.
    if (event.detail === 0 && lastKey && lastKey.element === target && performance.now() - lastKey.at < 500) return;
    endTyping();
    const opened = hovering && performance.now() - hovering.at < 30_000 ? hovering : null;
    if (opened && opened.opened.some((o) => o.contains(target)) && !opened.element.contains(target)) {
      const appeared = opened.opened.find((o) => o.contains(target)) ?? null;
      void emit({ type: "hover", ...describeTarget(opened.element), appears: appeared ? expectationSelector(appeared, { testIdAttribute }) : null });
    }
    hovering = null;
    lastStepAt = performance.now();
    void emit({ type: "click", ...describeTarget(target) });
  }, true); // prettier-ignore

  win.addEventListener("input", (event) => {
    if (!event.isTrusted || ours(event)) return;
    const element = realTarget(event);
    if (!element || !isTextField(element)) return;
    if (typing && typing.element !== element) endTyping();
    if (!typing) typing = { element, ...describeTarget(element) };
    privateReason(element); // a password field is remembered as one before it can change type
  }, true); // prettier-ignore

  win.addEventListener("focusout", (event) => {
    if (typing && realTarget(event) === typing.element) endTyping();
  }, true); // prettier-ignore
  win.addEventListener("pagehide", () => endTyping());

  win.addEventListener("change", (event) => {
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
    if (tag === "select") {
      const select = /** @type {HTMLSelectElement} */ (element);
      endTyping();
      lastStepAt = performance.now();
      const option = select.selectedOptions[0];
      void emit({ type: "select", ...describeTarget(element), value: select.value, option: option ? option.text.trim().slice(0, 80) : select.value });
    } else if (tag === "input" && (type === "checkbox" || type === "radio")) {
      endTyping();
      lastStepAt = performance.now();
      void emit({ type: "check", ...describeTarget(element), checked: /** @type {HTMLInputElement} */ (element).checked, radio: type === "radio" });
    } else if (tag === "input" && type === "file") {
      endTyping();
      lastStepAt = performance.now();
      void emit({ type: "upload", ...describeTarget(element) }); // the file's name is never sent
    }
  }, true); // prettier-ignore

  win.addEventListener("keydown", (event) => {
    if (!event.isTrusted || ours(event) || event.isComposing) return;
    if (picking && event.key === "Escape") {
      picking = null;
      void emit({ type: "pick", purpose: "cancel" });
      return;
    }
    if (!KEYS.has(event.key)) return;
    const element = realTarget(event);
    if (event.key === "Enter" && element && (tagOf(element) === "textarea" || /** @type {HTMLElement} */ (element).isContentEditable)) return;
    lastKey = { key: event.key, element: element ? clickTarget(element) : null, at: performance.now() };
    const focused = element && tagOf(element) !== "body" && tagOf(element) !== "html" ? element : null;
    const typedInto = typing?.element === focused;
    endTyping();
    lastStepAt = performance.now();
    void emit({ type: "press", key: event.key, after_typing: typedInto, ...(focused ? describeTarget(focused) : {}) });
  }, true); // prettier-ignore

  win.addEventListener("submit", (event) => {
    if (!event.isTrusted) return;
    const form = /** @type {HTMLFormElement} */ (realTarget(event));
    if (!form || tagOf(form) !== "form") return;
    const method = (form.getAttribute("method") ?? "get").toLowerCase();
    // Names of private fields a GET form would put in the URL: the recorder removes their values.
    const privateNames = Array.from(form.elements)
      .filter((field) => field.getAttribute("name") && privateReason(field))
      .map((field) => /** @type {string} */ (field.getAttribute("name")));
    const submitter = /** @type {SubmitEvent} */ (event).submitter;
    const unrecorded = performance.now() - lastStepAt > 1000;
    endTyping();
    if (unrecorded && submitter) void emit({ type: "click", ...describeTarget(submitter) });
    void emit({ type: "submit", method, private_names: privateNames });
  }, true); // prettier-ignore

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
  // typing an address — are announced, so the recorder credits them to the step that caused them.
  if (win.top === win) {
    const navigating = (/** @type {string | URL | null | undefined} */ url) => {
      if (url === null || url === undefined) return;
      try {
        void emit({ type: "navigating", url: new URL(String(url), win.location.href).href });
      } catch {
        // not a URL: the navigation itself will fail
      }
    };
    const nav = /** @type {any} */ (win).navigation;
    if (nav && typeof nav.addEventListener === "function") {
      nav.addEventListener("navigate", (/** @type {any} */ event) => navigating(event.destination?.url));
    }
    for (const name of /** @type {const} */ (["pushState", "replaceState"])) {
      const original = win.history[name];
      win.history[name] = function (/** @type {any} */ data, /** @type {string} */ unused, /** @type {string | URL | null} */ url) {
        navigating(url);
        return original.call(this, data, unused, url);
      };
    }
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
  };
}
