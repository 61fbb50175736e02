// The console's chat: polls the session's transcript, sends the agent's lines and says when they type.
// Plain script, no build step: the console is server-rendered and this is its only behaviour.
(function () {
  "use strict";
  const box = document.getElementById("chat");
  if (!box) return;
  const base = `/console/${box.dataset.site}/sessions/${box.dataset.session}`;
  const csrf = box.dataset.csrf || "";
  const log = box.querySelector("[data-chat-log]");
  const status = box.querySelector("[data-chat-status]");
  const form = box.querySelector("form");
  const input = box.querySelector("textarea");
  let shown = -1;
  let lastTyping = 0;

  function render(lines) {
    if (lines.length === shown) return;
    shown = lines.length;
    log.replaceChildren(
      ...lines.map((line) => {
        const item = document.createElement("li");
        item.className = line.sender;
        const who = document.createElement("strong");
        who.textContent = line.sender === "agent" ? `${line.name || "You"}: ` : "Visitor: ";
        item.append(who, document.createTextNode(line.text));
        return item;
      }),
    );
  }

  async function poll() {
    try {
      const response = await fetch(`${base}/chat.json`, { headers: { Accept: "application/json" } });
      if (response.ok) {
        const data = await response.json();
        render(data.lines || []);
        status.textContent = data.visitor_typing ? "The visitor is typing…" : "";
      }
    } catch (error) {
      status.textContent = "Reconnecting…";
    }
  }

  function post(path, fields) {
    const body = new URLSearchParams({ csrf, ...fields });
    return fetch(`${base}/${path}`, { method: "POST", body });
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    await post("chat", { text });
    await poll();
  });
  input.addEventListener("input", () => {
    const now = Date.now();
    if (now - lastTyping < 2000) return;
    lastTyping = now;
    void post("typing", {});
  });
  void poll();
  setInterval(poll, 2000);
})();
