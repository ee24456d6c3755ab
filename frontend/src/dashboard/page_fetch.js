// How the player downloads JSON: `fetchJson` on the main thread, or `PageFetcher`, which hands
// the download of events pages to page_worker.js and keeps the JSON it transfers back unparsed
// until the player asks for the events (`held.page()`): a downloaded page costs the main thread
// nothing until then. The worker says a page is here as soon as its compressed bytes are, and
// sends the decoded JSON after (`held.whenReady()`). The worker is only a transport: a page it
// cannot fetch or decode, a worker that cannot start (no Worker, a Content-Security-Policy
// refusing it) or that fails later all fall back to the main thread, so the pages the player
// gets are the same either way.

import { asEventsPage } from "./events_page.js";

function httpError(status, body) {
  const detail = body && typeof body.error === "string" ? ": " + body.error : "";
  return new Error("HTTP " + status + detail);
}

/** fetch + JSON with a readable error (`HTTP 404: window not found`). */
export async function fetchJson(fetchFn, url) {
  let response;
  try {
    response = await fetchFn(url, {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    });
  } catch (err) {
    throw new Error((err && err.message) || "network error");
  }
  if (!response.ok) {
    let body = null;
    try {
      body = await response.json();
    } catch (_err) {
      // not JSON
    }
    throw httpError(response.status, body);
  }
  return response.json();
}

const okStatus = (status) => status >= 200 && status <= 299;

/** The JSON value of a worker's answer ({status, body: ArrayBuffer}); throws like fetchJson. */
export function decodeAnswer(answer, TextDecoderCtor) {
  const text = new TextDecoderCtor().decode(answer.body);
  if (!okStatus(answer.status)) {
    let body = null;
    try {
      body = JSON.parse(text);
    } catch (_err) {
      // not JSON
    }
    throw httpError(answer.status, body);
  }
  return JSON.parse(text);
}

/**
 * A downloaded page. `ready` once its JSON is here (`whenReady()` resolves then; a page the
 * worker holds still compressed is not ready until it has decoded it); `page()` then parses it
 * (once) into {events, next_cursor}.
 */
export class HeldPage {
  constructor(parse) {
    this.parse = parse;
    this.value = undefined;
    this.ready = !!parse;
    this.waiters = [];
    this.readyPromise = null;
  }

  /** The JSON came (`parse` reads it) or could not (`parse` throws): `page()` may run. */
  settle(parse) {
    if (this.ready) return;
    this.parse = parse;
    this.ready = true;
    for (const resolve of this.waiters) resolve(this);
    this.waiters = [];
  }

  whenReady() {
    if (this.ready) return Promise.resolve(this);
    if (!this.readyPromise) this.readyPromise = new Promise((r) => this.waiters.push(r));
    return this.readyPromise;
  }

  page() {
    if (!this.ready) throw new Error("page not decoded yet");
    if (this.value === undefined) {
      this.value = asEventsPage(this.parse());
      this.parse = null;
    }
    return this.value;
  }
}

export class PageFetcher {
  /**
   * @param {object} o fetch (for the main-thread path), win (Worker, TextDecoder), workerUrl
   *   (page_worker.js as built; none: the main thread only).
   */
  constructor(o) {
    this.fetchFn = o.fetch;
    this.win = o.win || {};
    this.workerUrl = o.workerUrl || null;
    this.worker = undefined; // started on first use; null once it failed
    this.waiting = new Map(); // message id -> {resolve, url}
    this.nextId = 0;
  }

  /** The events page at `url` as {events, next_cursor}, fetched and parsed on this thread. */
  page(url) {
    return fetchJson(this.fetchFn, url).then(asEventsPage);
  }

  /**
   * The events page at `url`, downloaded (by the worker when it runs) and held unparsed: a
   * promise of a HeldPage, resolved once the bytes are here (the worker may still be decoding
   * them: `whenReady()`). An HTTP error rejects here, like `page`.
   */
  hold(url) {
    const worker = this.startWorker();
    const mainFetch = () => fetchJson(this.fetchFn, url);
    const onMain = () => mainFetch().then((value) => new HeldPage(() => value));
    if (!worker) return onMain();
    return new Promise((resolve) => {
      const id = this.nextId++;
      this.waiting.set(id, { resolve, url, held: null, fallback: mainFetch });
      worker.postMessage({ id, url: this.absolute(url) });
    }).then((answer) => {
      if (this.closed) throw new Error("the player was closed");
      if (answer.error != null) return onMain(); // the main thread's turn
      if (answer.held) return answer.held; // here, decoding in the worker
      if (!okStatus(answer.status)) decodeAnswer(answer, this.win.TextDecoder); // throws
      return new HeldPage(() => decodeAnswer(answer, this.win.TextDecoder));
    });
  }

  /** Start the worker now (it boots while the first page downloads on this thread). */
  warm() {
    this.startWorker();
  }

  absolute(url) {
    try {
      return new URL(url, this.win.location && this.win.location.href).href;
    } catch (_err) {
      return url;
    }
  }

  startWorker() {
    if (this.worker !== undefined) return this.worker;
    this.worker = null;
    const { Worker, TextDecoder } = this.win;
    if (!this.workerUrl || typeof Worker !== "function" || typeof TextDecoder !== "function") {
      return null;
    }
    try {
      this.worker = new Worker(this.workerUrl);
    } catch (_err) {
      return null; // refused (CSP, a file URL): the main thread fetches
    }
    this.worker.onmessage = (message) => this.onAnswer(message.data || {});
    this.worker.onerror = () => this.abandonWorker();
    return this.worker;
  }

  /**
   * A worker's message: {id, status, body} (the JSON), {id, error}, or first {id, status,
   * decoding: true} (the bytes are here, the JSON comes next) for a page it decodes.
   */
  onAnswer(answer) {
    const entry = this.waiting.get(answer.id);
    if (!entry) return;
    if (answer.decoding && okStatus(answer.status) && !entry.held) {
      entry.held = new HeldPage(null);
      entry.resolve({ held: entry.held });
      return;
    }
    this.waiting.delete(answer.id);
    if (!entry.held) {
      entry.resolve(answer);
      return;
    }
    if (answer.error == null) {
      entry.held.settle(() => decodeAnswer(answer, this.win.TextDecoder));
    } else {
      this.decodeOnMain(entry);
    }
  }

  /** A held page the worker could not decode: fetched again and parsed on this thread. */
  decodeOnMain(entry) {
    if (this.closed) {
      entry.held.settle(() => {
        throw new Error("the player was closed");
      });
      return;
    }
    entry.fallback().then((value) => entry.held.settle(() => value),
      (err) => entry.held.settle(() => {
        throw err;
      }));
  }

  /** The worker failed to load or crashed: what it had not answered goes to the main thread. */
  abandonWorker() {
    const worker = this.worker;
    this.worker = null;
    if (worker) {
      try {
        worker.terminate();
      } catch (_err) {
        // gone already
      }
    }
    const pending = Array.from(this.waiting.values());
    this.waiting.clear();
    for (const entry of pending) {
      if (entry.held) this.decodeOnMain(entry);
      else entry.resolve({ error: "worker failed" });
    }
  }

  close() {
    this.closed = true;
    this.abandonWorker();
  }
}
