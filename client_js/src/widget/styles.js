// @ts-check
/** The help widget's look: a constructed stylesheet (allowed under a strict CSP) in its shadow root. */

const CSS = `
:host {
  all: initial; position: fixed; right: 16px; bottom: 16px; z-index: 2147483646;
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1f2937;
}
* { box-sizing: border-box; }
[hidden] { display: none !important; }
button {
  font: inherit; border: 1px solid #d1d5db; background: #fff; color: inherit; border-radius: 6px;
  padding: 4px 10px; cursor: pointer;
}
button:focus-visible, input:focus-visible, summary:focus-visible { outline: 2px solid #4f46e5; outline-offset: 2px; }
button.primary, .launch { background: #4338ca; border-color: #4338ca; color: #fff; }
.launch { border-radius: 999px; padding: 10px 18px; font-weight: 600; box-shadow: 0 4px 14px rgba(0, 0, 0, 0.2); }
.panel {
  position: absolute; right: 0; bottom: 56px; width: min(360px, calc(100vw - 32px)); max-height: min(70vh, 560px);
  overflow: auto; background: #fff; border-radius: 12px; padding: 14px 16px;
  box-shadow: 0 10px 30px rgba(0, 0, 0, 0.25);
}
h2 { margin: 0 24px 8px 0; font-size: 16px; }
h3 { margin: 14px 0 6px; font-size: 13px; color: #4b5563; }
.close { position: absolute; top: 6px; right: 8px; border: 0; font-size: 18px; padding: 0 6px; }
.who { margin: 0 0 6px; font-weight: 600; }
.ask { display: flex; flex-wrap: wrap; gap: 6px; align-items: center; }
.ask label { flex-basis: 100%; font-size: 13px; color: #374151; }
.ask input { flex: 1; min-width: 0; font: inherit; padding: 5px 8px; border: 1px solid #9ca3af; border-radius: 6px; }
.answer { margin-top: 10px; }
.person { margin-top: 8px; }
.answer .text { margin: 0 0 8px; }
.faq { margin: 0 0 8px; padding: 6px 8px; background: #f3f4f6; border-radius: 6px; }
.faq summary { cursor: pointer; font-weight: 600; }
.row { display: flex; gap: 6px; }
.chat-log { list-style: none; margin: 0 0 6px; padding: 0; max-height: 200px; overflow: auto; display: grid; gap: 4px; }
.chat-log .visitor { text-align: right; }
.guides { list-style: none; margin: 0; padding: 0; display: grid; gap: 6px; }
.go { width: 100%; text-align: left; }
.muted { color: #4b5563; }
code { font-family: ui-monospace, monospace; background: #f3f4f6; padding: 0 3px; border-radius: 3px; }
a { color: #4338ca; }
@media (prefers-reduced-motion: reduce) { * { transition: none !important; animation: none !important; } }
`;

/**
 * @param {Window & typeof globalThis} win
 */
export function widgetSheet(win) {
  const sheet = new win.CSSStyleSheet();
  sheet.replaceSync(CSS);
  return sheet;
}
