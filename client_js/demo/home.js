// @ts-check
import { cls, el, t } from "./dom.js";

/** Dashboard: the autopay panel arrives 2 s after the page, as slow widgets do. */
export function startHome() {
  const slot = document.querySelector("[data-late-slot]");
  if (!slot) return;
  setTimeout(() => {
    const panel = el("section", { class: cls("card", "late-panel"), "data-testid": "late-panel", "aria-live": "polite" }, [
      el("h2", {}, [t("late.title")]),
      el("p", {}, [t("late.body")]),
      el("a", { class: cls("btn", "btn-primary"), href: "/billing", "data-testid": "late-panel-action" }, [t("late.action")]),
    ]);
    slot.append(panel);
  }, 2000);
}
