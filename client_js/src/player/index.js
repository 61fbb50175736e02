// @ts-check
/** The on-page walkthrough player. */
export { createPlayer } from "./player.js";
