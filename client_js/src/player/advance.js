// @ts-check
/** When a step is done (`advance.after`): a click or input on the target, a URL, an element appearing. */
import { deepQuery, isShown } from "./dom.js";
import { urlMatches } from "./url-match.js";

/** Input settles (the visitor stopped typing) after this long without another keystroke. */
export const INPUT_IDLE_MS = 800;
const URL_POLL_MS = 200;

/**
 * Watch for the step's advance condition; `done` is called at most once.
 * "next" is the Next button's, so nothing is watched for it.
 * @param {import("./types.js").Advance | undefined} advance
 * @param {Element | null} target
 * @param {{doc: Document, win: import("./types.js").Win, done: () => void}} context
 * @returns {() => void} stops watching
 */
export function watchAdvance(advance, target, { doc, win, done }) {
  let finished = false;
  /** @type {(() => void)[]} */
  const cleanups = [];
  const finish = () => {
    if (finished) return;
    finished = true;
    stop();
    done();
  };
  const stop = () => cleanups.splice(0).forEach((cleanup) => cleanup());
  const after = advance?.after ?? "next";
  if (after === "click" && target) cleanups.push(listen(target, "click", finish));
  if (after === "input" && target) cleanups.push(watchInput(target, win, finish));
  if (after === "url" && advance?.url) cleanups.push(watchUrl(advance.url, win, finish));
  if ((after === "appears" || after === "disappears") && advance?.selector) {
    const selector = advance.selector;
    const wanted = after === "appears";
    cleanups.push(watchDom(doc, win, () => isShown(deepQuery(doc, selector)) === wanted, finish));
  }
  return () => {
    finished = true;
    stop();
  };
}

/**
 * @param {EventTarget} target
 * @param {string} type
 * @param {() => void} handler
 */
function listen(target, type, handler) {
  target.addEventListener(type, handler, true);
  return () => target.removeEventListener(type, handler, true);
}

/**
 * Input is done on `change`, or once the visitor stopped typing for a moment.
 * @param {Element} target
 * @param {import("./types.js").Win} win
 * @param {() => void} finish
 */
function watchInput(target, win, finish) {
  let timer = 0;
  const typed = () => {
    win.clearTimeout(timer);
    timer = win.setTimeout(finish, INPUT_IDLE_MS);
  };
  const offInput = listen(target, "input", typed);
  const offChange = listen(target, "change", finish);
  return () => {
    win.clearTimeout(timer);
    offInput();
    offChange();
  };
}

/**
 * Client-side routers change the URL without an event, so poll (and listen to popstate).
 * @param {string} pattern
 * @param {import("./types.js").Win} win
 * @param {() => void} finish
 */
function watchUrl(pattern, win, finish) {
  const check = () => {
    if (urlMatches(pattern, win.location.href)) finish();
  };
  const timer = win.setInterval(check, URL_POLL_MS);
  const offPop = listen(win, "popstate", check);
  queueMicrotask(check);
  return () => {
    win.clearInterval(timer);
    offPop();
  };
}

/**
 * @param {Document} doc
 * @param {import("./types.js").Win} win
 * @param {() => boolean} condition
 * @param {() => void} finish
 */
function watchDom(doc, win, condition, finish) {
  const check = () => {
    if (condition()) finish();
  };
  const observer = new win.MutationObserver(check);
  observer.observe(doc, { childList: true, subtree: true, attributes: true, characterData: true });
  queueMicrotask(check);
  return () => observer.disconnect();
}
