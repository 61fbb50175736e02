// @ts-check
/**
 * The shapes the resolver reads and returns. They mirror the walkthrough format
 * (server/knowledge/walkthrough.py: Target, Candidate, Fingerprint) as JSON.
 */

/**
 * @typedef {"testid" | "role" | "label" | "placeholder" | "alt" | "text" | "title" | "css" | "xpath" | "shadow"} CandidateKind
 */

/**
 * One way to find the target.
 * @typedef {object} Candidate
 * @property {CandidateKind} kind
 * @property {string} [value] the test id, role, text, attribute value, selector or XPath
 * @property {string | null} [name] role candidates: the accessible name
 * @property {boolean} [exact] text-like kinds: the whole text (default) or a part of it
 * @property {string[]} [chain] shadow: CSS selectors, outermost host first, the element last
 */

/**
 * What the element looked like when it was recorded.
 * @typedef {object} Fingerprint
 * @property {string} tag
 * @property {string | null} [role]
 * @property {string | null} [name]
 * @property {string | null} [text]
 * @property {Record<string, string>} [attributes]
 * @property {string | null} [heading] the nearest heading before it
 * @property {string | null} [landmark] the landmark role it is in (main, navigation, dialog, …)
 * @property {string[]} [frame] selectors of the iframes it is inside, outermost first
 * @property {string[]} [shadow_hosts] selectors of the shadow hosts it is inside, outermost first
 * @property {{x: number, y: number} | null} [position] its centre, as fractions of the document
 */

/**
 * A target descriptor: candidates in rank order, and the fingerprint.
 * @typedef {object} Descriptor
 * @property {Candidate[]} candidates
 * @property {Fingerprint | null} [fingerprint]
 */

/**
 * @typedef {object} ResolveOptions
 * @property {number} [threshold] the fingerprint similarity an element needs when the first candidate did not pick it alone (default 0.6)
 * @property {number} [timeoutMs] how long `resolve` waits for the element (default 0: one pass, no waiting)
 * @property {Document | Element | ShadowRoot} [root] where to search (default: the document)
 * @property {string} [testIdAttribute] the attribute `testid` candidates name (default "data-testid")
 */

/**
 * @typedef {"found" | "not_found" | "ambiguous" | "not_visible"} Status
 */

/**
 * What one candidate matched.
 * @typedef {object} Tried
 * @property {CandidateKind} kind
 * @property {number} index its rank in the descriptor
 * @property {number} matches how many elements it matched
 */

/**
 * The outcome of resolving a descriptor.
 * @typedef {object} Resolution
 * @property {Status} status
 * @property {Element | null} element the element: set when found, and when not_visible (so it can be revealed)
 * @property {string | null} strategy the candidate kind that decided, "fingerprint", or null
 * @property {number} candidate the index of that candidate, or -1
 * @property {number} similarity fingerprint similarity of the element (0..1; 1 without a fingerprint; 0 when none was chosen)
 * @property {Tried[]} tried
 */

export {};
