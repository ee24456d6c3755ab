import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { FEATURE_FLAGS } from "../src/recorder/config.js";
import { FEATURES } from "../src/recorder/features/index.js";
import { QUEUE_MAX, createLoader } from "../src/recorder/loader.js";
import { createRecorder } from "../src/recorder/recorder.js";
import { KEYS } from "../src/recorder/session.js";
import {
  CookieDocument, FakeClock, FakeWindow, MemoryStorage, fakeGzip, makeBeacon, makeFetch, settle,
} from "./support/fakes.js";
import { fakeRecord } from "./support/recorder.js";

const CONFIG = { eventsUrl: "https://app.example/sentiero/events", flushEventThreshold: 1 };

/**
 * The loader on fakes. Its core chunk is the real recorder (createRecorder) over a fake rrweb;
 * `idle()` runs the pending idle callback, `loads` lists the chunks asked for.
 */
function bootLoader({ config = CONFIG, gpc, cookies, local, failCore = false } = {}) {
  const elements = { "sentiero-config": { textContent: JSON.stringify(config) } };
  const document = new CookieDocument({ cookies, elements });
  const window = new FakeWindow({ local: new MemoryStorage(local) });
  const clock = new FakeClock();
  const { fetch, calls: requests } = makeFetch();
  const beacon = makeBeacon();
  const rrweb = fakeRecord();
  const warnings = [];
  const loads = [];
  const idleCallbacks = [];
  const started = [];
  const core = {
    start: (options) => {
      started.push(options);
      return createRecorder(Object.assign({
        navigator: {}, record: rrweb.record, fetch, sendBeacon: beacon.sendBeacon,
        makeBlob: beacon.makeBlob, gzip: fakeGzip, timers: clock.timers_, now: () => clock.now,
        warn: (...a) => warnings.push(a.join(" ")),
      }, options));
    },
  };
  const loader = createLoader({
    window, document,
    navigator: gpc === undefined ? {} : { globalPrivacyControl: gpc },
    currentScriptSrc: null,
    warn: (...a) => warnings.push(a.join(" ")),
    now: () => clock.now,
    sendBeacon: beacon.sendBeacon,
    whenIdle: (fn) => idleCallbacks.push(fn),
    loadChunk: (name) => {
      loads.push(name);
      if (name === "core") return failCore ? Promise.reject(new Error("offline")) : Promise.resolve(core);
      return Promise.resolve({ FEATURES });
    },
  });
  const idle = async () => {
    for (const fn of idleCallbacks.splice(0)) fn();
    await settle();
  };
  return { loader, window, document, clock, requests, beacon, rrweb, warnings, loads, started,
    idleCallbacks, idle };
}

describe("recorder loader", () => {
  for (const [name, opts] of [
    ["GPC", { gpc: true }],
    ["the opt-out cookie", { cookies: { sentiero_optout: "1" } }],
  ]) {
    it("loads nothing more for a visitor not recorded (" + name + ")", async () => {
      const t = bootLoader(opts);
      await t.idle();
      assert.equal(t.idleCallbacks.length, 0);
      assert.deepEqual(t.loads, [], "no chunk requested");
      assert.equal(t.loader.api.isRecording(), false);
      t.loader.api.addCustomEvent("x", { a: 1 });
      t.loader.api.optOut();
      assert.deepEqual(t.beacon.beacons, [], "nothing recorded: nothing reported");
      assert.equal(t.requests.length, 0);
    });
  }

  it("loads only the recorder chunk when the page is idle, then records", async () => {
    const t = bootLoader();
    assert.deepEqual(t.loads, [], "nothing before idle time");
    assert.equal(t.idleCallbacks.length, 1);
    await t.idle();
    assert.deepEqual(t.loads, ["core"], "no feature is on: no features chunk");
    assert.equal(t.loader.api.isRecording(), true);
    assert.equal(t.window.Sentiero, t.loader.state.recorder.api);
    assert.equal(t.started[0].config.eventsUrl, CONFIG.eventsUrl, "the config read once, passed on");
  });

  it("loads the features chunk beside it when a capture feature is on", async () => {
    const t = bootLoader({ config: Object.assign({ captureErrors: true }, CONFIG) });
    await t.idle();
    assert.deepEqual(t.loads.sort(), ["core", "features"]);
    assert.equal(t.started[0].features, FEATURES);
  });

  it("replays calls made before the recorder ran, custom events at the time they were made", async () => {
    const t = bootLoader();
    const madeAt = t.clock.now;
    t.loader.api.addCustomEvent("early", { step: 1 });
    t.loader.api.setMetadata({ plan: "pro" });
    await t.clock.advance(1500);
    await t.idle();
    t.rrweb.calls.options.emit({ type: 4, timestamp: t.clock.now, data: { href: "https://shop.example/" } });
    await settle();
    const sent = t.requests.flatMap((r) => r.payload.events);
    const early = sent.find((e) => e.type === 5 && e.data.tag === "early");
    assert.deepEqual(early.data.payload, { step: 1 });
    assert.equal(early.timestamp, madeAt);
    assert.ok(t.requests.some((r) => r.payload.metadata && r.payload.metadata.plan === "pro"));
  });

  it("keeps at most QUEUE_MAX early calls", async () => {
    const t = bootLoader();
    for (let i = 0; i < QUEUE_MAX + 20; i++) t.loader.api.addCustomEvent("e", { i });
    assert.equal(t.loader.state.queue.length, QUEUE_MAX);
  });

  it("an opt-out before the recorder ran cancels it; a live earlier page is reported", async () => {
    const now = new FakeClock().now;
    const local = { [KEYS.sessionId]: "00000000-0000-4000-8000-00000000abcd",
      [KEYS.createdAt]: String(now - 1000), [KEYS.lastSeen]: String(now - 1000) };
    const t = bootLoader({ local });
    t.loader.api.addCustomEvent("queued", {});
    t.loader.api.optOut();
    await t.idle();
    assert.deepEqual(t.loads, [], "the recorder never loads");
    assert.equal(t.loader.api.isRecording(), false);
    assert.equal(t.document.jar.get("sentiero_optout"), "1");
    assert.equal(t.window.localStorage.getItem(KEYS.sessionId), null, "ids forgotten");
    assert.deepEqual(t.beacon.beacons.map((b) => [b.url, b.payload]),
      [["https://app.example/sentiero/opt-out", { sessionId: local[KEYS.sessionId] }]]);
  });

  it("an opt-out before anything of the session was sent reports nothing", async () => {
    const t = bootLoader();
    t.loader.api.optOut();
    await t.idle();
    assert.deepEqual(t.beacon.beacons, []);
    assert.deepEqual(t.loads, []);
  });

  it("stays off with a warning when the recorder chunk cannot load", async () => {
    const t = bootLoader({ failCore: true });
    t.loader.api.addCustomEvent("queued", {});
    await t.idle();
    assert.equal(t.loader.state.reason, "load-failed");
    assert.equal(t.loader.api.isRecording(), false);
    assert.ok(t.warnings.some((w) => w.includes("recorder unavailable")));
  });

  it("the features chunk holds exactly the features of FEATURE_FLAGS", () => {
    assert.deepEqual(FEATURES.map((f) => f.flag).sort(), [...FEATURE_FLAGS].sort());
  });
});
