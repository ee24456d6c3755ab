// Wires the parts together: config -> gate -> identity -> cookies -> transport -> rrweb,
// plus the public `window.Sentiero` API. Everything from the browser is passed in through
// `env`, so this runs under node:test with fakes.

import { loadConfig } from "./config.js";
import { writeLinkCookies } from "./cookies.js";
import { checkGate, clearOptOutSignal, optOutName } from "./gate.js";
import { newId } from "./ids.js";
import { buildRecordOptions } from "./masking.js";
import { trackPending } from "./pending.js";
import { applyOptOut } from "./opt_out.js";
import { createRedactor } from "./redaction.js";
import { KEYS, resolveIdentity, touchLastSeen } from "./session.js";
import { openStorage } from "./storage.js";
import { Transport } from "./transport.js";
import { guardWindowId } from "./window_guard.js";

const noop = () => {};

/**
 * env: {window, document, navigator, record, fetch, sendBeacon, makeBlob, gzip, timers, now,
 *       warn, currentScriptSrc, BroadcastChannel, config?, features?}
 * `config` is the normalized config when the loader already read it (else it is read here);
 * `features` the optional capture features available ([{flag, start}], from their lazy chunk).
 * Returns the controller (also reachable as window.Sentiero's internals), or null when there is
 * no usable config.
 */
export function createRecorder(env) {
  const warn = env.warn || noop;
  const doc = env.document;
  const config = env.config || loadConfig(doc, env.currentScriptSrc, warn);
  if (!config) return null;

  const local = openStorage(env.window, "localStorage");
  const session = openStorage(env.window, "sessionStorage");
  const gateEnv = { document: doc, navigator: env.navigator, localStorage: local };
  const now = env.now || (() => Date.now());

  const state = {
    config,
    recording: false,
    reason: null,
    identity: null,
    transport: null,
    stopRecord: null,
    teardowns: [],
    redactor: null,
  };

  function stopRecording() {
    const teardowns = state.teardowns;
    state.teardowns = [];
    for (const teardown of teardowns) {
      try {
        teardown();
      } catch (_err) {
        // keep tearing down the rest
      }
    }
    if (state.stopRecord) {
      try {
        state.stopRecord();
      } catch (_err) {
        // rrweb already stopped
      }
    }
    state.stopRecord = null;
    if (state.transport) state.transport.discard();
    state.recording = false;
  }

  // The payload is redacted with every other event in the transport (transformEvent), by the
  // rules of its tag; an event the redactor cannot handle is dropped there. `at` is set for a
  // call the loader queued before the recorder ran: the event keeps the time it was made.
  function addCustomEvent(tag, payload, at) {
    if (!state.recording || !state.transport) return;
    if (typeof tag !== "string" || !tag) {
      warn("Sentiero.addCustomEvent: tag must be a non-empty string");
      return;
    }
    const data = payload === undefined ? {} : payload;
    if (typeof at === "number") {
      state.transport.addEvent({ type: 5, data: { tag, payload: data }, timestamp: at });
      return;
    }
    try {
      env.record.addCustomEvent(tag, data);
      return;
    } catch (err) {
      // rrweb refuses custom events until its first snapshot (a page still loading): the
      // event goes to the transport directly, in the shape rrweb gives it.
      if (!/start recording/.test(String(err && err.message))) {
        warn("Sentiero.addCustomEvent failed", err);
        return;
      }
    }
    state.transport.addEvent({ type: 5, data: { tag, payload: data }, timestamp: now() });
  }

  function setMetadata(metadata) {
    if (!state.recording || !state.transport || !state.redactor) return;
    if (!metadata || typeof metadata !== "object" || Array.isArray(metadata)) return;
    let redacted;
    try {
      redacted = state.redactor.redactMetadata(metadata);
    } catch (err) {
      warn("Sentiero.setMetadata: metadata dropped, redaction failed", err);
      return;
    }
    state.transport.setMetadata(redacted);
  }

  const api = {
    optOut() {
      // Reported only when the server may hold something of the session: an earlier page of
      // it, or a batch from this one. An opt-out before anything was sent leaves no trace.
      const identity = state.recording ? state.identity : null;
      const sentSomething =
        !!identity && (!identity.rotated || !!(state.transport && state.transport.sentAny));
      const windowId = state.identity && state.identity.windowId;
      stopRecording();
      state.identity = null;
      state.reason = "opt-out";
      applyOptOut({ config, document: doc, local, session, sendBeacon: env.sendBeacon },
        sentSomething ? identity.sessionId : null, windowId);
    },
    optIn() {
      clearOptOutSignal(gateEnv, optOutName(config));
    },
    addCustomEvent(tag, payload) {
      addCustomEvent(tag, payload);
    },
    setMetadata,
    isRecording() {
      return state.recording;
    },
  };

  function start() {
    const gate = checkGate(config, gateEnv);
    if (!gate.record) {
      state.reason = gate.reason;
      return;
    }
    // Every event passes the redaction engine before it is buffered (custom event payloads,
    // Meta hrefs, ...). Without a working redactor nothing is recorded: fail closed.
    try {
      state.redactor = createRedactor(config.redaction, { warn });
    } catch (err) {
      warn("Sentiero: redaction unavailable; not recording", err);
      state.reason = "redaction-failed";
      return;
    }
    const redactEvent = state.redactor.redactEvent;

    const location = (env.window && env.window.location) || doc.location || {};
    const identity = resolveIdentity({
      config,
      local,
      session,
      now: now(),
      newId: () => newId(env.window && env.window.crypto),
      href: location.href,
      referrer: doc.referrer,
    });
    state.identity = identity;
    writeLinkCookies(doc, identity.sessionId, identity.windowId, config.sessionMaxAgeMs);

    const transport = new Transport({
      eventsUrl: config.eventsUrl,
      sessionId: identity.sessionId,
      windowId: identity.windowId,
      flushIntervalMs: config.flushIntervalMs,
      flushEventThreshold: config.flushEventThreshold,
      storage: session,
      fetch: env.fetch,
      sendBeacon: env.sendBeacon,
      makeBlob: env.makeBlob,
      gzip: env.gzip,
      timers: env.timers,
      warn,
      transformEvent: redactEvent,
    });
    state.transport = transport;
    transport.start();

    // No batch is cut until we know no other live tab (a duplicated one) uses this window id.
    transport.hold();
    const mintId = () => newId(env.window && env.window.crypto);
    const guard = guardWindowId({
      BroadcastChannel: env.BroadcastChannel,
      windowId: identity.windowId,
      pageId: mintId(),
      timers: env.timers,
    });
    state.teardowns.push(() => guard.close());
    guard.result.then((conflict) => {
      if (state.transport !== transport || transport.discarded) return;
      if (conflict) {
        const windowId = mintId();
        if (session) session.set(KEYS.windowId, windowId);
        identity.windowId = windowId;
        guard.setWindowId(windowId);
        transport.setWindowId(windowId);
        writeLinkCookies(doc, identity.sessionId, windowId, config.sessionMaxAgeMs);
      }
      transport.release();
    });

    let stopRecord = null;
    const recordOptions = buildRecordOptions(config.recorderOptions);
    try {
      stopRecord = env.record(
        Object.assign({}, recordOptions, {
          emit: (event) => transport.addEvent(event),
        }),
      );
    } catch (err) {
      warn("Sentiero: rrweb failed to start", err);
    }
    if (typeof stopRecord !== "function") {
      transport.stop();
      state.reason = "rrweb-failed";
      return;
    }
    state.stopRecord = stopRecord;
    state.recording = true;

    // Values rrweb still holds back (a focused field's text, a scroll's last position) are
    // emitted before each hide, so the transport's hide handling sends them too.
    let pending = null;
    try {
      pending = trackPending({
        document: doc,
        recordOptions,
        mirror: env.record.mirror,
        emit: (event) => transport.addEvent(event),
        now,
      });
      state.teardowns.push(() => pending.stop());
    } catch (err) {
      warn("Sentiero: page-leave capture unavailable", err);
    }
    const flushPending = () => {
      if (!pending) return;
      try {
        pending.flush();
      } catch (err) {
        warn("Sentiero: page-leave capture failed", err);
      }
    };

    const onVisibility = () => {
      if (doc.visibilityState === "hidden") {
        touchLastSeen(config, local, session, now());
        flushPending();
        transport.onHidden();
      } else {
        transport.onVisible();
      }
    };
    const onPageHide = () => {
      touchLastSeen(config, local, session, now());
      flushPending();
      transport.onPageHide();
      guard.suspend();
    };
    const onPageShow = (event) => {
      if (event && event.persisted) {
        guard.resume(); // back from the back/forward cache
        transport.onPageShow();
      }
    };
    doc.addEventListener("visibilitychange", onVisibility);
    // Started on a page already hidden (the loader waits for idle time): act on it now.
    if (doc.visibilityState === "hidden") onVisibility();
    env.window.addEventListener("pagehide", onPageHide);
    env.window.addEventListener("pageshow", onPageShow);
    state.teardowns.push(() => {
      doc.removeEventListener("visibilitychange", onVisibility);
      env.window.removeEventListener("pagehide", onPageHide);
      env.window.removeEventListener("pageshow", onPageShow);
    });

    const ctx = {
      config,
      window: env.window,
      document: doc,
      identity,
      recordOptions,
      warn,
      addCustomEvent,
      setMetadata,
      flushIfHidden() {
        if (state.transport === transport && doc.visibilityState === "hidden") {
          transport.onHidden();
        }
      },
    };
    for (const feature of env.features || []) {
      if (!config[feature.flag]) continue;
      try {
        const teardown = feature.start(ctx);
        if (typeof teardown === "function") state.teardowns.push(teardown);
      } catch (err) {
        warn("Sentiero: " + feature.flag + " failed to start", err);
      }
    }
  }

  start();
  // addCustomEventAt: the loader's queued calls, each with the time it was made.
  return { api, state, addCustomEventAt: addCustomEvent };
}
