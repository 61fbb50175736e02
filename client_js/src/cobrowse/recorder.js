// @ts-check
/**
 * The live mirror's recorder: rrweb, masked in the page, its events batched per animation
 * frame. Built on its own (`tandem-mirror.js`) and loaded only once an agent may see the
 * page, never on an ordinary page view. It defines `window.TandemMirror`.
 *
 * Masking (../shared/ARCHITECTURE.md): every input is masked (its value becomes a fixed
 * MASK, so not even its length is told); private fields (passwords, card and one-time-code
 * fields, `[data-tandem-private]`) are blocked — rrweb sends an empty box of the same size
 * and never their input; text inside `[data-tandem-mask]` is masked; scrub.js removes what
 * rrweb leaves (placeholders, titles, aria-* text, hidden inputs' values, sensitive URLs).
 */
import { record } from "rrweb";
import { MASK, MASKED_SELECTOR, scrubEvent } from "./scrub.js";

/** rrweb's blockSelector: the private fields (player/private-field.js, in CSS). */
export const PRIVATE_SELECTOR = [
  "[data-tandem-private]", "input[type=password]", "input[type=PASSWORD]", "[autocomplete~=one-time-code]",
  "[autocomplete^=cc-]", "[autocomplete*=' cc-']", "[autocomplete$=-password]", "[autocomplete*='-password ']",
].join(", "); // prettier-ignore

const META = 4;
const FULL_SNAPSHOT = 2;

/**
 * @typedef {import("./scrub.js").RecordedEvent} RecordedEvent
 * @typedef {{events: RecordedEvent[], full: boolean, page: number}} Batch
 * @typedef {{stop: () => void, snapshot: () => void, node: (id: number) => Node | null, page: () => number}} Recording
 */

/**
 * Start recording the page.
 * @param {{onBatch: (batch: Batch) => void, onError?: (error: unknown) => void, win?: Window}} options
 * @returns {Recording}
 */
export function startRecording({ onBatch, onError = () => {}, win = window }) {
  /** @type {RecordedEvent[]} */
  let queued = [];
  let page = 0;
  let scheduled = false;

  const masked = (/** @type {number} */ id) => {
    const node = record.mirror.getNode(id);
    const element = node && node.nodeType === 1 ? /** @type {Element} */ (node) : node?.parentElement;
    return Boolean(element?.closest?.(MASKED_SELECTOR));
  };

  function flush() {
    scheduled = false;
    const events = queued;
    queued = [];
    // A full snapshot (Meta + FullSnapshot) starts a new page run: what came before it is the old run's.
    let start = 0;
    for (let i = 0; i < events.length; i++) {
      if (events[i].type === META && events[i + 1]?.type === FULL_SNAPSHOT) {
        if (i > start) onBatch({ events: events.slice(start, i), full: false, page });
        page += 1;
        start = i;
        const end = nextFull(events, i + 2);
        onBatch({ events: events.slice(i, end), full: true, page });
        start = end;
        i = end - 1;
      }
    }
    if (start < events.length && page > 0) onBatch({ events: events.slice(start), full: false, page });
  }

  function schedule() {
    if (scheduled) return;
    scheduled = true;
    // Per animation frame; a hidden tab gets no frames, so a timer there.
    if (win.document.hidden || typeof win.requestAnimationFrame !== "function") win.setTimeout(flush, 50);
    else win.requestAnimationFrame(flush);
  }

  const stop = record({
    emit(event) {
      try {
        queued.push(scrubEvent(/** @type {RecordedEvent} */ (/** @type {unknown} */ (event)), masked));
        schedule();
      } catch (error) {
        onError(error);
      }
    },
    maskAllInputs: true,
    maskInputFn: (text) => (text ? MASK : ""),
    maskTextSelector: MASKED_SELECTOR,
    blockSelector: PRIVATE_SELECTOR,
    slimDOMOptions: "all",
    inlineStylesheet: true,
    recordCanvas: false,
    collectFonts: false,
    sampling: { mousemove: 50, scroll: 100 },
    errorHandler: (error) => {
      onError(error);
      return true;
    },
  });

  return {
    stop() {
      stop?.();
      flush();
    },
    snapshot() {
      flush();
      record.takeFullSnapshot(true);
    },
    node: (id) => record.mirror.getNode(id),
    page: () => page,
  };
}

/**
 * Where the next full snapshot starts (or the end).
 * @param {RecordedEvent[]} events
 * @param {number} from
 */
function nextFull(events, from) {
  for (let i = from; i < events.length; i++) {
    if (events[i].type === META && events[i + 1]?.type === FULL_SNAPSHOT) return i;
  }
  return events.length;
}

/** @type {any} */ (window).TandemMirror = Object.freeze({ startRecording });
