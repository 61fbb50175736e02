// @ts-check
/**
 * The entry of `dist/tandem-cobrowse.js`: the visitor's side of a co-browse session (the
 * consent questions, the banner, the agents' actions), loaded by tandem.js only once an agent
 * asks to see the page (on-demand.js). Defines `window.TandemCobrowse` ({CobrowseClient}).
 */
import { CobrowseClient } from "./cobrowse.js";

/** @type {Record<string, unknown>} */ (/** @type {unknown} */ (globalThis)).TandemCobrowse = Object.freeze({ CobrowseClient });
