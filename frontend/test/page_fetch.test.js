import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { PageFetcher, fetchJson } from "../src/dashboard/page_fetch.js";

const PAGE = { chunks: [[{ type: 4, timestamp: 1 }], [{ type: 3, timestamp: 2 }]], next_cursor: 9 };
const FLAT = { events: [{ type: 4, timestamp: 1 }, { type: 3, timestamp: 2 }], next_cursor: 9 };

/** Answers by URL: {status, body}. */
function server(routes) {
  const calls = [];
  const answer = (url) => {
    calls.push(String(url));
    const route = routes[String(url)] || { status: 404, body: { error: "window not found" } };
    return route;
  };
  return { calls, answer };
}

function fakeFetch(srv) {
  return (url) => {
    const { status, body } = srv.answer(url);
    return Promise.resolve({ ok: status === 200, status, json: () => Promise.resolve(body) });
  };
}

/** A Worker that answers like page_worker.js from `srv`; `fail` makes it error after posting. */
function fakeWorkerClass(srv, options = {}) {
  const made = [];
  class FakeWorker {
    constructor(url) {
      if (options.refuse) throw new Error("refused by Content-Security-Policy");
      this.url = url;
      this.terminated = false;
      made.push(this);
    }

    postMessage({ id, url }) {
      setTimeout(() => {
        if (this.terminated) return;
        if (options.fail) {
          this.onerror({ message: "worker script failed" });
          return;
        }
        const { status, body } = srv.answer(url);
        const bytes = new TextEncoder().encode(JSON.stringify(body));
        if (options.twoPhase && status === 200) {
          // like page_worker.js with a zstd body: here first, the JSON once decoded
          this.onmessage({ data: { id, status, decoding: true } });
          setTimeout(() => {
            if (this.terminated) return;
            if (options.decodeFails) this.onmessage({ data: { id, error: "cannot decode" } });
            else if (options.crashDecoding) this.onerror({ message: "worker crashed" });
            else this.onmessage({ data: { id, status, body: bytes.buffer } });
          }, 5);
          return;
        }
        this.onmessage({ data: { id, status, body: bytes.buffer } });
      }, 0);
    }

    terminate() {
      this.terminated = true;
    }
  }
  return { FakeWorker, made };
}

const BASE = "http://h.example";
const URL_OK = BASE + "/sentiero/api/sessions/s/windows/w/events?cursor=0&chunks=2&layout=chunks";

function fetcher(srv, workerOptions, extra = {}) {
  const { FakeWorker, made } = fakeWorkerClass(srv, workerOptions);
  const win = { Worker: FakeWorker, TextDecoder, location: { href: BASE + "/sentiero/sessions/s" } };
  const pages = new PageFetcher({ fetch: fakeFetch(srv), win, workerUrl: "/assets/w.js", ...extra });
  return { pages, made };
}

describe("events pages downloaded off the main thread", () => {
  it("the worker downloads a page, held unparsed until asked, then flat in time order", async () => {
    const srv = server({ [URL_OK]: { status: 200, body: PAGE } });
    const { pages, made } = fetcher(srv);
    const held = await pages.hold("/sentiero/api/sessions/s/windows/w/events?cursor=0&chunks=2&layout=chunks");
    assert.equal(made.length, 1, "one worker");
    assert.deepEqual(srv.calls, [URL_OK], "asked once, by the worker, with an absolute URL");
    assert.deepEqual(held.page(), FLAT);
    assert.equal(held.page(), held.page(), "parsed once");
  });

  it("says what the server said when a page is refused", async () => {
    const srv = server({});
    const { pages } = fetcher(srv);
    await assert.rejects(pages.hold(URL_OK), { message: "HTTP 404: window not found" });
    await assert.rejects(fetchJson(fakeFetch(srv), URL_OK), { message: "HTTP 404: window not found" });
  });

  it("falls back to the main thread when the worker cannot start or fails", async () => {
    for (const options of [{ refuse: true }, { fail: true }]) {
      const srv = server({ [URL_OK]: { status: 200, body: PAGE } });
      const { pages } = fetcher(srv, options);
      const held = await Promise.all([pages.hold(URL_OK), pages.hold(URL_OK)]);
      for (const h of held) assert.deepEqual(h.page(), FLAT, JSON.stringify(options));
      // later pages go straight to the main thread
      assert.deepEqual((await pages.hold(URL_OK)).page(), FLAT);
    }
  });

  it("uses the main thread without a worker file (the shareable file, the import page)", async () => {
    const srv = server({ [URL_OK]: { status: 200, body: PAGE } });
    const { pages, made } = fetcher(srv, {}, { workerUrl: null });
    assert.deepEqual((await pages.hold(URL_OK)).page(), FLAT);
    assert.deepEqual(await pages.page(URL_OK), FLAT);
    assert.equal(made.length, 0);
  });

  it("a page the worker is still decoding is here, and ready once its JSON comes", async () => {
    const srv = server({ [URL_OK]: { status: 200, body: PAGE } });
    const { pages } = fetcher(srv, { twoPhase: true });
    const held = await pages.hold(URL_OK);
    assert.equal(held.ready, false, "here, not decoded yet");
    assert.throws(() => held.page(), /not decoded yet/);
    assert.equal(await held.whenReady(), held);
    assert.deepEqual(held.page(), FLAT);
    assert.deepEqual(srv.calls, [URL_OK], "one request");
  });

  it("a page the worker cannot decode, or dies decoding, is fetched again on the main thread",
    async () => {
      for (const options of [{ decodeFails: true }, { crashDecoding: true }]) {
        const srv = server({ [URL_OK]: { status: 200, body: PAGE } });
        const { pages } = fetcher(srv, { twoPhase: true, ...options });
        const held = await pages.hold(URL_OK);
        await held.whenReady();
        assert.deepEqual(held.page(), FLAT, JSON.stringify(options));
        assert.deepEqual(srv.calls, [URL_OK, URL_OK], "the worker's request, then the main thread's");
      }
    });

  it("a closed player's pending pages fail instead of arriving", async () => {
    const srv = server({ [URL_OK]: { status: 200, body: PAGE } });
    const { pages, made } = fetcher(srv);
    const pending = pages.hold(URL_OK);
    pages.close();
    await assert.rejects(pending, { message: "the player was closed" });
    assert.equal(made[0].terminated, true);
  });
});
