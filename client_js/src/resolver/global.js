// @ts-check
/**
 * The entry of `dist/resolver.js`: defines `window.TandemResolver` (resolve, resolveNow,
 * describe). An explicit assignment, so the bundle works however it is injected: a
 * script tag, or a wrapped init script (Playwright's add_init_script).
 */
import { describe, resolve, resolveNow } from "./index.js";

/** @type {Record<string, unknown>} */ (/** @type {unknown} */ (globalThis)).TandemResolver = Object.freeze({ resolve, resolveNow, describe });
