// @ts-check
/** Reports: "Export report" opens a native modal <dialog>. */
import { t } from "./dom.js";

export function startReports() {
  const open = document.querySelector("[data-testid=export-open]");
  const dialog = document.querySelector("[data-testid=export-dialog]");
  const result = document.querySelector("[data-testid=export-result]");
  if (!(dialog instanceof HTMLDialogElement) || !(open instanceof HTMLElement) || !(result instanceof HTMLElement)) return;
  open.addEventListener("click", () => dialog.showModal());
  dialog.addEventListener("close", () => {
    if (dialog.returnValue !== "export") return;
    const form = dialog.querySelector("form");
    const data = new FormData(form || undefined);
    const file = `acme-report-${data.get("range")}.${data.get("format")}`;
    result.textContent = t("export.ready", { file });
    result.hidden = false;
    document.dispatchEvent(new CustomEvent("acme:report-exported", { detail: { file } }));
    open.focus();
  });
}
