// @ts-check
/**
 * The help widget: a button in the corner of the page that opens a small panel where the
 * visitor asks a question (`Tandem.help`), sees who answers (the persona's name and
 * avatar) and what is offered — an FAQ answer, a walkthrough to start or continue, a
 * person — and lists the walkthroughs for the page they are on (`Tandem.launcher`).
 *
 * It lives in a shadow root (the page's styles cannot reach it), is marked private (a
 * co-browsing agent never sees what the visitor types in it), and is keyboard-complete:
 * Escape closes the panel and the focus goes back to the button.
 */
import { renderText } from "../player/markup.js";
import { widgetSheet } from "./styles.js";

/**
 * What the widget needs of `window.Tandem`.
 * @typedef {Pick<import("../api.js").TandemApi, "help" | "launcher" | "start" | "resume" | "feedback" | "rate" | "chat" | "typing">} WidgetApi
 */

/**
 * What happens next, once a person is the answer: where the referral went, and the visitor's place in line.
 * @param {Record<string, any>} reply a help answer
 */
export function personNote(reply) {
  const queue = reply.queue ?? {};
  if (typeof queue.position === "number") {
    const minutes = typeof queue.wait_ms === "number" ? Math.max(1, Math.round(queue.wait_ms / 60_000)) : null;
    const wait = minutes ? `, about ${minutes} minute${minutes === 1 ? "" : "s"}` : "";
    return `You are number ${queue.position} in line${wait}. A person from the team will join you here.`;
  }
  if (reply.channel === "live_agent") return "A person from the team is joining you here in a moment.";
  if (reply.channel === "email" || reply.channel === "callback") {
    return "Nobody is online right now: the team has what you tried and where you are, and will get in touch.";
  }
  return "A person from the team now has what you tried and where you are, and will get in touch.";
}

/**
 * @param {{doc?: Document, win?: Window & typeof globalThis, api: WidgetApi, onError?: (error: unknown) => void}} options
 */
export function createWidget({ doc = document, win = window, api, onError = () => {} }) {
  const make = (/** @type {string} */ tag, /** @type {Record<string, string>} */ attrs = {}, /** @type {string} */ text = "") => {
    const element = doc.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) element.setAttribute(name, value);
    if (text) element.textContent = text;
    return element;
  };
  const host = make("tandem-widget", { "data-tandem-private": "" });
  const shadow = host.attachShadow({ mode: "open" });
  shadow.adoptedStyleSheets = [widgetSheet(win)];

  const launch = make("button", { type: "button", class: "launch", "aria-expanded": "false", "aria-controls": "tandem-help-panel" }, "Help");
  const panel = make("div", { id: "tandem-help-panel", class: "panel", role: "dialog", "aria-labelledby": "tandem-help-title" });
  panel.hidden = true;
  const close = make("button", { type: "button", class: "close", "aria-label": "Close help" }, "×");
  const title = make("h2", { id: "tandem-help-title" }, "Need a hand?");
  const who = make("p", { class: "who" });
  who.hidden = true;
  const form = make("form", { class: "ask" });
  const label = make("label", { for: "tandem-help-question" }, "Ask a question");
  const input = /** @type {HTMLInputElement} */ (make("input", { id: "tandem-help-question", type: "text", maxlength: "500", autocomplete: "off" }));
  const ask = make("button", { type: "submit", class: "primary" }, "Ask");
  form.append(label, input, ask);
  const answer = make("div", { class: "answer", "aria-live": "polite" });
  const person = make("button", { type: "button", class: "person" }, "Talk to a person");
  // The chat with the person who took the session: shown once they have.
  const talk = make("section", { class: "chat", "aria-labelledby": "tandem-chat-title" });
  talk.hidden = true;
  const talkTitle = make("h3", { id: "tandem-chat-title" }, "Chat");
  const talkLog = make("ol", { class: "chat-log", "aria-live": "polite" });
  const talkStatus = make("p", { class: "muted", role: "status" });
  const talkForm = make("form", { class: "ask" });
  const talkLabel = make("label", { for: "tandem-chat-input" }, "Your message");
  const talkInput = /** @type {HTMLInputElement} */ (make("input", { id: "tandem-chat-input", type: "text", maxlength: "2000", autocomplete: "off" }));
  const talkSend = make("button", { type: "submit", class: "primary" }, "Send");
  talkForm.append(talkLabel, talkInput, talkSend);
  talk.append(talkTitle, talkLog, talkStatus, talkForm);
  let chatSession = "";
  let typedAt = 0;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let typingTimer;
  const guidesTitle = make("h3", { id: "tandem-guides-title" }, "Guides for this page");
  const guides = make("ul", { class: "guides", "aria-labelledby": "tandem-guides-title" });
  panel.append(close, title, who, form, answer, talk, person, guidesTitle, guides);
  shadow.append(launch, panel);

  const busy = (/** @type {boolean} */ on) => {
    ask.toggleAttribute("disabled", on);
    answer.setAttribute("aria-busy", String(on));
  };

  /** @param {string} text */
  const say = (text) => answer.replaceChildren(make("p", { class: "text" }, text));

  /**
   * A button that starts or continues a walkthrough, closing the panel.
   * @param {string} text
   * @param {() => Promise<unknown>} go
   */
  const goButton = (text, go) => {
    const button = make("button", { type: "button", class: "go" }, text);
    button.addEventListener("click", () => {
      closePanel(false);
      go().catch((error) => {
        onError(error);
        openPanel(true);
        say("Sorry, that guide could not start here.");
      });
    });
    return button;
  };

  async function refreshGuides() {
    guides.replaceChildren(make("li", { class: "muted" }, "Looking…"));
    try {
      const offers = await api.launcher();
      const list = /** @type {{walkthrough: string, title: string}[]} */ (offers.walkthroughs ?? []);
      const resume = String(offers.resume ?? "");
      const items = [];
      if (resume) {
        const item = make("li");
        item.append(goButton("Continue where you left off", () => api.resume(resume)));
        items.push(item);
      }
      for (const offer of list) {
        const item = make("li");
        item.append(goButton(offer.title, () => api.start(offer.walkthrough)));
        items.push(item);
      }
      guides.replaceChildren(...(items.length ? items : [make("li", { class: "muted" }, "No guides for this page.")]));
    } catch (error) {
      onError(error);
      guides.replaceChildren(make("li", { class: "muted" }, "Guides are not available right now."));
    }
  }

  /**
   * @param {string} question
   * @param {boolean} [wantsPerson]
   */
  async function askFor(question, wantsPerson = false) {
    busy(true);
    say("Thinking…");
    try {
      showAnswer(await api.help(question, { person: wantsPerson }));
    } catch (error) {
      onError(error);
      say("Sorry, help is not available right now. Please try again in a moment.");
    } finally {
      busy(false);
    }
  }

  /** @param {Record<string, any>} reply */
  function showAnswer(reply) {
    const persona = reply.persona ?? {};
    who.hidden = !persona.name;
    who.textContent = persona.name ? `${persona.avatar ?? ""} ${persona.name}`.trim() : "";
    const text = make("div", { class: "text" });
    text.append(...renderText(doc, String(reply.text ?? "")));
    const parts = [text];
    for (const entry of reply.faq ?? []) {
      const details = make("details", { class: "faq" });
      const summary = make("summary", {}, String(entry.question ?? ""));
      const body = make("div");
      body.append(...renderText(doc, String(entry.answer ?? "")));
      details.append(summary, body);
      parts.push(details);
    }
    if (reply.offer === "walkthrough" && reply.walkthrough) {
      parts.push(goButton(`Show me: ${reply.title || reply.walkthrough}`, () => api.start(reply.walkthrough, { session: reply.session })));
    } else if (reply.offer === "resume" && reply.run) {
      parts.push(goButton("Continue", () => api.resume(reply.run)));
    } else if (reply.offer === "person" && reply.rate) {
      talk.hidden = true;
      chatSession = "";
      parts.push(ratingRow(String(reply.session)));
    } else if (reply.offer === "person" && reply.chat) {
      openChat(String(reply.session));
    } else if (reply.offer === "person") {
      parts.push(make("p", { class: "muted" }, personNote(reply)));
    }
    answer.replaceChildren(...parts);
    if (parts.length > 1 && reply.faq?.length) /** @type {HTMLDetailsElement} */ (parts[1]).open = true;
  }

  /** @param {boolean} [focus] false when Tandem opens it by itself: the visitor's focus stays where it is */
  function openPanel(focus = true) {
    panel.hidden = false;
    launch.setAttribute("aria-expanded", "true");
    if (focus) input.focus();
    void refreshGuides();
  }

  /** @param {boolean} [refocus] */
  function closePanel(refocus = true) {
    if (panel.hidden) return;
    panel.hidden = true;
    launch.setAttribute("aria-expanded", "false");
    if (refocus) launch.focus();
  }

  launch.addEventListener("click", () => (panel.hidden ? openPanel(true) : closePanel()));
  close.addEventListener("click", () => closePanel());
  person.addEventListener("click", () => void askFor(input.value.trim(), true));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    void askFor(input.value.trim());
  });
  panel.addEventListener("keydown", (event) => {
    if (/** @type {KeyboardEvent} */ (event).key !== "Escape") return;
    event.stopPropagation();
    closePanel();
  });

  /**
   * @param {"agent" | "visitor"} sender
   * @param {string} name
   * @param {string} text
   */
  function addLine(sender, name, text) {
    const line = make("li", { class: sender });
    line.append(make("strong", {}, sender === "agent" ? `${name || "Agent"}: ` : "You: "), doc.createTextNode(text));
    talkLog.append(line);
  }

  /** @param {string} session */
  function openChat(session) {
    chatSession = session;
    talk.hidden = false;
  }

  talkForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = talkInput.value.trim();
    if (!text || !chatSession) return;
    api.chat(chatSession, text);
    addLine("visitor", "", text);
    talkInput.value = "";
  });
  talkInput.addEventListener("input", () => {
    const now = Date.now();
    if (!chatSession || now - typedAt < 2000) return;
    typedAt = now;
    api.typing(chatSession);
  });
  doc.addEventListener("tandem:chat", (event) => {
    const line = /** @type {CustomEvent} */ (event).detail ?? {};
    if (!line.session) return;
    openChat(String(line.session));
    openPanel(false);
    talkStatus.textContent = "";
    addLine(line.sender === "agent" ? "agent" : "visitor", String(line.name ?? ""), String(line.text ?? ""));
  });
  doc.addEventListener("tandem:typing", (event) => {
    const detail = /** @type {CustomEvent} */ (event).detail ?? {};
    if (!detail.session || detail.session !== chatSession) return;
    talkStatus.textContent = `${detail.name || "The agent"} is typing…`;
    clearTimeout(typingTimer);
    typingTimer = setTimeout(() => (talkStatus.textContent = ""), 4000);
  });

  // Help the visitor did not ask for on this page (Tandem saw them struggle, or the site asked).
  doc.addEventListener("tandem:help", (event) => {
    const reply = /** @type {CustomEvent} */ (event).detail;
    if (!reply || typeof reply !== "object") return;
    openPanel(false);
    showAnswer(reply);
  });

  // A walkthrough offered by a support session finished: ask whether it helped.
  doc.addEventListener("tandem:walkthrough-end", (event) => {
    const { reason, session } = /** @type {CustomEvent} */ (event).detail ?? {};
    if (reason !== "completed" || !session) return;
    askHelped(String(session));
  });

  /**
   * Five buttons to rate the help a person gave (CSAT).
   * @param {string} session
   */
  function ratingRow(session) {
    const row = make("div", { class: "row", role: "group", "aria-label": "Rate the help, from 1 (poor) to 5 (excellent)" });
    for (let score = 1; score <= 5; score += 1) {
      const button = make("button", { type: "button", "aria-label": `${score} of 5` }, String(score));
      button.addEventListener("click", () => {
        api.rate(session, score);
        say("Thank you for telling us.");
      });
      row.append(button);
    }
    return row;
  }

  /** @param {string} session */
  function askHelped(session) {
    const question = make("p", { class: "text", id: "tandem-helped-question" }, "Did this help?");
    const row = make("div", { class: "row", role: "group", "aria-labelledby": "tandem-helped-question" });
    for (const [label, helped] of /** @type {[string, boolean][]} */ ([["Yes", true], ["No", false]])) {
      const button = make("button", { type: "button", class: helped ? "primary" : "" }, label);
      button.addEventListener("click", () => {
        api.feedback(session, helped);
        say(helped ? "Thanks! Glad it worked." : "Sorry about that. Let's get you some help.");
      });
      row.append(button);
    }
    answer.replaceChildren(question, row);
    openPanel(false);
  }

  const mount = () => doc.body.append(host);
  if (doc.body) mount();
  else doc.addEventListener("DOMContentLoaded", mount, { once: true });

  return {
    host,
    open: openPanel,
    close: () => closePanel(false),
    /** @param {string} question */
    ask: (question) => askFor(question),
    remove: () => host.remove(),
  };
}
