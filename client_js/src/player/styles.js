// @ts-check
/**
 * The player's look: one constructed stylesheet adopted by its shadow root (the
 * demo's Content-Security-Policy forbids inline styles; constructed sheets are fine).
 */

const CSS = `
:host { all: initial; }
* { box-sizing: border-box; }
.highlight {
  position: fixed; pointer-events: none; border: 2px solid #4f46e5; border-radius: 6px;
  /* The cutout: the rest of the page is dimmed; nothing blocks it (pointer-events: none). */
  box-shadow: 0 0 0 4px rgba(79, 70, 229, 0.25), 0 0 0 200vmax rgba(17, 24, 39, 0.3);
  transition: all 120ms ease-out;
}
.highlight[hidden], [hidden] { display: none !important; }
.tooltip {
  position: fixed; left: 0; top: 0; width: max-content; max-width: min(340px, calc(100vw - 16px));
  pointer-events: auto; background: #fff; color: #1f2937; border-radius: 10px; padding: 14px 16px;
  box-shadow: 0 10px 30px rgba(0, 0, 0, 0.25); font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif;
  transition: opacity 120ms ease-out; outline: none;
}
.tooltip:focus-visible { outline: 2px solid #4f46e5; outline-offset: 2px; }
.tooltip.centred { left: 50%; top: 50%; transform: translate(-50%, -50%); }
.tooltip.sheet {
  left: 0; right: 0; top: auto; bottom: 0; width: 100%; max-width: none; transform: none;
  border-radius: 14px 14px 0 0; padding-bottom: max(14px, env(safe-area-inset-bottom));
}
.who { margin: 0 0 2px; font-weight: 600; font-size: 13px; }
.progress { margin: 0 0 4px; font-size: 12px; color: #6b7280; }
.text { margin: 0 0 10px; }
.text code { font-family: ui-monospace, monospace; background: #f3f4f6; padding: 0 3px; border-radius: 3px; }
.text a { color: #4338ca; }
.note { margin: 0 0 10px; padding: 6px 8px; border-radius: 6px; background: #eef2ff; }
.note.warning { background: #fef3c7; }
.buttons { display: flex; flex-wrap: wrap; gap: 6px; justify-content: flex-end; }
button {
  font: inherit; border: 1px solid #d1d5db; background: #fff; color: inherit; border-radius: 6px;
  padding: 4px 10px; cursor: pointer;
}
button.primary { background: #4f46e5; border-color: #4f46e5; color: #fff; }
button.close { position: absolute; top: 4px; right: 6px; border: 0; padding: 2px 6px; font-size: 16px; }
.live { position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%); white-space: nowrap; }
@media (prefers-reduced-motion: reduce) { *, .highlight, .tooltip { transition: none !important; animation: none !important; } }
`;

/**
 * The stylesheet, built once per window (constructed sheets belong to their document).
 * @param {import("./types.js").Win} win
 */
export function playerSheet(win) {
  const sheet = new win.CSSStyleSheet();
  sheet.replaceSync(CSS);
  return sheet;
}

/**
 * Style the host from script (CSSOM, allowed by CSP), `!important` so page rules cannot
 * undo it: a transparent, click-through layer over the viewport.
 * @param {HTMLElement} host
 */
export function styleHost(host) {
  const rules = {
    position: "fixed", inset: "0", width: "100vw", height: "100vh", "max-width": "none", "max-height": "none",
    margin: "0", padding: "0", border: "0", background: "transparent", overflow: "visible",
    "pointer-events": "none", "z-index": "2147483647", color: "inherit",
  }; // prettier-ignore
  for (const [name, value] of Object.entries(rules)) host.style.setProperty(name, value, "important");
}
