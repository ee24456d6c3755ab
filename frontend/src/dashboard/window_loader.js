// Loading a window's events for the player, from the chunked events API (docs/CONTRACTS.md):
// the chunk index and the first chunk on the main thread, later pages downloaded by a worker
// (page_fetch.js) and held unparsed until the player hands them to rrweb (`materialize`). What
// is here, held or coming is tracked by chunk index; which chunks to fetch is chunk_plan.js.

import { byTime, pageIndices, planAhead, runs } from "./chunk_plan.js";
import { EVENTS_LAYOUT } from "./events_page.js";
import { PageFetcher, fetchJson } from "./page_fetch.js";
import { withParams } from "./time.js";

export const CHUNKS_PER_PAGE = 4; // a seek's pages: it walks back from the target 4 chunks a request
const FIRST_PAGE_CHUNKS = 1; // the first frame waits for one chunk only
const READ_PAGE_CHUNKS = 16; // reading ahead: fewer, larger requests (each costs ~20 ms)
const PAGES_IN_FLIGHT = 3; // reading ahead in a long window downloads this many pages at once
// A window up to this long is read whole from the first frame on, so every seek in it is local;
// a longer one keeps AHEAD_MS ahead of the playhead and downloads a seek's chunks on demand.
const WHOLE_WINDOW_MS = 5 * 60 * 1000;
export const AHEAD_MS = 30000; // keep this much recording time ahead of the playhead downloaded

export { fetchJson };

export class WindowLoader {
  /**
   * @param {object} o data (the replay-data island: eventsUrl, chunksUrl), fetch, win,
   *   pageWorkerUrl (page_worker.js as built; none: pages are fetched with `fetch`), and
   *   onEvents(events): called with each page's events as they are parsed for rrweb.
   */
  constructor(o) {
    this.data = o.data || {};
    this.fetchFn = o.fetch;
    this.pages = new PageFetcher({ fetch: o.fetch, win: o.win, workerUrl: o.pageWorkerUrl });
    this.onEvents = o.onEvents || (() => {});
    this.chunks = []; // the chunk index, in time order
    this.index = {}; // the chunk index as the server answered it
    this.loaded = new Set(); // indices of the chunks handed to rrweb
    this.held = new Map(); // chunk index -> its downloaded page, not parsed yet ({members, held})
    this.inflight = new Map(); // chunk index -> the promise of the page bringing it
    this.loadingDone = false;
    this.loadedEvents = 0;
  }

  pageUrl(cursor, chunks) {
    return withParams(this.data.eventsUrl,
      { cursor, chunks: chunks || CHUNKS_PER_PAGE, layout: EVENTS_LAYOUT });
  }

  fetchPage(url) {
    return this.pages.page(url);
  }

  /**
   * The chunk index and the first events (at least two when the window has them), parsed on
   * this thread while the worker boots for the rest. Throws what the server said.
   */
  async first() {
    if (!this.data.eventsUrl || !this.data.chunksUrl) throw new Error("missing replay data");
    const first = Promise.all([
      fetchJson(this.fetchFn, this.data.chunksUrl),
      this.fetchPage(this.pageUrl(0, FIRST_PAGE_CHUNKS)),
    ]);
    this.pages.warm();
    const [chunkIndex, firstPage] = await first;
    this.index = chunkIndex || {};
    this.chunks = byTime(Array.isArray(this.index.chunks) ? this.index.chunks : []);
    const events = Array.isArray(firstPage && firstPage.events) ? firstPage.events.slice() : [];
    let cursor = firstPage ? firstPage.next_cursor : null;
    this.markLoaded(0, FIRST_PAGE_CHUNKS, cursor);
    // rrweb needs two events to start; a first page that small is unusual but possible.
    while (events.length < 2 && cursor != null) {
      const page = await this.fetchPage(this.pageUrl(cursor));
      if (Array.isArray(page.events)) events.push(...page.events);
      this.markLoaded(cursor, CHUNKS_PER_PAGE, page.next_cursor);
      cursor = page.next_cursor;
    }
    if (cursor == null) this.loadingDone = true;
    this.loadedEvents = events.length;
    return events;
  }

  /** Chunks [start, start + count) answered by an events page that said `nextCursor`. */
  markLoaded(start, count, nextCursor) {
    const known = this.chunks.map((c) => c.index);
    for (const index of pageIndices(known, start, count, nextCursor)) this.loaded.add(index);
    this.loadingDone = this.chunks.every((c) => this.loaded.has(c.index));
  }

  /** Pages of at most `perPage` adjacent chunks for those of `indices` not downloaded yet. */
  planPages(indices, perPage) {
    const wanted = indices.filter((i) => !this.loaded.has(i) && !this.held.has(i) &&
      !this.inflight.has(i));
    const known = this.chunks.map((c) => c.index);
    const pages = [];
    for (const [start, count] of runs(wanted, known)) {
      const run = pageIndices(known, start, count, null);
      const members = run.length ? run : [start];
      for (let k = 0; k < members.length; k += perPage) pages.push(members.slice(k, k + perPage));
    }
    return pages;
  }

  /** Download the adjacent chunks `members` in one request and hold them unparsed. */
  download(members) {
    const request = this.pages.hold(this.pageUrl(members[0], members.length)).then((held) => {
      const record = { members, held, done: false };
      for (const i of members) this.held.set(i, record);
      return record;
    }).finally(() => {
      for (const i of members) this.inflight.delete(i);
    });
    for (const i of members) this.inflight.set(i, request);
    return request;
  }

  /** Whether a held page's JSON is here to parse (the worker may still be decoding it). */
  ready(record) {
    return record.held.ready;
  }

  /** Parse a downloaded page whose JSON is here and hand its events on (`onEvents`). */
  materialize(record) {
    if (record.done) return;
    record.done = true;
    for (const i of record.members) this.held.delete(i);
    const page = record.held.page();
    const events = Array.isArray(page.events) ? page.events : [];
    this.loadedEvents += events.length;
    this.markLoaded(record.members[0], record.members.length, page.next_cursor);
    this.onEvents(events);
  }

  /** Every chunk of the window is here, parsed or not (a seek anywhere needs no request). */
  downloaded() {
    return this.chunks.every((c) => this.loaded.has(c.index) || this.held.has(c.index));
  }

  /** Every chunk of the window is here as JSON, parsed or not (decoded by the worker). */
  decoded() {
    return this.chunks.every((c) => this.loaded.has(c.index) ||
      (this.held.has(c.index) && this.held.get(c.index).held.ready));
  }

  /** Indices of the chunks here, parsed or held. */
  here() {
    return new Set([...this.loaded, ...this.held.keys()]);
  }

  /**
   * Bring the given chunks into rrweb: those held are parsed, the others downloaded in pages of
   * at most `perPage` adjacent chunks, the requests in parallel; resolves once every one of
   * them is in (including those already coming).
   */
  async fetchChunks(indices, perPage = CHUNKS_PER_PAGE) {
    const records = new Set();
    const pending = new Set();
    for (const i of indices) {
      if (this.held.has(i)) records.add(this.held.get(i));
      else if (this.inflight.has(i)) pending.add(this.inflight.get(i));
    }
    for (const members of this.planPages(indices, perPage)) pending.add(this.download(members));
    const decoded = (record) => record.held.whenReady().then(() => this.materialize(record));
    const here = [...records].map(decoded);
    await Promise.all([...here, ...[...pending].map((p) => p.then(decoded))]);
    // addEvent is applied by rrweb on a microtask; act after it.
    await Promise.resolve();
  }

  /** How many page requests are downloading now. */
  pagesInFlight() {
    return new Set(this.inflight.values()).size;
  }

  /** Whether the whole window is read from the first frame on (else AHEAD_MS ahead). */
  readsWhole(totalMs) {
    return totalMs <= WHOLE_WINDOW_MS;
  }

  /**
   * Download what comes after `now` (absolute ms): a short window all of it at once (its
   * pages are about as large as stored, the server answers them in a few ms each), a longer
   * one PAGES_IN_FLIGHT pages at a time up to AHEAD_MS (at `speed`) ahead, so that a seek's
   * requests do not queue behind it. `then` runs after each page is in, `failed` on an error.
   */
  readAhead(now, totalMs, speed, then, failed) {
    const whole = this.readsWhole(totalMs);
    const free = whole ? Infinity : PAGES_IN_FLIGHT - this.pagesInFlight();
    if (free <= 0) return;
    const busy = new Set([...this.here(), ...this.inflight.keys()]);
    const ahead = planAhead(this.chunks, busy, now,
      whole ? Infinity : AHEAD_MS * Math.max(1, speed),
      READ_PAGE_CHUNKS * free);
    for (const members of this.planPages(ahead, READ_PAGE_CHUNKS)) {
      this.download(members).then(then, failed);
    }
  }

  /** The held page nearest after the playhead (`now`, absolute ms), or null. */
  nextHeld(now) {
    for (const chunk of this.chunks) {
      if (chunk.last_ms >= now && this.held.has(chunk.index)) return this.held.get(chunk.index);
    }
    return null;
  }

  /** Whether a held page starts within AHEAD_MS (at `speed`) of `now` (absolute ms). */
  soon(record, now, speed) {
    const starts = this.chunks.find((c) => c.index === record.members[0]);
    return !starts || starts.first_ms <= now + AHEAD_MS * Math.max(1, speed);
  }

  close() {
    this.pages.close();
  }
}
