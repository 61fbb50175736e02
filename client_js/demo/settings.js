// @ts-check
/** Settings: a dead button, a button that throws, and the notifications iframe's page. */

export function startSettings() {
  const broken = document.querySelector("[data-testid=error-button]");
  broken?.addEventListener("click", () => {
    // Deliberate: the demo needs a control that fails with a JavaScript error.
    throw new Error("Recalculation failed: the ledger service did not answer");
  });
  // [data-testid=dead-button] deliberately has no handler: it does nothing.
}

export function startNotificationsEmbed() {
  const form = document.querySelector("[data-testid=notifications-form]");
  const saved = document.querySelector("[data-testid=iframe-saved]");
  if (!(form instanceof HTMLFormElement) || !(saved instanceof HTMLElement)) return;
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    saved.hidden = false;
  });
}
