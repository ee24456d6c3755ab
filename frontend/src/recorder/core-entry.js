// The recorder chunk (manifest name `recorder.core`): rrweb's record plus our transport,
// redaction and identity. Loaded by loader.js once the page is idle, only for a visitor who is
// recorded; it registers `start(options) -> controller` and does nothing by itself.

import { record } from "@rrweb/record";
import { registerChunk } from "./chunks.js";
import { makeGzip } from "./compress.js";
import { createRecorder } from "./recorder.js";

/** options: {window, document, config, currentScriptSrc, features} from the loader. */
function browserEnv(options) {
  const win = options.window;
  const nav = win.navigator;
  const timers = {
    setTimeout: (fn, ms) => win.setTimeout(fn, ms),
    clearTimeout: (id) => win.clearTimeout(id),
    setInterval: (fn, ms) => win.setInterval(fn, ms),
    clearInterval: (id) => win.clearInterval(id),
  };
  return {
    window: win,
    document: options.document,
    navigator: nav,
    config: options.config,
    features: options.features,
    record,
    fetch: typeof win.fetch === "function" ? (url, init) => win.fetch(url, init) : null,
    sendBeacon:
      nav && typeof nav.sendBeacon === "function" ? (url, data) => nav.sendBeacon(url, data) : null,
    makeBlob: (parts, opts) => new win.Blob(parts, opts),
    gzip: makeGzip(win, timers),
    timers,
    now: () => Date.now(),
    warn: (...args) => {
      if (win.console && win.console.warn) win.console.warn(...args);
    },
    currentScriptSrc: options.currentScriptSrc,
    BroadcastChannel: typeof win.BroadcastChannel === "function" ? win.BroadcastChannel : null,
  };
}

if (typeof window !== "undefined") {
  registerChunk(window, "core", { start: (options) => createRecorder(browserEnv(options)) });
}
