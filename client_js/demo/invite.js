// @ts-check
/** "Invite a teammate": a form whose inputs are controlled by a Preact component. */
import { h, render } from "preact";
import { useState } from "preact/hooks";
import { cls, id, t } from "./dom.js";

/**
 * @param {{label: string, children?: import("preact").ComponentChildren}} props
 */
function Field({ label, children }) {
  return h("label", { class: cls("field") }, h("span", { class: cls("field-label") }, label), children);
}

function InviteForm() {
  const [name, setName] = useState("");
  const [email, setEmail] = useState("");
  const [role, setRole] = useState("member");
  const [message, setMessage] = useState("");
  const [error, setError] = useState("");
  const [sentTo, setSentTo] = useState("");
  const [busy, setBusy] = useState(false);

  /** @param {Event} event */
  async function submit(event) {
    event.preventDefault();
    setError("");
    setBusy(true);
    try {
      const response = await fetch("/api/team/invites", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ name, email, role, message }),
      });
      const body = await response.json();
      if (!response.ok) {
        setError(body.error || "Something went wrong.");
        return;
      }
      setSentTo(body.email);
      setName("");
      setEmail("");
      setMessage("");
    } finally {
      setBusy(false);
    }
  }

  /** @param {(value: string) => void} set */
  const bind = (set) => (/** @type {Event} */ e) => set(/** @type {HTMLInputElement} */ (e.currentTarget).value);

  return h(
    "form",
    { class: cls("stack"), id: id("invite-form"), "data-testid": "invite-form", onSubmit: submit, noValidate: true },
    sentTo ? h("p", { class: cls("notice"), role: "status", "data-testid": "invite-sent" }, t("invite.sent", { email: sentTo })) : null,
    error ? h("p", { class: cls("notice", "notice-error"), role: "alert", "data-testid": "invite-error" }, error) : null,
    h(Field, { label: t("invite.name") }, h("input", { class: cls("input"), name: "name", autocomplete: "off", value: name, onInput: bind(setName), "data-testid": "invite-name" })),
    h(Field, { label: t("invite.email") }, h("input", { class: cls("input"), name: "email", type: "email", autocomplete: "off", value: email, onInput: bind(setEmail), "data-testid": "invite-email", placeholder: "colleague@company.com" })),
    h(
      Field,
      { label: t("invite.role") },
      h(
        "select",
        { class: cls("input"), name: "role", value: role, onChange: bind(setRole), "data-testid": "invite-role" },
        h("option", { value: "member" }, "Member"),
        h("option", { value: "admin" }, "Admin"),
        h("option", { value: "viewer" }, "Viewer (read only)"),
      ),
    ),
    h(Field, { label: t("invite.message") }, h("textarea", { class: cls("input"), name: "message", rows: 3, value: message, onInput: bind(setMessage), "data-testid": "invite-message" })),
    h("button", { class: cls("btn", "btn-primary"), type: "submit", disabled: busy, "data-testid": "invite-submit" }, t("invite.submit")),
  );
}

export function startInvite() {
  const root = document.querySelector("[data-invite-root]");
  if (root) render(h(InviteForm, {}), root);
}
