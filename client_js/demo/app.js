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
