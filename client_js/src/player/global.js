// @ts-check
/**
 * The entry of `dist/player.js`: defines `window.TandemPlayer` ({createPlayer}) for tools
 * and tests; tandem.js embeds the same module. An explicit assignment, so the bundle works
 * however it is injected.
 */
import { createPlayer } from "./index.js";

/** @type {Record<string, unknown>} */ (/** @type {unknown} */ (globalThis)).TandemPlayer = Object.freeze({ createPlayer });
