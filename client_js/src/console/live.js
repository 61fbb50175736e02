// @ts-check
/**
 * The console's live view of the visitor's page (docs/cobrowse.md): rrweb's replayer in a
 * sandboxed iframe (no scripts run in it; the server removed handlers, script URLs,
 * refreshes and <base>), fed by the session's live socket. The agent points at an element
 * (the visitor sees it ringed), and — once the visitor allows it — clicks and types for
 * them. Joining again after a drop sends the position already shown, so only the gap comes.
 */
import { Decoder, Encoder } from "@msgpack/msgpack";
import { Replayer } from "rrweb";
import replayerCss from "rrweb/dist/style.css";

const encoder = new Encoder();
const decoder = new Decoder();
const RECONNECT_MS = [500, 1000, 2000, 4000, 8000];

/** @typedef {{type: number, data: any, timestamp: number}} MirrorEvent */

function start() {
  const found = document.getElementById("live");
  if (!found) return;
  const box = found;
  const style = document.createElement("style");
  style.textContent = replayerCss;
  document.head.append(style);
  const stage = /** @type {HTMLElement} */ (box.querySelector("[data-live-stage]"));
  const statusLine = /** @type {HTMLElement} */ (box.querySelector("[data-live-status]"));
  const stepLine = /** @type {HTMLElement} */ (box.querySelector("[data-live-step]"));
  const resultLine = /** @type {HTMLElement} */ (box.querySelector("[data-live-result]"));
  const controlButton = /** @type {HTMLButtonElement} */ (box.querySelector("[data-live-control]"));
  const askButton = /** @type {HTMLButtonElement} */ (box.querySelector("[data-live-ask]"));
  const typeForm = /** @type {HTMLFormElement} */ (box.querySelector("[data-live-type]"));
  const typeInput = /** @type {HTMLInputElement} */ (typeForm.querySelector("input"));
  const me = box.dataset.agent || "";
  const url = new URL(`/console/${box.dataset.site}/sessions/${box.dataset.session}/live`, location.href);
  url.protocol = location.protocol === "https:" ? "wss:" : "ws:";

  /** @type {Replayer | null} */
  let replayer = null;
  let epoch = 0;
  let offset = 0;
  let actionId = 0;
  let attempts = 0;
  let ended = false;
  /** @type {WebSocket | null} */
  let socket = null;
  /** @type {Record<string, any>} */
  let status = {};
  /** @type {number | null} the field chosen to type into */
  let typingNode = null;

  const send = (/** @type {Record<string, unknown>} */ message) => {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(encoder.encode(message));
  };

  function connect() {
    socket = new WebSocket(url);
    socket.binaryType = "arraybuffer";
    socket.addEventListener("open", () => {
      attempts = 0;
      box.dataset.connected = "true";
      send({ kind: "join", epoch, offset });
    });
    socket.addEventListener("message", (event) => {
      const message = /** @type {Record<string, any>} */ (decoder.decode(new Uint8Array(event.data)));
      onMessage(message);
    });
    socket.addEventListener("close", () => {
      box.dataset.connected = "false";
      socket = null;
      if (ended) return;
      statusLine.textContent = "Reconnecting…";
      setTimeout(connect, RECONNECT_MS[Math.min(attempts++, RECONNECT_MS.length - 1)]);
    });
  }

  /** @param {Record<string, any>} message */
  function onMessage(message) {
    switch (message.kind) {
      case "replay":
        return replay(message.epoch, message.offset, message.events);
      case "events":
        if (message.epoch !== epoch || !replayer) return;
        offset = message.offset;
        for (const event of message.events) replayer.addEvent({ ...event, timestamp: Date.now() });
        box.dataset.offset = String(offset);
        return;
      case "status":
        status = message;
        return renderStatus();
      case "result":
        resultLine.textContent = message.ok ? "Done on the visitor's page." : `Not done: ${message.reason || "refused"}.`;
        return;
      case "refused":
        resultLine.textContent = message.message;
        if (message.code === "ended") ended = true;
        return;
    }
  }

  /**
   * @param {number} newEpoch
   * @param {number} newOffset
   * @param {MirrorEvent[]} events
   */
  function replay(newEpoch, newOffset, events) {
    replayer?.destroy();
    typingNode = null; // node ids belong to the page run shown: a new run, a new choice
    typeForm.hidden = true;
    stage.replaceChildren();
    epoch = newEpoch;
    offset = newOffset;
    const base = Date.now() - 1000;
    replayer = new Replayer([], { root: stage, liveMode: true, mouseTail: false, showWarning: false, UNSAFE_replayCanvas: false });
    replayer.on("resize", () => fit());
    replayer.startLive(base);
    events.forEach((event, index) => replayer?.addEvent({ ...event, timestamp: base + index / 1000 }));
    box.dataset.epoch = String(epoch);
    box.dataset.offset = String(offset);
    box.dataset.replays = String(Number(box.dataset.replays || 0) + 1);
    fit();
  }

  /** Scale the visitor's viewport to the stage's width. */
  function fit() {
    const wrapper = /** @type {HTMLElement | null} */ (stage.querySelector(".replayer-wrapper"));
    const frame = replayer?.iframe;
    if (!wrapper || !frame) return;
    const width = frame.offsetWidth || Number(frame.getAttribute("width")) || 1;
    const height = frame.offsetHeight || Number(frame.getAttribute("height")) || 1;
    const scale = Math.min(1, stage.clientWidth / width);
    wrapper.style.transformOrigin = "0 0";
    wrapper.style.transform = `scale(${scale})`;
    stage.style.height = `${height * scale}px`;
  }

  function renderStatus() {
    ended = Boolean(status.ended);
    const view = {
      "": "Waiting for the visitor's page…",
      asked: "Waiting for the visitor to agree to share their page…",
      granted: status.waiting_for_page ? "The visitor agreed; their page is on its way…" : "You see the visitor's page live.",
      declined: "The visitor did not share their page.",
    }[/** @type {string} */ (status.view)] ?? "";
    const watching = (status.watching || []).length ? ` Watching: ${status.watching.join(", ")}.` : "";
    const mine = status.controller === me;
    const control = status.control === "granted"
      ? mine ? " You have control: click or type on the page." : ` ${status.controller_name} has control.`
      : status.control === "requested" ? ` ${mine ? "You asked" : `${status.controller_name} asked`} for control…` : "";
    statusLine.textContent = ended ? "This session has ended." : `${view}${watching}${control}`;
    box.dataset.view = status.view || "";
    box.dataset.control = status.control ? `${status.control}:${mine ? "me" : "other"}` : "";
    askButton.hidden = status.view !== "declined" || ended;
    controlButton.hidden = status.view !== "granted" || ended || (Boolean(status.control) && !mine);
    controlButton.textContent = mine && status.control ? "Give back control" : "Ask for control";
    const step = status.step || {};
    stepLine.textContent = step.step ? `Walkthrough ${step.walkthrough}: step “${step.step}” (${step.event}).` : "";
    if (ended) socket?.close();
  }

  controlButton.addEventListener("click", () => {
    const mine = status.controller === me && status.control;
    send({ kind: "control", want: !mine });
  });
  askButton.addEventListener("click", () => send({ kind: "ask_view" }));

  /**
   * The element of the mirror under a point of the stage, and where in it.
   * @param {MouseEvent} event
   */
  function nodeAt(event) {
    const frame = replayer?.iframe;
    const doc = frame?.contentDocument;
    if (!frame || !doc || !replayer) return null;
    const rect = frame.getBoundingClientRect();
    const scale = rect.width / (frame.offsetWidth || rect.width || 1);
    const x = (event.clientX - rect.left) / scale;
    const y = (event.clientY - rect.top) / scale;
    const element = doc.elementFromPoint(x, y);
    if (!element) return null;
    const id = replayer.getMirror().getId(/** @type {any} */ (element));
    if (!id || id < 1) return null;
    const box = element.getBoundingClientRect();
    return {
      node: id, tag: element.tagName.toLowerCase(),
      x: box.width ? Math.min(Math.max((x - box.left) / box.width, 0), 1) : 0.5,
      y: box.height ? Math.min(Math.max((y - box.top) / box.height, 0), 1) : 0.5,
    }; // prettier-ignore
  }

  const overlay = /** @type {HTMLElement} */ (box.querySelector("[data-live-overlay]"));
  overlay.addEventListener("click", (event) => {
    const found = nodeAt(event);
    if (!found) return;
    const mode = /** @type {HTMLInputElement | null} */ (box.querySelector("input[name=mode]:checked"))?.value || "point";
    if (mode === "type") {
      typingNode = found.node;
      typeForm.hidden = false;
      typeInput.focus();
      resultLine.textContent = `Typing into the ${found.tag} you chose.`;
      return;
    }
    send({ kind: "act", id: ++actionId, action: mode === "click" ? "click" : "highlight", node: found.node, epoch, x: found.x, y: found.y });
  });
  typeForm.addEventListener("submit", (event) => {
    event.preventDefault();
    if (typingNode === null) return;
    send({ kind: "act", id: ++actionId, action: "fill", node: typingNode, epoch, value: typeInput.value });
    typeInput.value = "";
  });
  window.addEventListener("resize", fit);
  connect();
  // For tests and the curious: the live view's state.
  /** @type {any} */ (window).tandemLive = { get epoch() { return epoch; }, get offset() { return offset; }, get replayer() { return replayer; }, drop: () => socket?.close() };
}

start();
