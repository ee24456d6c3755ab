import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { errorPayload, rejectionPayload } from "../src/recorder/features/errors.js";
import { createRecorder } from "../src/recorder/recorder.js";
import { KEYS } from "../src/recorder/session.js";
import { FakeClock, MemoryStorage, makeBroadcastBus, settle } from "./support/fakes.js";
import { boot } from "./support/recorder.js";

const CONFIG = { eventsUrl: "https://app.example/sentiero/events", flushEventThreshold: 2,
  respectGpc: true, recorderOptions: { maskAllInputs: false } };

describe("recorder boot", () => {
  it("records: rrweb with enforced masking, linkage cookies, batches to eventsUrl", async () => {
    const { recorder, document, calls, requests, window } = boot({ config: CONFIG });
    assert.equal(recorder.api.isRecording(), true);
    assert.equal(calls.options.maskAllInputs, false);
    assert.equal(calls.options.maskInputOptions.password, true);
    assert.equal(typeof calls.options.maskInputFn, "function");
    const sid = window.localStorage.getItem(KEYS.sessionId);
    const wid = window.sessionStorage.getItem(KEYS.windowId);
    assert.equal(document.jar.get("sentiero_sid"), sid);
    assert.equal(document.jar.get("sentiero_wid"), wid);
    assert.ok(document.writes.some((w) => /^sentiero_sid=.*; path=\/; max-age=604800; SameSite=Lax; Secure$/.test(w)));
    calls.options.emit({ type: 4, timestamp: 1, data: { href: "x", width: 800, height: 600 } });
    calls.options.emit({ type: 2, timestamp: 2, data: {} });
    await settle();
    assert.equal(requests.length, 1);
    assert.equal(requests[0].url, CONFIG.eventsUrl);
    assert.equal(requests[0].payload.sessionId, sid);
    assert.equal(requests[0].payload.windowId, wid);
    assert.equal(requests[0].payload.seq, 0);
  });

  it("boots from the script URL when there is no config island", () => {
    const { recorder, calls } = boot({ scriptSrc: "https://app.example/sentiero/recorder.js" });
    assert.equal(recorder.state.config.eventsUrl, "https://app.example/sentiero/events");
    assert.equal(calls.options.maskAllInputs, true);
  });

  it("does nothing without any config", () => {
    const { recorder, warnings } = boot({});
    assert.equal(recorder, null);
    assert.ok(warnings.some((w) => w.includes("no config")));
  });

  for (const [name, opts] of [
    ["GPC", { gpc: true }],
    ["the opt-out cookie", { cookies: { sentiero_optout: "1" } }],
    ["the opt-out localStorage key", { local: { sentiero_optout: "true" } }],
  ]) {
    it("does not start at all under " + name, async () => {
      const { recorder, document, calls, requests, beacon, clock, window } =
        boot(Object.assign({ config: CONFIG }, opts));
      await clock.advance(60000);
      window.dispatch("pagehide");
      assert.equal(recorder.api.isRecording(), false);
      assert.equal(calls.options, null, "rrweb not started");
      assert.equal(requests.length + beacon.beacons.length, 0, "no request");
      assert.deepEqual(document.writes, [], "no cookie");
      assert.equal(window.sessionStorage.getItem(KEYS.windowId), null, "no ids");
      // The API exists so a site can still call optIn().
      assert.equal(typeof recorder.api.optIn, "function");
    });
  }

  it("stops sending and beacons the buffer if rrweb cannot start", () => {
    const { recorder, warnings } = boot({ config: CONFIG, recordFails: true });
    assert.equal(recorder.api.isRecording(), false);
    assert.ok(warnings.some((w) => w.includes("rrweb failed")));
  });
});

describe("window.Sentiero API", () => {
  it("optOut stops rrweb, discards the buffer, clears ids and cookies, persists the choice", async () => {
    const config = Object.assign({}, CONFIG, { optOutCookieName: "no_rec", flushEventThreshold: 50 });
    const { recorder, document, calls, requests, beacon, window, clock } = boot({ config });
    calls.options.emit({ type: 3, timestamp: 1, data: {} });
    recorder.api.optOut();
    assert.equal(calls.stopped, 1);
    assert.equal(recorder.api.isRecording(), false);
    assert.equal(document.jar.get("no_rec"), "1");
    assert.equal(window.localStorage.getItem("no_rec"), "1");
    assert.equal(document.jar.has("sentiero_sid"), false);
    assert.equal(document.jar.has("sentiero_wid"), false);
    for (const key of Object.values(KEYS)) {
      assert.equal(window.localStorage.getItem(key), null, key);
      assert.equal(window.sessionStorage.getItem(key), null, key);
    }
    await clock.advance(60000);
    window.dispatch("pagehide");
    assert.equal(requests.length + beacon.beacons.length, 0, "buffered events never sent");

    recorder.api.optIn();
    assert.equal(document.jar.has("no_rec"), false);
    assert.equal(window.localStorage.getItem("no_rec"), null);
  });

  it("addCustomEvent and setMetadata reach the next batch", async () => {
    const { recorder, calls, requests } = boot({ config: CONFIG });
    recorder.api.setMetadata({ plan: "pro" });
    recorder.api.addCustomEvent("checkout", { step: 2 });
    recorder.api.addCustomEvent("", {});
    calls.options.emit({ type: 3, timestamp: 3, data: {} });
    await settle();
    assert.deepEqual(calls.custom, [{ tag: "checkout", payload: { step: 2 } }]);
    assert.deepEqual(requests[0].payload.metadata, { plan: "pro" });
    assert.equal(requests[0].payload.events[0].data.tag, "checkout");
  });

  it("beacons on pagehide and refreshes last_seen", () => {
    const { calls, beacon, window, clock } = boot({ config: Object.assign({}, CONFIG, { flushEventThreshold: 50 }) });
    calls.options.emit({ type: 3, timestamp: 3, data: {} });
    clock.now += 5000;
    window.dispatch("pagehide");
    assert.equal(beacon.beacons.length, 1);
    assert.equal(window.localStorage.getItem(KEYS.lastSeen), String(clock.now));
  });
});

describe("captureErrors", () => {
  it("records window errors and unhandled rejections as error custom events", () => {
    const { calls, window } = boot({ config: Object.assign({}, CONFIG, { captureErrors: true }) });
    window.dispatch("error", { message: "x is not defined", filename: "https://a/app.js",
      lineno: 3, colno: 7, error: { stack: "ReferenceError: x\n at a" } });
    window.dispatch("unhandledrejection", { reason: new Error("nope") });
    window.dispatch("unhandledrejection", { reason: "plain" });
    assert.deepEqual(calls.custom.map((c) => c.tag), ["error", "error", "error"]);
    assert.deepEqual(calls.custom[0].payload, { message: "x is not defined",
      source: "https://a/app.js", lineno: 3, colno: 7, stack: "ReferenceError: x\n at a" });
    assert.equal(calls.custom[1].payload.type, "unhandledrejection");
    assert.equal(calls.custom[1].payload.message, "nope");
    assert.equal(calls.custom[2].payload.message, "plain");
  });

  it("is off unless configured, and uses the documented defaults", () => {
    const { calls, window } = boot({ config: CONFIG });
    window.dispatch("error", { message: "x" });
    assert.equal(calls.custom.length, 0);
    assert.deepEqual(errorPayload({}), { message: "Unknown error", source: "", lineno: 0,
      colno: 0, stack: "" });
    assert.equal(rejectionPayload({ reason: undefined }).message, "Unhandled Promise rejection");
  });
});

describe("redaction before anything leaves the browser", () => {
  it("redacts custom payloads, Meta hrefs, metadata and page content", async () => {
    const { recorder, calls, requests } = boot({ config: Object.assign({}, CONFIG, { flushEventThreshold: 3 }) });
    recorder.api.setMetadata({ url: "https://shop.example/a?token=abc", note: "mail jane@example.com" });
    calls.options.emit({ type: 4, timestamp: 1, data: { href: "https://shop.example/p?email=x@y.io#h", width: 1, height: 1 } });
    recorder.api.addCustomEvent("signup", { who: "jane@example.com" });
    const link = { type: 2, id: 2, tagName: "a", attributes: { href: "https://shop.example/reset?token=t1" },
      childNodes: [{ type: 3, id: 3, textContent: "Hi jane@example.com" }] };
    const snapshot = { type: 2, timestamp: 3, data: { node: { type: 0, id: 1, childNodes: [link] } } };
    calls.options.emit(snapshot);
    await settle();
    const [meta, custom, full] = requests[0].payload.events;
    assert.equal(meta.data.href, "https://shop.example/p");
    assert.equal(custom.data.payload.who, "[redacted]");
    const sentLink = full.data.node.childNodes[0];
    assert.equal(sentLink.attributes.href, "https://shop.example/reset");
    assert.equal(sentLink.childNodes[0].textContent, "Hi [redacted]");
    assert.equal(link.attributes.href, "https://shop.example/reset?token=t1", "rrweb's own nodes untouched");
    assert.equal(requests[0].payload.metadata.url, "https://shop.example/a");
    assert.equal(requests[0].payload.metadata.note, "mail [redacted]");
  });
});

describe("duplicated tab", () => {
  it("takes a new window id before sending, so seqs never collide", async () => {
    const clock = new FakeClock();
    const Bus = makeBroadcastBus();
    const local = new MemoryStorage();
    const a = boot({ config: CONFIG, local, BroadcastChannel: Bus, clock });
    await clock.advance(200);
    a.calls.options.emit({ type: 3, timestamp: 1, data: {} });
    a.calls.options.emit({ type: 3, timestamp: 2, data: {} });
    await settle();
    const widA = a.requests[0].payload.windowId;

    // "Duplicate tab": sessionStorage copied, including window id and batch counter.
    const copied = new MemoryStorage(Object.fromEntries(a.window.sessionStorage.map));
    const b = boot({ config: CONFIG, local, session: copied, BroadcastChannel: Bus, clock });
    b.calls.options.emit({ type: 3, timestamp: 3, data: {} });
    b.calls.options.emit({ type: 3, timestamp: 4, data: {} });
    await clock.advance(200);
    assert.equal(b.requests.length, 1);
    const sent = b.requests[0].payload;
    assert.notEqual(sent.windowId, widA);
    assert.equal(sent.seq, 0);
    assert.equal(sent.sessionId, a.requests[0].payload.sessionId, "same session across tabs");
    assert.equal(copied.getItem(KEYS.windowId), sent.windowId);
    assert.equal(b.document.jar.get("sentiero_wid"), sent.windowId);

    // A reload of tab A (A's page is gone) keeps A's window id and continues its sequence.
    a.window.dispatch("pagehide");
    const reloaded = boot({ config: CONFIG, local, session: a.window.sessionStorage,
      BroadcastChannel: Bus, clock });
    reloaded.calls.options.emit({ type: 3, timestamp: 5, data: {} });
    reloaded.calls.options.emit({ type: 3, timestamp: 6, data: {} });
    await clock.advance(200);
    assert.equal(reloaded.requests[0].payload.windowId, widA);
    assert.equal(reloaded.requests[0].payload.seq, 1);
  });
});
