// @ts-check
/**
 * Loading one of the client's on-demand bundles (`tandem-cobrowse.js`, `tandem-mirror.js`)
 * from the Tandem server: a script tag, and the global the bundle defines.
 */

/**
 * Load `file` from the Tandem server, once: resolves with what it defines as `window[global]`.
 * A script that fails to load is taken out again, so a later call tries anew.
 * @param {{server: string, file: string, global: string, doc: Document, win: Window}} options
 * @returns {Promise<any>}
 */
export function loadBundle({ server, file, global, doc, win }) {
  const existing = /** @type {any} */ (win)[global];
  if (existing) return Promise.resolve(existing);
  return new Promise((resolve, reject) => {
    const script = doc.createElement("script");
    script.src = `${server}/${file}`;
    script.async = true;
    script.onload = () => {
      const loaded = /** @type {any} */ (win)[global];
      if (loaded) resolve(loaded);
      else reject(new Error(`Tandem: ${file} did not load`));
    };
    script.onerror = () => {
      script.remove();
      reject(new Error(`Tandem: ${file} could not be loaded`));
    };
    doc.head.append(script);
  });
}
