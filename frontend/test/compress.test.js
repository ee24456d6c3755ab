import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { WORKER_TIMEOUT_MS, makeGzip } from "../src/recorder/compress.js";
import { FakeClock, gunzipSync, settle } from "./support/fakes.js";

/**
 * A Worker that runs the real worker source in this process (its `self` is a fake global with
 * node's CompressionStream), or misbehaves as told: "throw" (CSP), "error", "silent".
 */
function scopeWith(mode) {
  const workers = [];
  class FakeWorker {
    constructor(url) {
      if (mode === "throw") throw new Error("Refused to create a worker (CSP)");
      this.url = url;
      this.posted = 0;
      workers.push(this);
      const self = { CompressionStream, Response, TextEncoder,
        postMessage: (data) => this.onmessage && this.onmessage({ data }) };
      // eslint-disable-next-line no-new-func
      new Function("self", "postMessage", "var onmessage;" + blobs.get(url) +
        "; self.onmessage = onmessage;")(self, self.postMessage);
      this.self = self;
    }
    postMessage(data) {
      this.posted++;
      if (mode === "error") setTimeout(() => this.onerror && this.onerror(new Error("boom")), 0);
      else if (mode !== "silent") this.self.onmessage({ data });
    }
    terminate() {
      this.terminated = true;
    }
  }
  const blobs = new Map();
  const scope = {
    CompressionStream, Response, TextEncoder, Worker: FakeWorker,
    Blob: class { constructor(parts) { this.text = parts.join(""); } },
    URL: { createObjectURL: (blob) => { const url = "blob:" + blobs.size; blobs.set(url, blob.text); return url; },
      revokeObjectURL: () => {} },
  };
  return { scope, workers };
}

const TEXT = JSON.stringify({ events: Array.from({ length: 200 }, (_, i) => ({ i, t: "é€" })) });

describe("gzip off the main thread", () => {
  it("compresses in a worker: the page only posts the text", async () => {
    const clock = new FakeClock();
    const { scope, workers } = scopeWith("ok");
    const gzip = makeGzip(scope, clock.timers_);
    const bytes = await gzip(TEXT);
    assert.equal(gunzipSync(Buffer.from(bytes)).toString("utf8"), TEXT);
    await gzip(TEXT);
    assert.equal(workers.length, 1, "one worker for every batch");
    assert.equal(workers[0].posted, 2);
  });

  for (const mode of ["throw", "error", "silent"]) {
    it("falls back to the main thread when the worker " + mode + "s, losing no batch", async () => {
      const clock = new FakeClock();
      const { scope, workers } = scopeWith(mode);
      const gzip = makeGzip(scope, clock.timers_);
      const pending = gzip(TEXT);
      if (mode === "silent") await clock.advance(WORKER_TIMEOUT_MS);
      await new Promise((resolve) => setTimeout(resolve, 5));
      await settle();
      assert.equal(gunzipSync(Buffer.from(await pending)).toString("utf8"), TEXT);
      const later = await gzip(TEXT);
      assert.equal(gunzipSync(Buffer.from(later)).toString("utf8"), TEXT);
      if (mode !== "throw") assert.equal(workers[0].posted, 1, "later batches skip the worker");
    });
  }

  it("without Worker, or without timers, compresses on the main thread", async () => {
    const gzip = makeGzip({ CompressionStream, Response, TextEncoder });
    assert.equal(gunzipSync(Buffer.from(await gzip(TEXT))).toString("utf8"), TEXT);
  });
});
