// Lazy parts of the recorder: classic scripts beside the events endpoint, each registering what
// it exports under window[CHUNKS_GLOBAL][name]. Classic scripts (not ES modules) so a recorder
// served from another origin needs no CORS headers on its assets.

import { siblingUrl } from "./config.js";

export const CHUNKS_GLOBAL = "__sentieroChunks";

/** Called by a chunk's entry when it runs. */
export function registerChunk(win, name, exports) {
  const chunks = win[CHUNKS_GLOBAL] || (win[CHUNKS_GLOBAL] = {});
  chunks[name] = exports;
}

/** A built file beside the events endpoint: `/sentiero/events` -> `/sentiero/assets/F`. */
export function assetUrl(eventsUrl, file) {
  if (!file) return null;
  return siblingUrl(eventsUrl, "assets/" + file);
}

export function loadScript(doc, src, onLoad, onError) {
  const script = doc.createElement("script");
  script.src = src;
  script.async = true;
  script.addEventListener("load", onLoad);
  script.addEventListener("error", onError);
  (doc.head || doc.documentElement || doc.body).appendChild(script);
  return script;
}

/** Resolves with the chunk's exports (at once when it already ran); rejects when it fails. */
export function loadChunk(win, doc, name, src) {
  const ready = () => win[CHUNKS_GLOBAL] && win[CHUNKS_GLOBAL][name];
  if (ready()) return Promise.resolve(ready());
  return new Promise((resolve, reject) => {
    if (!src) {
      reject(new Error("no " + name + " file in this build"));
      return;
    }
    loadScript(
      doc,
      src,
      () => (ready() ? resolve(ready()) : reject(new Error(src + " registered nothing"))),
      () => reject(new Error("could not load " + src)),
    );
  });
}
