import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";

import { makeGzip } from "../src/recorder/compress.js";
import { wrapStorage } from "../src/recorder/storage.js";
import {
  BEACON_MAX_BYTES,
  Transport,
  backoffDelay,
  isPermanentRefusal,
  utf8Length,
} from "../src/recorder/transport.js";
import {
  FakeClock,
  MemoryStorage,
  fakeGzip,
  makeBeacon,
  makeFetch,
  settle,
} from "./support/fakes.js";

function setup(options = {}) {
  const clock = new FakeClock();
  const { fetch, calls } = makeFetch(options.respond);
  const beacon = makeBeacon(options.beaconAccepts !== false);
  const storage = options.storage || new MemoryStorage();
  const warnings = [];
  const transport = new Transport({
    eventsUrl: "https://app.example/sentiero/events",
    sessionId: "s1",
    windowId: "w1",
    flushIntervalMs: 10000,
    flushEventThreshold: options.threshold || 50,
    storage: wrapStorage(storage),
    fetch,
    sendBeacon: beacon.sendBeacon,
    makeBlob: beacon.makeBlob,
    gzip: "gzip" in options ? options.gzip : fakeGzip,
    timers: clock.timers_,
    warn: (...args) => warnings.push(args.join(" ")),
    bufferCap: options.bufferCap,
    transformEvent: options.transformEvent,
  });
  transport.start();
  return { clock, calls, beacon, storage, warnings, transport };
}

function event(i, extra = {}) {
  return Object.assign({ type: 3, timestamp: 1000 + i, data: { source: 1, i } }, extra);
}

function addEvents(transport, from, to, extra) {
  for (let i = from; i < to; i++) transport.addEvent(event(i, extra));
}

function ids(payload) {
  return payload.events.map((e) => e.data.i);
}

describe("batching", () => {
  it("sends a batch as soon as the buffer reaches the event threshold", async () => {
    const { calls, transport } = setup({ threshold: 5 });
    addEvents(transport, 0, 4);
    await settle();
    assert.equal(calls.length, 0);
    transport.addEvent(event(4));
    await settle();
    assert.equal(calls.length, 1);
    assert.deepEqual(ids(calls[0].payload), [0, 1, 2, 3, 4]);
    assert.equal(calls[0].payload.sessionId, "s1");
    assert.equal(calls[0].payload.windowId, "w1");
    assert.equal(calls[0].payload.seq, 0);
  });

  it("sends what is buffered every flushIntervalMs", async () => {
    const { clock, calls, transport } = setup();
    addEvents(transport, 0, 3);
    await clock.advance(9999);
    assert.equal(calls.length, 0);
    await clock.advance(1);
    assert.equal(calls.length, 1);
    assert.deepEqual(ids(calls[0].payload), [0, 1, 2]);
    await clock.advance(10000); // nothing buffered: no empty batch
    assert.equal(calls.length, 1);
    addEvents(transport, 3, 4);
    await clock.advance(10000);
    assert.equal(calls.length, 2);
    assert.equal(calls[1].payload.seq, 1);
  });

  it("gzips with Content-Encoding when compression is available", async () => {
    const { calls, transport } = setup({ threshold: 2 });
    addEvents(transport, 0, 2);
    await settle();
    const { init } = calls[0];
    assert.equal(init.method, "POST");
    assert.equal(init.headers["Content-Type"], "application/json");
    assert.equal(init.headers["Content-Encoding"], "gzip");
    assert.equal(init.body[0], 0x1f);
    assert.equal(init.body[1], 0x8b);
  });

  it("sends plain JSON without Content-Encoding when there is no CompressionStream", async () => {
    const { calls, transport } = setup({ threshold: 2, gzip: null });
    addEvents(transport, 0, 2);
    await settle();
    const { init } = calls[0];
    assert.equal(typeof init.body, "string");
    assert.equal(init.headers["Content-Encoding"], undefined);
    assert.deepEqual(JSON.parse(init.body).events.length, 2);
  });

  it("works with the real CompressionStream-based gzip", async () => {
    const { calls, transport } = setup({ threshold: 3, gzip: makeGzip(globalThis) });
    addEvents(transport, 0, 3);
    await transport.settled();
    await settle();
    assert.equal(calls.length, 1);
    assert.deepEqual(ids(calls[0].payload), [0, 1, 2]);
  });

  it("attaches metadata from setMetadata to exactly one batch", async () => {
    const { calls, transport } = setup({ threshold: 1 });
    transport.setMetadata({ plan: "pro" });
    transport.setMetadata({ team: "a" });
    transport.addEvent(event(0));
    transport.addEvent(event(1));
    await settle();
    assert.deepEqual(calls[0].payload.metadata, { plan: "pro", team: "a" });
    assert.equal(calls[1].payload.metadata, undefined);
  });

  it("drops events the transform hook rejects or fails on (fail closed)", async () => {
    const { calls, transport, warnings } = setup({
      threshold: 2,
      transformEvent: (e) => {
        if (e.data.i === 1) return null;
        if (e.data.i === 2) throw new Error("boom");
        return e;
      },
    });
    addEvents(transport, 0, 4);
    await settle();
    assert.deepEqual(ids(calls[0].payload), [0, 3]);
    assert.ok(warnings.some((w) => w.includes("transform failed")));
  });

  it("keeps batches under the server's decompressed size limit", async () => {
    const { calls, transport } = setup({ threshold: 50, gzip: null });
    const big = "x".repeat(200_000);
    for (let i = 0; i < 5; i++) transport.addEvent(event(i, { big }));
    transport.flush();
    await settle();
    for (const call of calls) assert.ok(utf8Length(call.body) < 524288);
  });
});

describe("sequence numbers", () => {
  it("numbers batches 0, 1, 2 per window and persists the next one", async () => {
    const storage = new MemoryStorage();
    const { calls, transport } = setup({ threshold: 1, storage });
    addEvents(transport, 0, 3);
    await settle();
    assert.deepEqual(calls.map((c) => c.payload.seq), [0, 1, 2]);
    assert.equal(storage.getItem("sentiero_seq:w1"), "3");
  });

  it("continues the sequence after a reload", async () => {
    const storage = new MemoryStorage();
    const first = setup({ threshold: 1, storage });
    addEvents(first.transport, 0, 2);
    await settle();
    const second = setup({ threshold: 1, storage });
    addEvents(second.transport, 2, 4);
    await settle();
    assert.deepEqual(second.calls.map((c) => c.payload.seq), [2, 3]);
  });

  it("starts from 0 when the stored value is corrupt", async () => {
    for (const bad of ["abc", "-4", "1.5", ""]) {
      const storage = new MemoryStorage({ "sentiero_seq:w1": bad });
      const { calls, transport } = setup({ threshold: 1, storage });
      transport.addEvent(event(0));
      await settle();
      assert.equal(calls[0].payload.seq, 0, bad);
    }
  });
});

describe("retries", () => {
  it("backs off 1, 2, 4, 8, 16, 30, 30 s", () => {
    assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 12].map(backoffDelay),
      [1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
  });

  it("retries the very same batch on that schedule, keeping later batches in order", async () => {
    let failing = true;
    const times = [];
    let clockRef;
    const { clock, calls, transport } = setup({
      threshold: 2,
      respond: () => {
        times.push(clockRef.now);
        return failing ? (times.length % 2 ? 503 : new Error("network down")) : 200;
      },
    });
    clockRef = clock;
    const start = clock.now;
    addEvents(transport, 0, 2); // batch seq 0, fails
    await settle();
    addEvents(transport, 2, 4); // seq 1 waits behind it
    addEvents(transport, 4, 6); // seq 2
    await settle();
    assert.equal(calls.length, 1, "one request in flight at a time");

    await clock.advance(1000 + 2000 + 4000 + 8000 + 16000 + 30000 + 30000);
    const gaps = times.map((t, i) => (i === 0 ? t - start : t - times[i - 1]));
    assert.deepEqual(gaps, [0, 1000, 2000, 4000, 8000, 16000, 30000, 30000]);
    // Every attempt so far was batch 0 with byte-identical content.
    for (const call of calls) {
      assert.equal(call.payload.seq, 0);
      assert.deepEqual(Buffer.from(call.body), Buffer.from(calls[0].body));
    }

    failing = false;
    await clock.advance(30000);
    const tail = calls.slice(8);
    assert.deepEqual(tail.map((c) => c.payload.seq), [0, 1, 2]);
    assert.deepEqual(tail.map((c) => ids(c.payload)), [[0, 1], [2, 3], [4, 5]]);
    assert.equal(transport.queue_.length, 0);

    // Success resets the schedule: the next failure waits 1 s again.
    failing = true;
    addEvents(transport, 6, 8);
    await settle();
    const before = calls.length;
    await clock.advance(999);
    assert.equal(calls.length, before);
    failing = false;
    await clock.advance(1);
    assert.equal(calls.length, before + 1);
    assert.equal(calls.at(-1).payload.seq, 3);
  });

  it("retries 408 and 429 but drops a batch the server refuses for good", async () => {
    const statuses = { 0: [400], 1: [429, 200], 2: [408, 200], 3: [413], 4: [200] };
    const { clock, calls, transport, warnings } = setup({
      threshold: 1,
      respond: (call) => statuses[call.payload.seq].shift(),
    });
    addEvents(transport, 0, 5);
    await clock.advance(10000);
    assert.deepEqual(calls.map((c) => c.payload.seq), [0, 1, 1, 2, 2, 3, 4]);
    assert.equal(transport.queue_.length, 0);
    assert.equal(warnings.filter((w) => w.includes("refused")).length, 2);
    assert.ok(isPermanentRefusal(400) && isPermanentRefusal(413) && !isPermanentRefusal(429));
  });

  it("keeps only one request in flight", async () => {
    let release;
    const { calls, transport } = setup({
      threshold: 1,
      respond: (call) =>
        call.payload.seq === 0 ? new Promise((resolve) => (release = resolve)) : 200,
    });
    addEvents(transport, 0, 3);
    await settle();
    assert.equal(calls.length, 1);
    release(200);
    await settle();
    assert.deepEqual(calls.map((c) => c.payload.seq), [0, 1, 2]);
  });
});

describe("bounded buffer", () => {
  it("drops the oldest whole batches first, never the one in flight, and warns", async () => {
    let release;
    const { calls, transport, warnings } = setup({
      threshold: 2,
      bufferCap: 6,
      respond: () => new Promise((resolve) => (release = resolve)),
    });
    addEvents(transport, 0, 2); // batch 0, in flight
    await settle();
    for (let i = 2; i < 6; i += 2) {
      addEvents(transport, i, i + 2); // batches 1 and 2 sealed and queued behind it
      await settle();
    }
    assert.equal(transport.queue_.length, 3);
    addEvents(transport, 6, 7); // 7 events > cap 6: queued batch 1 goes, not batch 0
    assert.ok(warnings.some((w) => w.includes("dropped the 2 oldest")));
    addEvents(transport, 7, 8);
    await settle();
    for (let i = 0; i < 3; i++) {
      release(200);
      await settle();
    }
    const sent = calls.map((c) => ids(c.payload));
    assert.deepEqual(sent, [[0, 1], [4, 5], [6, 7]]);
    const seqs = calls.map((c) => c.payload.seq);
    assert.deepEqual([...seqs].sort((a, b) => a - b), seqs, "order kept");
  });

  it("never holds more than the cap", async () => {
    const { transport } = setup({ threshold: 10, bufferCap: 25, respond: () => 503 });
    addEvents(transport, 0, 200);
    await settle();
    const held = transport.buffer_.length + transport.queuedEvents_;
    assert.ok(held <= 25, held + " events held");
  });
});

describe("page hide", () => {
  it("beacons unacknowledged batches and the buffer as gzip text/plain when hidden", async () => {
    const { calls, beacon, transport } = setup({ threshold: 2, respond: () => 503 });
    addEvents(transport, 0, 2); // seq 0, failing
    await settle();
    addEvents(transport, 2, 3); // buffered
    transport.onHidden();
    await transport.settled();
    await settle();
    assert.deepEqual(beacon.beacons.map((b) => b.payload.seq), [0, 1]);
    assert.deepEqual(beacon.beacons.map((b) => ids(b.payload)), [[0, 1], [2]]);
    for (const b of beacon.beacons) {
      assert.equal(b.blob.type, "text/plain");
      assert.equal(b.blob.bytes[0], 0x1f); // gzip magic bytes, no Content-Encoding possible
      assert.ok(b.size < BEACON_MAX_BYTES);
    }
    // Best effort: still queued, so a living page still delivers them (server dedups by seq).
    assert.equal(transport.queue_.length, 2);
    assert.equal(calls[0].payload.seq, 0);
    // Hidden again: nothing beaconed twice.
    transport.onVisible();
    transport.onHidden();
    await settle();
    assert.equal(beacon.beacons.length, 2);
  });

  it("splits into beacons under 64,000 bytes, each with its own new seq", async () => {
    const { beacon, transport } = setup({ threshold: 1000, respond: () => 503 });
    for (let i = 0; i < 40; i++) {
      // ~5 KB of incompressible data per event: ~200 KB gzip in total.
      transport.addEvent(event(i, { blob: randomBytes(3750).toString("base64") }));
    }
    transport.onHidden();
    await transport.settled();
    await settle();
    assert.ok(beacon.beacons.length >= 4);
    for (const b of beacon.beacons) assert.ok(b.size < BEACON_MAX_BYTES, String(b.size));
    const seqs = beacon.beacons.map((b) => b.payload.seq);
    assert.deepEqual(seqs, seqs.map((_, i) => i), "unique, in order");
    assert.deepEqual(beacon.beacons.flatMap((b) => ids(b.payload)), [...Array(40).keys()]);
  });

  it("on pagehide sends everything synchronously as plain JSON pieces under the limit", () => {
    const { beacon, transport } = setup({ threshold: 1000 });
    for (let i = 0; i < 30; i++) {
      transport.addEvent(event(i, { blob: "y".repeat(5000) }));
    }
    transport.onPageHide(); // no await: the page is going away
    assert.ok(beacon.beacons.length >= 3);
    for (const b of beacon.beacons) {
      assert.ok(b.size < BEACON_MAX_BYTES, String(b.size));
      assert.equal(b.blob.type, "text/plain");
    }
    assert.deepEqual(beacon.beacons.map((b) => b.payload.seq), beacon.beacons.map((_, i) => i));
    assert.deepEqual(beacon.beacons.flatMap((b) => ids(b.payload)), [...Array(30).keys()]);
  });

  it("pagehide during compression does not send a batch twice under different seqs", async () => {
    const { calls, beacon, transport } = setup({ threshold: 3 });
    addEvents(transport, 0, 3); // draft being compressed
    transport.onPageHide();
    await transport.settled();
    await settle();
    const all = [...beacon.beacons.map((b) => b.payload), ...calls.map((c) => c.payload)];
    const bySeq = new Map();
    for (const p of all) {
      const key = JSON.stringify(ids(p));
      if (bySeq.has(p.seq)) assert.equal(bySeq.get(p.seq), key, "same seq, same content");
      bySeq.set(p.seq, key);
    }
    assert.deepEqual([...new Set(all.flatMap(ids))].sort(), [0, 1, 2]);
    // The events were sealed once: one seq carries them.
    assert.equal(bySeq.size, 1);
  });

  it("an event recorded after pagehide is beaconed at once, not left to async gzip", () => {
    // Chromium leaves a page with pagehide THEN visibilitychange (hidden); listeners still
    // record in between (web-vitals reports its final CLS/INP on visibilitychange). A draft
    // waiting for gzip then dies with the page: this used to be lost.
    const { beacon, transport } = setup({ threshold: 50 });
    addEvents(transport, 0, 2);
    transport.onPageHide();
    transport.addEvent(event(2)); // no await anywhere: the page is going away
    transport.onHidden();
    transport.addEvent(event(3));
    assert.deepEqual(beacon.beacons.map((b) => ids(b.payload)), [[0, 1], [2], [3]]);
    assert.deepEqual(beacon.beacons.map((b) => b.payload.seq), [0, 1, 2]);
    assert.equal(transport.drafts_.length, 0);
  });

  it("back from the back/forward cache, batching is asynchronous again", async () => {
    const { calls, beacon, transport } = setup({ threshold: 2 });
    transport.addEvent(event(0));
    transport.onPageHide();
    transport.onPageShow();
    await settle();
    assert.deepEqual(calls.map((c) => c.payload.seq), [0], "the beaconed batch, fetched too");
    addEvents(transport, 1, 3);
    await transport.settled();
    await settle();
    assert.equal(beacon.beacons.length, 1);
    assert.deepEqual(calls.map((c) => ids(c.payload)), [[0], [1, 2]]);
  });

  it("hidden while held (duplicate-tab guard): release() beacons at once", async () => {
    const { clock, calls, beacon, transport } = setup({ threshold: 50 });
    transport.hold();
    addEvents(transport, 0, 2);
    transport.onHidden(); // cannot cut yet
    assert.equal(beacon.beacons.length, 0);
    transport.release();
    await transport.settled();
    await settle();
    assert.deepEqual(beacon.beacons.map((b) => ids(b.payload)), [[0, 1]]);
    await clock.advance(10000);
    assert.deepEqual(calls.map((c) => c.payload.seq), [0], "fetched with the same seq");
  });

  it("held, hidden, then shown again before release: no beacon, normal batching", async () => {
    const { beacon, transport } = setup({ threshold: 2 });
    transport.hold();
    transport.addEvent(event(0));
    transport.onHidden();
    transport.onVisible();
    transport.release();
    await transport.settled();
    assert.equal(beacon.beacons.length, 0);
  });

  it("a refused beacon only warns", () => {
    const { transport, warnings } = setup({ beaconAccepts: false, gzip: null });
    transport.addEvent(event(0));
    transport.onPageHide();
    assert.ok(warnings.some((w) => w.includes("sendBeacon refused")));
  });
});

describe("discard (opt-out)", () => {
  it("drops everything, ignores the request in flight and sends nothing more", async () => {
    let release;
    const { clock, calls, beacon, transport } = setup({
      threshold: 1,
      respond: () => new Promise((resolve) => (release = resolve)),
    });
    addEvents(transport, 0, 3);
    await settle();
    transport.discard();
    release(500);
    await clock.advance(120000);
    transport.addEvent(event(9));
    transport.onPageHide();
    await settle();
    assert.equal(calls.length, 1);
    assert.equal(beacon.beacons.length, 0);
  });
});

describe("utf8Length", () => {
  it("counts UTF-8 bytes", () => {
    for (const s of ["abc", "é", "€", "😀", "a😀é€", "\ud800x"]) {
      assert.equal(utf8Length(s), Buffer.byteLength(s, "utf8"), s);
    }
  });
});

describe("bounded buffer while compressing", () => {
  it("drops whole drafts too, so a cut batch is never altered", async () => {
    const { calls, transport, warnings } = setup({ threshold: 2, bufferCap: 4 });
    addEvents(transport, 0, 6); // three drafts cut synchronously, none sealed yet
    await transport.settled();
    await settle();
    assert.ok(warnings.some((w) => w.includes("dropped the 2 oldest")));
    assert.deepEqual(calls.map((c) => ids(c.payload)), [[2, 3], [4, 5]]);
    assert.deepEqual(calls.map((c) => c.payload.seq), [0, 1]);
  });
});

describe("shared counter", () => {
  it("re-reads the persisted seq, so a page restored from bfcache never reuses numbers", async () => {
    const storage = new MemoryStorage();
    const { calls, transport } = setup({ threshold: 1, storage });
    transport.addEvent(event(0));
    await settle();
    storage.setItem("sentiero_seq:w1", "10"); // later pages in this tab used 1..9
    transport.addEvent(event(1));
    await settle();
    assert.deepEqual(calls.map((c) => c.payload.seq), [0, 10]);
  });

  it("hold() keeps events buffered until release()", async () => {
    const { clock, calls, transport } = setup({ threshold: 2 });
    transport.hold();
    addEvents(transport, 0, 3);
    await clock.advance(10000);
    assert.equal(calls.length, 0);
    transport.setWindowId("w2");
    transport.release();
    await settle();
    assert.deepEqual(calls[0].payload.windowId, "w2");
    assert.deepEqual(ids(calls[0].payload), [0, 1, 2]);
  });
});
