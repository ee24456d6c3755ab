// The replay page's events pages, downloaded off the main thread: this worker fetches a page
// as the stored zstd bytes (`wire=zstd`: no Content-Encoding, so the browser's network stack
// hands over the ~15x fewer bytes stored, not the JSON they decode to), says at once that the
// page is here, then decodes it, one page per task in the order they came, and hands the JSON
// back as one transferred ArrayBuffer (no copy). The JSON is parsed on the main thread by
// page_fetch.js: a parsed page cloned back from a worker costs the main thread several times
// what parsing it there does (benchmarks/RESULTS.md).
//
// Messages in: {id, url}. Out: {id, status, decoding: true} when the bytes of a zstd body are
// here, then {id, status, body} (body transferred); a body that is not zstd (an error's JSON)
// comes as {id, status, body} at once. {id, error} for a page it cannot fetch or decode: the
// main thread fetches that one itself.

import { ZSTDDecoder } from "zstddec";

export const WIRE_PARAM = "wire=zstd";

/** `url` asking for the zstd body itself. */
export function zstdUrl(url) {
  return url + (url.includes("?") ? "&" : "?") + WIRE_PARAM;
}

/** A Uint8Array's bytes as an ArrayBuffer of their own (transferable, nothing around them). */
function ownBuffer(bytes) {
  if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength) return bytes.buffer;
  return bytes.slice().buffer;
}

let decoder = null; // zstd's own decoder as WebAssembly, started on first use

/** A promise of the decoder (rejected when WebAssembly is refused: the main thread fetches). */
export function zstdDecoder() {
  if (!decoder) {
    const d = new ZSTDDecoder();
    decoder = d.init().then(() => d);
  }
  return decoder;
}

/**
 * The JSON of a zstd body (any number of concatenated frames) as an ArrayBuffer, `length`
 * bytes long (the server's X-Decoded-Length: the decoder writes into a buffer that size).
 */
export function decodeZstd(d, raw, length) {
  if (!(Number.isSafeInteger(length) && length > 0)) throw new Error("no decoded length");
  const bytes = d.decode(new Uint8Array(raw), length);
  if (bytes.byteLength !== length) throw new Error("decoded " + bytes.byteLength + " of " + length);
  return ownBuffer(bytes);
}

const DECODE_WAIT_MS = 1000; // a page waits at most this long for the downloads to finish

/**
 * Answers page requests through `post(message, transfer)`: fetched with `fetchFn`, and a zstd
 * body decoded with the decoder `getDecoder()` promises, one page per `schedule(fn, ms)` task,
 * in the order they came. Downloads come first: a page is decoded while others are downloading
 * only once it has waited DECODE_WAIT_MS (a decode takes tens of ms, and this thread must take
 * each body as it lands). A decoder that cannot start fails its pages with {error}.
 */
export function pageServer(fetchFn, post, schedule, getDecoder = zstdDecoder,
  now = () => Date.now()) {
  const queue = [];
  let fetching = 0;
  let scheduled = false;
  let dec = null; // the decoder once started; a string once it failed
  let started = false;
  const later = () => {
    if (scheduled || !queue.length || dec === null) return;
    scheduled = true;
    const waited = now() - queue[0].at;
    schedule(drain, fetching && waited < DECODE_WAIT_MS ? DECODE_WAIT_MS - waited : 0);
  };
  const decode = (job) => {
    if (typeof dec === "string") return post({ id: job.id, error: dec });
    let body = null;
    try {
      body = decodeZstd(dec, job.raw, job.length);
    } catch (err) {
      return post({ id: job.id, error: "cannot decode: " + ((err && err.message) || err) });
    }
    return post({ id: job.id, status: job.status, body }, [body]);
  };
  const drain = () => {
    scheduled = false;
    const job = queue[0];
    if (job && (!fetching || typeof dec === "string" || now() - job.at >= DECODE_WAIT_MS)) {
      queue.shift();
      decode(job);
    }
    later();
  };
  const start = () => {
    getDecoder().then((d) => {
      dec = d;
      later();
    }, (err) => {
      dec = "no zstd decoder: " + ((err && err.message) || err);
      later();
    });
  };
  return async ({ id, url }) => {
    if (!started) {
      started = true;
      start(); // boots while the first page downloads
    }
    let response;
    let raw;
    fetching++;
    try {
      response = await fetchFn(zstdUrl(url), {
        credentials: "same-origin",
        headers: { Accept: "application/zstd, application/json" },
      });
      raw = await response.arrayBuffer();
    } catch (err) {
      post({ id, error: (err && err.message) || "network error" });
      return;
    } finally {
      fetching--;
    }
    const type = (response.headers.get("Content-Type") || "").split(";")[0].trim();
    if (type !== "application/zstd") {
      post({ id, status: response.status, body: raw }, [raw]);
    } else {
      post({ id, status: response.status, decoding: true });
      const length = Number(response.headers.get("X-Decoded-Length"));
      queue.push({ id, status: response.status, raw, length, at: now() });
    }
    later();
  };
}

if (typeof self !== "undefined" && typeof self.postMessage === "function" &&
    typeof window === "undefined") {
  const answer = pageServer(self.fetch.bind(self), (message, transfer) =>
    self.postMessage(message, transfer || []), (fn, ms) => setTimeout(fn, ms));
  self.onmessage = (message) => answer(message.data || {});
}
