// The recorder chunk (manifest name `recorder.core`): rrweb's record plus our transport,
// redaction and identity. Loaded by loader.js once the page is idle, only for a visitor who is
// recorded; it registers `start(options) -> controller` and does nothing by itself.

import { record } from "@rrweb/record";
import { registerChunk } from "./chunks.js";
import { makeGzip } from "./compress.js";
import { createRecorder } from "./recorder.js";

/** `obj[name]` bound to obj, or null when it is not a function. */
function bound(obj, name) {
  return obj && typeof obj[name] === "function" ? obj[name].bind(obj) : null;
}

/** options: {window, document, config, currentScriptSrc, features} from the loader. */
function browserEnv(options) {
  const win = options.window;
  const nav = win.navigator;
  const timers = {
    setTimeout: bound(win, "setTimeout"),
    clearTimeout: bound(win, "clearTimeout"),
    setInterval: bound(win, "setInterval"),
    clearInterval: bound(win, "clearInterval"),
  };
  return Object.assign({
    navigator: nav,
    record,
    fetch: bound(win, "fetch"),
    sendBeacon: bound(nav, "sendBeacon"),
    makeBlob: (parts, opts) => new win.Blob(parts, opts),
    gzip: makeGzip(win, timers),
    timers,
    now: Date.now,
    warn: bound(win.console, "warn"),
    BroadcastChannel: typeof win.BroadcastChannel === "function" ? win.BroadcastChannel : null,
  }, options);
}

if (typeof window !== "undefined") {
  registerChunk(window, "core", { start: (options) => createRecorder(browserEnv(options)) });
}
