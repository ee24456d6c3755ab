// The capture features wired through createRecorder: each flag off by default, each event
// reaching a batch redacted, page metadata once per page, the opt-out report.

import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { optOutUrl } from "../src/recorder/opt_out.js";
import { Transport } from "../src/recorder/transport.js";
import { FakeClock, fakeGzip, makeBeacon, makeFetch, settle } from "./support/fakes.js";
import { FakeText, h } from "./support/dom.js";
import { boot } from "./support/recorder.js";

const CONFIG = { eventsUrl: "https://app.example/sentiero/events", flushEventThreshold: 50,
  respectGpc: true };
const ALL_FLAGS = ["captureErrors", "captureMetadata", "trackNavigation", "trackCustomEvents",
  "captureClicks", "trackForms", "captureWebVitals"];

function withFlags(flags, extra = {}) {
  const config = Object.assign({}, CONFIG, extra);
  for (const flag of flags) config[flag] = true;
  return config;
}

/** Flush and return every event and the metadata of every request so far. */
async function sent(t) {
  await settle(); // the window-id guard releases the transport
  t.recorder.state.transport.flush();
  await settle();
  return {
    events: t.requests.flatMap((r) => r.payload.events),
    metadata: t.requests.map((r) => r.payload.metadata),
  };
}

function customs(events, tag) {
  return events.filter((e) => e.type === 5 && (tag === undefined || e.data.tag === tag));
}

describe("capture features are off by default", () => {
  it("adds no listener, no metadata and no custom event without their flags", async () => {
    const t = boot({ config: CONFIG });
    for (const type of ["click", "change", "submit", "focus", "blur"]) {
      assert.equal((t.document.listeners[type] || []).length, 0, type);
    }
    const link = h("a", { href: "/x", "data-sentiero-track-click": "tracked" }, "x");
    t.document.dispatch("click", { target: link });
    t.document.dispatch("submit", { target: h("form", { name: "f" }) });
    t.window.dispatch("error", { message: "boom" });
    t.calls.options.emit({ type: 3, timestamp: 1, data: {} });
    const { events, metadata } = await sent(t);
    assert.deepEqual(customs(events), []);
    assert.deepEqual(metadata, [undefined]);
  });

  it("with every flag on, a teardown (optOut) removes every listener", () => {
    const t = boot({ config: withFlags(ALL_FLAGS) });
    assert.ok(t.document.listeners.click.length >= 3);
    t.recorder.api.optOut();
    for (const type of ["click", "change", "submit", "focus", "blur"]) {
      assert.equal((t.document.listeners[type] || []).length, 0, type);
    }
    assert.equal((t.window.listeners.error || []).length, 0);
  });
});

describe("capture features reach the batch, redacted", () => {
  it("navigation: internal and external links, URLs stripped by the redaction rules", async () => {
    const t = boot({ config: withFlags(["trackNavigation"]) });
    t.window.location.href = "https://shop.example/cart";
    t.document.dispatch("click", { target: new FakeText("Pay") });
    const pay = h("a", { href: "/pay?card=4111111111111111" }, "Pay");
    t.document.dispatch("click", { target: pay.children[0] });
    t.document.dispatch("click", { target: h("a", { href: "https://docs.example/q?token=x" }, "Docs") });
    t.document.dispatch("click", { target: h("a", { href: "javascript:void(0)" }, "nothing") });
    const nav = customs((await sent(t)).events, "navigation").map((e) => e.data.payload);
    assert.deepEqual(nav, [
      { url: "https://shop.example/pay", text: "Pay" },
      { url: "https://docs.example/q", text: "Docs", external: true },
    ]);
  });

  it("clicks: one __click with the selector per click", async () => {
    const t = boot({ config: withFlags(["captureClicks"]) });
    t.document.dispatch("click", { target: h("button", { id: "buy" }) });
    t.document.dispatch("click", { target: new FakeText("hi") }); // detached text: no element
    assert.deepEqual(customs((await sent(t)).events, "__click").map((e) => e.data.payload),
      [{ selector: "button#buy" }]);
  });

  it("forms: __form_submit with name, id and the stripped page URL", async () => {
    const t = boot({ config: withFlags(["trackForms"]) });
    const form = h("form", { name: "signup", id: "s" }, h("input", { name: "email" }));
    t.document.dispatch("submit", { target: form });
    assert.deepEqual(customs((await sent(t)).events, "__form_submit").map((e) => e.data.payload),
      [{ name: "signup", id: "s", url: "https://shop.example/cart" }]);
  });

  it("declarative: five DOM events, payloads redacted, bad tags and data dropped", async () => {
    const t = boot({ config: withFlags(["trackCustomEvents"]) });
    const button = h("button", { "data-sentiero-track-click": "cta",
      "data-sentiero-data": '{"who":"jane@example.com","n":1}' }, "Go");
    t.document.dispatch("click", { target: button.children[0] });
    for (const type of ["change", "submit", "focus", "blur"]) {
      t.document.dispatch(type, { target: h("input", { ["data-sentiero-track-" + type]: "f." + type }) });
    }
    t.document.dispatch("click", { target: h("b", { "data-sentiero-track-click": "no spaces!" }) });
    t.document.dispatch("click", { target: h("b", { "data-sentiero-track-click": "x",
      "data-sentiero-data": "{not json" }) });
    const got = customs((await sent(t)).events).map((e) => [e.data.tag, e.data.payload]);
    assert.deepEqual(got, [
      ["cta", { who: "[redacted]", n: 1 }],
      ["f.change", {}], ["f.submit", {}], ["f.focus", {}], ["f.blur", {}],
    ]);
  });

  it("errors: the §2.10 payload shape, source URL redacted", async () => {
    const t = boot({ config: withFlags(["captureErrors"]) });
    t.window.dispatch("error", { message: "boom", filename: "https://shop.example/app.js?v=1",
      lineno: 1, colno: 2, error: { stack: "Error: boom" } });
    t.window.dispatch("unhandledrejection", { reason: { message: "nope", stack: "s" } });
    assert.deepEqual(customs((await sent(t)).events, "error").map((e) => e.data.payload), [
      { message: "boom", source: "https://shop.example/app.js", lineno: 1, colno: 2, stack: "Error: boom" },
      { message: "nope", type: "unhandledrejection", stack: "s" },
    ]);
  });
});

describe("captureMetadata", () => {
  const windowProps = { innerWidth: 1024, innerHeight: 768, navigator: { userAgent: "UA/2" } };

  it("rides the page's first batch only, redacted, merged with setMetadata", async () => {
    const t = boot({ config: withFlags(["captureMetadata"]), windowProps });
    t.recorder.api.setMetadata({ plan: "pro", viewport: "custom wins" });
    t.calls.options.emit({ type: 3, timestamp: 1, data: {} });
    await sent(t);
    t.calls.options.emit({ type: 3, timestamp: 2, data: {} });
    const { metadata } = await sent(t);
    assert.deepEqual(metadata[0], {
      url: "https://shop.example/cart", referrer: "https://search.example/q",
      userAgent: "UA/2", viewport: "custom wins", entry_url: "https://shop.example/cart",
      entry_referrer: "https://search.example/q", plan: "pro",
    });
    assert.equal(metadata[1], undefined, "once per page");
  });

  it("is re-sent with the retried batch after a failed request", async () => {
    let n = 0;
    const t = boot({ config: withFlags(["captureMetadata"]), windowProps,
      respond: () => (n++ === 0 ? 503 : 200) });
    t.calls.options.emit({ type: 3, timestamp: 1, data: {} });
    await sent(t);
    await t.clock.advance(1000);
    assert.equal(t.requests.length, 2);
    assert.equal(t.requests[1].payload.seq, t.requests[0].payload.seq);
    assert.equal(t.requests[1].payload.metadata.userAgent, "UA/2");
  });

  it("moves to the next batch when its batch is dropped unsent by the buffer cap", async () => {
    const clock = new FakeClock();
    const { fetch, calls } = makeFetch(() => new Error("offline"));
    const { sendBeacon, makeBlob } = makeBeacon();
    const transport = new Transport({ eventsUrl: "/e", sessionId: "s", windowId: "w",
      flushIntervalMs: 1000, flushEventThreshold: 2, bufferCap: 4, fetch, sendBeacon, makeBlob,
      gzip: fakeGzip, timers: clock.timers_ });
    transport.setMetadata({ url: "u" });
    for (let i = 0; i < 4; i++) transport.addEvent({ type: 3, timestamp: i, data: {} });
    await settle();
    // batch 0 (with metadata) is in flight; batch 1 waits. Four more events overflow the cap.
    for (let i = 4; i < 8; i++) transport.addEvent({ type: 3, timestamp: i, data: {} });
    await settle();
    const withMeta = [...transport.queue_, ...transport.drafts_].filter((b) => b.metadata);
    assert.equal(calls[0].payload.metadata.url, "u");
    assert.ok(withMeta.length >= 1, "the metadata still has a batch to ride");
  });
});

describe("addCustomEvent before rrweb's first snapshot", () => {
  it("still records the event, in rrweb's shape", async () => {
    const t = boot({ config: CONFIG, notReady: true });
    t.recorder.api.addCustomEvent("early", { a: 1 });
    const [event] = customs((await sent(t)).events);
    assert.deepEqual(event.data, { tag: "early", payload: { a: 1 } });
    assert.equal(event.timestamp, t.clock.now);
  });
});

describe("optOut report", () => {
  it("sends one beacon {sessionId} to the opt-out sibling of eventsUrl, never again", async () => {
    const t = boot({ config: CONFIG });
    const sid = t.recorder.state.identity.sessionId;
    t.calls.options.emit({ type: 3, timestamp: 1, data: {} });
    await sent(t);
    t.calls.options.emit({ type: 3, timestamp: 2, data: {} });
    t.recorder.api.optOut();
    t.recorder.api.optOut();
    await t.clock.advance(60000);
    t.window.dispatch("pagehide");
    assert.equal(t.requests.length, 1, "the batch sent before the opt-out only");
    assert.deepEqual(t.beacon.beacons.map((b) => [b.url, b.payload]),
      [["https://app.example/sentiero/opt-out", { sessionId: sid }]]);
    assert.equal(optOutUrl("/sentiero/events"), "/sentiero/opt-out");
  });

  it("reports a session an earlier page recorded, even before this page sent anything", () => {
    const first = boot({ config: CONFIG });
    const sid = first.recorder.state.identity.sessionId;
    const t = boot({ config: CONFIG, local: first.window.localStorage,
      session: first.window.sessionStorage });
    assert.equal(t.recorder.state.identity.sessionId, sid);
    t.recorder.api.optOut();
    assert.deepEqual(t.beacon.beacons.map((b) => b.payload), [{ sessionId: sid }]);
  });

  it("sends nothing when nothing of the session can be on the server", () => {
    const fresh = boot({ config: CONFIG });
    fresh.calls.options.emit({ type: 2, timestamp: 1, data: {} }); // buffered, never sent
    fresh.recorder.api.optOut();
    const gpc = boot({ config: CONFIG, gpc: true });
    gpc.recorder.api.optOut();
    assert.equal(fresh.beacon.beacons.length + gpc.beacon.beacons.length, 0);
    assert.equal(fresh.requests.length, 0);
    const noBeacon = boot({ config: CONFIG, sendBeacon: false });
    noBeacon.recorder.api.optOut(); // no sendBeacon: nothing, no throw
    assert.equal(noBeacon.recorder.api.isRecording(), false);
  });
});
