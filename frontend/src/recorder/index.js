// Recorder bundle entry (IIFE): boots on load from #sentiero-config or from its own URL.

import { record } from "rrweb";
import { makeGzip } from "./compress.js";
import { CONFIG_ELEMENT_ID } from "./config.js";
import { createRecorder } from "./recorder.js";

function browserEnv(win, doc, scriptSrc) {
  const nav = win.navigator;
  return {
    window: win,
    document: doc,
    navigator: nav,
    record,
    fetch: typeof win.fetch === "function" ? (url, init) => win.fetch(url, init) : null,
    sendBeacon:
      nav && typeof nav.sendBeacon === "function" ? (url, data) => nav.sendBeacon(url, data) : null,
    makeBlob: (parts, options) => new win.Blob(parts, options),
    gzip: makeGzip(win),
    timers: {
      setTimeout: (fn, ms) => win.setTimeout(fn, ms),
      clearTimeout: (id) => win.clearTimeout(id),
      setInterval: (fn, ms) => win.setInterval(fn, ms),
      clearInterval: (id) => win.clearInterval(id),
    },
    now: () => Date.now(),
    warn: (...args) => {
      if (win.console && win.console.warn) win.console.warn(...args);
    },
    currentScriptSrc: scriptSrc,
    BroadcastChannel: typeof win.BroadcastChannel === "function" ? win.BroadcastChannel : null,
  };
}

function boot(win, doc) {
  if (win.__sentieroRecorderLoaded) return; // the script was included twice
  win.__sentieroRecorderLoaded = true;
  // currentScript is only set while this script runs synchronously: read it now.
  const scriptSrc = doc.currentScript && doc.currentScript.src ? doc.currentScript.src : null;
  const run = () => {
    const recorder = createRecorder(browserEnv(win, doc, scriptSrc));
    if (recorder) win.Sentiero = recorder.api;
  };
  // A config island placed after the script tag is only parsed later.
  if (!doc.getElementById(CONFIG_ELEMENT_ID) && doc.readyState === "loading") {
    doc.addEventListener("DOMContentLoaded", run, { once: true });
  } else {
    run();
  }
}

if (typeof window !== "undefined" && typeof document !== "undefined") {
  boot(window, document);
}
