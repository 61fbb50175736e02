// Bundles the Tandem client and the demo site's scripts with esbuild.
// `node build.mjs` builds once; `node build.mjs --watch` rebuilds on change.
import * as esbuild from "esbuild";
import { readFileSync } from "node:fs";

const pkg = JSON.parse(readFileSync(new URL("./package.json", import.meta.url), "utf8"));
const watch = process.argv.includes("--watch");

/** @type {import("esbuild").BuildOptions[]} */
const builds = [
  {
    // The one script a customer adds: an IIFE that defines window.Tandem.
    entryPoints: { tandem: "src/tandem.js" },
    format: "iife",
    target: ["es2020"],
    define: { __TANDEM_VERSION__: JSON.stringify(pkg.version) },
  },
  {
    // The target resolver alone, an IIFE that defines window.TandemResolver: the
    // recorder injects it (Playwright) to verify targets with the player's own code.
    entryPoints: { resolver: "src/resolver/global.js" },
    format: "iife",
    target: ["es2020"],
  },
  {
    // The walkthrough player alone, an IIFE that defines window.TandemPlayer ({createPlayer}),
    // for tools and browser tests; tandem.js will embed the same module.
    entryPoints: { player: "src/player/global.js" },
    format: "iife",
    target: ["es2020"],
  },
  {
    // The walkthrough recorder's capture (init script of `tandem record`): events, descriptors, toolbar.
    entryPoints: { "tandem-capture": "src/capture/global.js" },
    format: "iife",
    target: ["es2020"],
  },
  {
    // The visitor's side of co-browsing (consent questions, banner, agents' actions), loaded by
    // tandem.js only once an agent asks to see the page.
    entryPoints: { "tandem-cobrowse": "src/cobrowse/global.js" },
    format: "iife",
    target: ["es2020"],
  },
  {
    // The co-browse recorder (rrweb, masked), loaded by tandem-cobrowse.js only once the visitor shares the page.
    entryPoints: { "tandem-mirror": "src/cobrowse/recorder.js" },
    format: "iife",
    target: ["es2020"],
  },
  {
    // The console's live view of a visitor's page: rrweb's replayer in a sandboxed iframe.
    entryPoints: { "console-live": "src/console/live.js" },
    format: "iife",
    target: ["es2020"],
    loader: { ".css": "text" },
  },
  {
    // The console's charts (uPlot), for its analytics page.
    entryPoints: { "console-charts": "src/console/charts.js" },
    format: "iife",
    target: ["es2020"],
    loader: { ".css": "text" },
  },
  {
    // Acme Billing, the demo site: its own app code (router, Preact form, dialogs).
    entryPoints: { "demo-app": "demo/app.js" },
    format: "esm",
    target: ["es2020"],
  },
];

for (const options of builds) {
  const config = {
    ...options,
    bundle: true,
    minify: true,
    sourcemap: "linked",
    legalComments: "none",
    outdir: "dist",
    logLevel: "warning",
  };
  if (watch) {
    const context = await esbuild.context(/** @type {any} */ (config));
    await context.watch();
  } else {
    await esbuild.build(/** @type {any} */ (config));
  }
}
if (!watch) console.log("client_js: built dist/tandem.js, dist/resolver.js and dist/demo-app.js");
