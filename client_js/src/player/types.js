// @ts-check
/**
 * The shapes the player reads (a `run` message's rendered steps, docs/walkthroughs.md)
 * and the ones it reports. The target descriptor is the resolver's; the player never
 * looks inside it, it hands it to the injected `resolve`.
 */

/**
 * @typedef {"click" | "fill" | "select" | "check" | "press" | "hover" | "scroll" | "navigate" | "wait"} ActionKind
 * @typedef {object} Action
 * @property {ActionKind} kind
 * @property {string} [value] fill, select
 * @property {boolean} [checked] check
 * @property {string} [key] press
 * @property {string} [url] navigate: a path on the site
 * @property {number} [ms] wait
 */

/**
 * @typedef {object} Advance
 * @property {"next" | "click" | "input" | "url" | "appears" | "disappears"} after
 * @property {string | null} [url]
 * @property {string | null} [selector]
 */

/**
 * @typedef {object} Expect
 * @property {string | null} [url]
 * @property {string | null} [appears]
 * @property {string | null} [disappears]
 * @property {string | null} [value]
 */

/**
 * A branch: when its condition holds as the step completes, the run goes to `goto`.
 * Trait conditions are decided by the server when it renders the run (`always`).
 * @typedef {object} Branch
 * @property {{appears?: string, url?: string, always?: boolean}} when
 * @property {string} goto a step id
 */

/**
 * @typedef {"wait" | "skip" | "center" | "abort" | "escalate"} WhenMissing
 * @typedef {"auto" | "top" | "bottom" | "left" | "right" | "center"} Placement
 */

/**
 * One rendered step, as the `run` message carries it.
 * @typedef {object} Step
 * @property {string} id
 * @property {string} text
 * @property {unknown} [target] the target descriptor (for `resolve`)
 * @property {Placement} [placement]
 * @property {Action} [action]
 * @property {Advance} [advance]
 * @property {Expect} [expect]
 * @property {number} [timeout_ms]
 * @property {WhenMissing} [when_missing]
 * @property {boolean} [destructive]
 * @property {Branch[]} [branches]
 */

/**
 * The player's input: a `run` message (docs/protocol.md).
 * @typedef {object} Run
 * @property {string} [run]
 * @property {string} [title]
 * @property {string} [step] the id of the step to show first
 * @property {Step[]} steps
 * @property {{name?: string, avatar?: string}} [persona] who guides the visitor (a help answer's persona)
 */

/**
 * What the injected resolver answers.
 * @typedef {object} Resolution
 * @property {string} status "found", or why not ("not_found", "ambiguous", "not_visible")
 * @property {Element | null} element
 * @property {string | null} [strategy]
 * @property {number} [similarity]
 */

/**
 * @typedef {(descriptor: unknown, options: {timeoutMs: number}) => Promise<Resolution>} Resolve
 */

/**
 * One step outcome, for the caller to send as a `step` message.
 * @typedef {object} StepEvent
 * @property {string} step
 * @property {"shown" | "completed" | "skipped" | "failed" | "reversed"} event
 * @property {string} [reason]
 * @property {string} [strategy]
 * @property {number} [similarity]
 * @property {string} [goto] completed: the branch taken
 */

/**
 * Why the walkthrough ended: "completed", "closed" (the visitor), "target_missing",
 * "escalate", "unexpected_outcome", or what the caller passed to `stop`.
 * `step` is the step it ended on (null when it completed).
 * @typedef {{reason: string, step: string | null}} EndEvent
 */

export {};

/**
 * The page's window, with its constructors (the player builds events and reads
 * prototypes from the page's own realm).
 * @typedef {Window & typeof globalThis} Win
 */
