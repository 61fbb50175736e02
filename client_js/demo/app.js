// @ts-check
/** Acme Billing's own scripts (the demo customer site, not Tandem). */
import { readDemoConfig, useConfig } from "./dom.js";
import { startInvoices } from "./invoices.js";
import { startInvite } from "./invite.js";
import { defineAddressForm } from "./address-form.js";
import { startReports } from "./reports.js";
import { startSettings, startNotificationsEmbed } from "./settings.js";
import { startHome } from "./home.js";

const config = readDemoConfig();
useConfig(config);
identifyWithTandem(config.tandem.identity);

/** @type {Record<string, () => void>} */
const pages = {
  home: startHome,
  invoices: startInvoices,
  billing: defineAddressForm,
  team: startInvite,
  reports: startReports,
  settings: startSettings,
  "embed-notifications": startNotificationsEmbed,
};

pages[config.page]?.();

/**
 * Tell Tandem who the visitor is, or that nobody is signed in (null: the tab
 * is no longer attributed to whoever signed out). tandem.js loads async, so
 * it may arrive before or after this script: call it now if it is there, else
 * when it announces itself with `tandem:ready`. This is the snippet customers copy.
 * @param {import("./dom.js").TandemIdentity | null | undefined} identity
 */
function identifyWithTandem(identity) {
  const page = /** @type {Window & {Tandem?: {identify(identity: object | null): Promise<unknown>}}} */ (window);
  const identify = () => page.Tandem?.identify(identity ?? null).catch((error) => console.warn("Tandem:", error));
  if (page.Tandem) identify();
  else document.addEventListener("tandem:ready", identify, { once: true });
}
