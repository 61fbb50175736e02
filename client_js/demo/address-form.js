// @ts-check
/** `<acme-address-form>`: a web component whose form lives in an open shadow root. */
import { t } from "./dom.js";

const STYLE = `
  :host { display: block; }
  form { display: flex; flex-direction: column; gap: .8rem; max-width: 420px; }
  label { display: flex; flex-direction: column; gap: .3rem; font-weight: 600; font-size: .9rem; }
  input { font: inherit; font-weight: 400; padding: .5rem .6rem; border: 1px solid #d9dee8; border-radius: 6px; }
  button { font: inherit; align-self: flex-start; padding: .5rem .9rem; border-radius: 6px; border: 1px solid #3a4fd1; background: #3a4fd1; color: #fff; cursor: pointer; }
  p[role=status] { color: #1f7a4d; margin: 0; }
`;

class AcmeAddressForm extends HTMLElement {
  connectedCallback() {
    if (this.shadowRoot) return;
    const root = this.attachShadow({ mode: "open" });
    // Constructed stylesheets are allowed under the strict CSP; <style> tags are not.
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(STYLE);
    root.adoptedStyleSheets = [sheet];
    const form = document.createElement("form");
    form.dataset.testid = "address-form-inner";
    /** @param {string} name @param {string} label @param {string} autocomplete */
    const field = (name, label, autocomplete) => {
      const wrap = document.createElement("label");
      const input = document.createElement("input");
      input.name = name;
      input.autocomplete = /** @type {AutoFill} */ (autocomplete);
      input.dataset.testid = `address-${name}`;
      wrap.append(label, input);
      return wrap;
    };
    const saved = document.createElement("p");
    saved.setAttribute("role", "status");
    saved.dataset.testid = "address-saved";
    saved.hidden = true;
    saved.textContent = t("address.saved");
    const button = document.createElement("button");
    button.type = "submit";
    button.dataset.testid = "address-save";
    button.textContent = t("address.save");
    form.append(
      field("line1", t("address.line1"), "address-line1"),
      field("city", t("address.city"), "address-level2"),
      field("postcode", t("address.postcode"), "postal-code"),
      button,
      saved,
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      saved.hidden = false;
    });
    root.append(form);
  }
}

export function defineAddressForm() {
  if (!customElements.get("acme-address-form")) customElements.define("acme-address-form", AcmeAddressForm);
}
