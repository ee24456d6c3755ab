// createRecorder booted on fakes: a fake rrweb `record`, document, window, clock, fetch and
// sendBeacon. Shared by the recorder tests.

import { FEATURES } from "../../src/recorder/features/index.js";
import { createRecorder } from "../../src/recorder/recorder.js";
import {
  CookieDocument,
  FakeClock,
  FakeWindow,
  MemoryStorage,
  fakeGzip,
  makeBeacon,
  makeFetch,
} from "./fakes.js";

/** `notReady`: addCustomEvent throws like rrweb before its first full snapshot. */
export function fakeRecord({ notReady = false } = {}) {
  const calls = { options: null, stopped: 0, custom: [] };
  const record = (options) => {
    calls.options = options;
    return () => {
      calls.stopped++;
    };
  };
  // rrweb's node mirror: tests register the nodes the fake "recorded" with calls.mirror.ids.
  const ids = new Map();
  calls.mirror = { ids };
  record.mirror = { getId: (node) => (ids.has(node) ? ids.get(node) : -1) };
  record.addCustomEvent = (tag, payload) => {
    if (notReady) throw new Error("please add custom event after start recording");
    calls.custom.push({ tag, payload });
    calls.options.emit({ type: 5, timestamp: Date.now(), data: { tag, payload } });
  };
  return { record, calls };
}

export function boot({ config, gpc, cookies, local, session, scriptSrc, recordFails, BroadcastChannel,
  clock: sharedClock, respond, windowProps, notReady, sendBeacon: useBeacon = true } = {}) {
  const elements = {};
  if (config !== undefined) elements["sentiero-config"] = { textContent: JSON.stringify(config) };
  const document = new CookieDocument({ cookies, elements });
  const window = new FakeWindow({
    local: local instanceof MemoryStorage ? local : new MemoryStorage(local),
    session: session instanceof MemoryStorage ? session : new MemoryStorage(session),
  });
  Object.assign(window, windowProps || {});
  const clock = sharedClock || new FakeClock();
  const { fetch, calls: requests } = makeFetch(respond);
  const beacon = makeBeacon();
  const { record, calls } = fakeRecord({ notReady });
  const warnings = [];
  const recorder = createRecorder({
    window,
    document,
    navigator: gpc === undefined ? {} : { globalPrivacyControl: gpc },
    record: recordFails ? () => { throw new Error("no DOM"); } : record,
    fetch,
    sendBeacon: useBeacon ? beacon.sendBeacon : null,
    makeBlob: beacon.makeBlob,
    gzip: fakeGzip,
    timers: clock.timers_,
    now: () => clock.now,
    warn: (...a) => warnings.push(a.join(" ")),
    currentScriptSrc: scriptSrc,
    BroadcastChannel,
    features: FEATURES,
  });
  return { recorder, document, window, clock, requests, beacon, calls, warnings };
}
