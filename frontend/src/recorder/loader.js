// The recorder's loader: the only script a page includes (manifest name `recorder`, also served
// as /recorder.js). It reads the config, applies the gates (no events URL, Global Privacy
// Control, the user's opt-out) and defines window.Sentiero. Only for a visitor who is recorded
// does it load the rest, once the page is idle: the recorder chunk (rrweb's record, transport,
// redaction) and, when a capture feature is on, the features chunk. A visitor who is not
// recorded loads nothing more. Calls to window.Sentiero made before the recorder runs are
// queued and replayed (custom events keep the time they were made).

import { assetUrl, loadChunk, registerChunk } from "./chunks.js";
import { CONFIG_ELEMENT_ID, FEATURE_FLAGS, loadConfig } from "./config.js";
import { checkGate, clearOptOutSignal, optOutName } from "./gate.js";
import { applyOptOut } from "./opt_out.js";
import { KEYS, liveSessionId } from "./session.js";
import { SHARED } from "./shared.js";
import { openStorage } from "./storage.js";

/** Longest wait for idle time before the recorder loads anyway. */
export const IDLE_TIMEOUT_MS = 2000;
/** Calls queued before the recorder runs, at most (later ones are dropped). */
export const QUEUE_MAX = 100;

/* global __SENTIERO_CHUNK_FILES__ */
/** `{core, features}` hashed file names, set by build.mjs; empty when running from source. */
export const CHUNK_FILES =
  typeof __SENTIERO_CHUNK_FILES__ === "object" && __SENTIERO_CHUNK_FILES__
    ? __SENTIERO_CHUNK_FILES__
    : {};

const noop = () => {};

/**
 * env: {window, document, navigator, currentScriptSrc, warn, now, sendBeacon,
 *       whenIdle(fn), loadChunk(name, config) -> Promise<exports>}
 * Returns {api, state}, or null when there is no usable config.
 */
export function createLoader(env) {
  const warn = env.warn || noop;
  const doc = env.document;
  const now = env.now || (() => Date.now());
  const config = loadConfig(doc, env.currentScriptSrc, warn);
  if (!config) return null;
  const local = openStorage(env.window, "localStorage");
  const session = openStorage(env.window, "sessionStorage");
  const gateEnv = { document: doc, navigator: env.navigator, localStorage: local };
  // pending: waiting for idle time or the chunks; recorder: the running recorder's controller.
  const state = { config, reason: null, pending: false, recorder: null, queue: [] };

  const enqueue = (call) => {
    if (state.queue.length < QUEUE_MAX) state.queue.push(call);
  };

  const api = {
    optOut() {
      if (state.recorder) return state.recorder.api.optOut();
      // The server may hold an earlier page of a live session: that one is reported.
      const sessionId = state.pending ? liveSessionId(config, local, session, now()) : null;
      state.pending = false;
      state.queue = [];
      state.reason = "opt-out";
      applyOptOut({ config, document: doc, local, session, sendBeacon: env.sendBeacon },
        sessionId, session && session.get(KEYS.windowId));
      return undefined;
    },
    optIn() {
      if (state.recorder) return state.recorder.api.optIn();
      clearOptOutSignal(gateEnv, optOutName(config));
      return undefined;
    },
    addCustomEvent(tag, payload) {
      if (state.recorder) return state.recorder.api.addCustomEvent(tag, payload);
      if (state.pending) enqueue({ tag, payload, at: now() });
      return undefined;
    },
    setMetadata(metadata) {
      if (state.recorder) return state.recorder.api.setMetadata(metadata);
      if (state.pending) enqueue({ metadata });
      return undefined;
    },
    isRecording() {
      return state.recorder ? state.recorder.api.isRecording() : false;
    },
  };

  function run(chunks) {
    if (!state.pending) return; // opted out while loading
    state.pending = false;
    const [core, features] = chunks;
    const recorder = core.start({
      window: env.window,
      document: doc,
      config,
      currentScriptSrc: env.currentScriptSrc,
      features: (features && features.FEATURES) || [],
    });
    if (!recorder) return;
    state.recorder = recorder;
    state.reason = recorder.state.reason;
    if (env.window) env.window.Sentiero = recorder.api;
    const queue = state.queue;
    state.queue = [];
    for (const call of queue) {
      if (call.metadata !== undefined) recorder.api.setMetadata(call.metadata);
      else recorder.addCustomEventAt(call.tag, call.payload, call.at);
    }
  }

  function load() {
    if (!state.pending) return;
    const wanted = [env.loadChunk("core", config)];
    if (FEATURE_FLAGS.some((flag) => config[flag])) {
      wanted.push(env.loadChunk("features", config).catch((err) => {
        warn("Sentiero: capture features unavailable", err);
        return null;
      }));
    }
    Promise.all(wanted).then(run, (err) => {
      state.pending = false;
      state.queue = [];
      state.reason = "load-failed";
      warn("Sentiero: recorder unavailable", err);
    });
  }

  const gate = checkGate(config, gateEnv);
  if (gate.record) {
    state.pending = true;
    env.whenIdle(load);
  } else {
    state.reason = gate.reason;
  }
  return { api, state };
}

function browserLoaderEnv(win, doc, scriptSrc) {
  const nav = win.navigator;
  return {
    window: win,
    document: doc,
    navigator: nav,
    currentScriptSrc: scriptSrc,
    warn: (...args) => {
      if (win.console && win.console.warn) win.console.warn(...args);
    },
    now: () => Date.now(),
    sendBeacon:
      nav && typeof nav.sendBeacon === "function" ? (url, data) => nav.sendBeacon(url, data) : null,
    whenIdle: (fn) =>
      typeof win.requestIdleCallback === "function"
        ? win.requestIdleCallback(fn, { timeout: IDLE_TIMEOUT_MS })
        : win.setTimeout(fn, 1),
    loadChunk: (name, config) =>
      loadChunk(win, doc, name, assetUrl(config.eventsUrl, CHUNK_FILES[name])),
  };
}

function boot(win, doc) {
  if (win.__sentieroRecorderLoaded) return; // the script was included twice
  win.__sentieroRecorderLoaded = true;
  registerChunk(win, "shared", SHARED);
  // currentScript is only set while this script runs synchronously: read it now.
  const scriptSrc = doc.currentScript && doc.currentScript.src ? doc.currentScript.src : null;
  const run = () => {
    const loader = createLoader(browserLoaderEnv(win, doc, scriptSrc));
    if (loader && !loader.state.recorder) win.Sentiero = loader.api;
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
