// @ts-check
/**
 * The target resolver: finds the element a walkthrough step's target descriptor
 * (ranked candidates and a fingerprint) points at, preferring no match to a wrong
 * one. The player imports this module; `dist/resolver.js` (entry: global.js) is the
 * same code as an IIFE defining `window.TandemResolver`, which the recorder injects
 * to verify targets. See docs/resolver.md.
 */
export { describe } from "./fingerprint.js";
export { resolveNow } from "./resolve.js";
export { resolve } from "./wait.js";
