import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { pageServer, zstdDecoder, zstdUrl } from "../src/dashboard/page_worker.js";

// {"chunks":[ + [{"type":4,"timestamp":1}] + ],"next_cursor":null} as three zstd frames, the
// way the server glues stored chunks (written by python-zstandard, content sizes stated)
const FRAMES = Buffer.from("KLUv/SALWQAAeyJjaHVua3MiOlsotS/9IBrRAABbeyJ0eXBlIjo0LCJ0aW1lc3RhbXA" +
  "iOjF9XSi1L/0gFakAAF0sIm5leHRfY3Vyc29yIjpudWxsfQ==", "base64");
const JSON_TEXT = '{"chunks":[[{"type":4,"timestamp":1}]],"next_cursor":null}';

function response(status, type, bytes, length) {
  const headers = new Map([["content-type", type]]);
  if (length != null) headers.set("x-decoded-length", String(length));
  const body = Uint8Array.from(bytes);
  return {
    status,
    headers: { get: (name) => headers.get(name.toLowerCase()) ?? null },
    arrayBuffer: () => Promise.resolve(body.buffer),
  };
}

/** A page server over `answers` (url -> response); returns {ask, posted, urls, run}. */
function harness(answers, getDecoder = zstdDecoder) {
  const posted = [];
  const urls = [];
  const timers = [];
  const fetchFn = (url) => {
    urls.push(url);
    return Promise.resolve(answers[url]);
  };
  const ask = pageServer(fetchFn, (message) => posted.push(message),
    (fn) => timers.push(fn), getDecoder);
  const run = async () => {
    for (let i = 0; i < 20; i++) {
      await new Promise((resolve) => setTimeout(resolve, 5));
      while (timers.length) timers.shift()();
    }
  };
  return { ask, posted, urls, run };
}

const text = (buffer) => new TextDecoder().decode(buffer);

describe("the page worker", () => {
  it("asks for the zstd body, says the page is here, then sends its JSON", async () => {
    const url = "http://h/api/events?cursor=1&chunks=16&layout=chunks";
    const h = harness({ [zstdUrl(url)]: response(200, "application/zstd", FRAMES,
      JSON_TEXT.length) });
    await h.ask({ id: 7, url });
    assert.deepEqual(h.urls, [url + "&wire=zstd"]);
    assert.deepEqual(h.posted, [{ id: 7, status: 200, decoding: true }], "here before decoded");
    await h.run();
    assert.equal(h.posted.length, 2);
    assert.equal(h.posted[1].id, 7);
    assert.equal(text(h.posted[1].body), JSON_TEXT);
  });

  it("passes an error's JSON on as it is", async () => {
    const url = "http://h/api/events?cursor=1";
    const error = new TextEncoder().encode('{"error":"window not found"}');
    const h = harness({ [zstdUrl(url)]: response(404, "application/json", error) });
    await h.ask({ id: 1, url });
    assert.equal(h.posted.length, 1);
    assert.equal(h.posted[0].status, 404);
    assert.equal(text(h.posted[0].body), '{"error":"window not found"}');
  });

  it("a body that does not decode, or no decoder, is an error (the main thread fetches)", async () => {
    const url = "http://h/api/events?cursor=2";
    const cases = [
      [response(200, "application/zstd", FRAMES, JSON_TEXT.length + 5), zstdDecoder],
      [response(200, "application/zstd", FRAMES.subarray(0, 30), JSON_TEXT.length), zstdDecoder],
      [response(200, "application/zstd", FRAMES, null), zstdDecoder],
      [response(200, "application/zstd", FRAMES, JSON_TEXT.length),
        () => Promise.reject(new Error("WebAssembly refused"))],
    ];
    for (const [answer, getDecoder] of cases) {
      const h = harness({ [zstdUrl(url)]: answer }, getDecoder);
      await h.ask({ id: 3, url });
      await h.run();
      assert.equal(h.posted.length, 2);
      assert.equal(h.posted[1].id, 3);
      assert.equal(typeof h.posted[1].error, "string", JSON.stringify(h.posted[1]));
      assert.equal(h.posted[1].body, undefined);
    }
  });
});
