// Delivery of recorded events to the server: batching, sequence numbers, gzip, retries and the
// page-hide beacon.
//
// Pipeline (every stage keeps order):
//
//   addEvent ──> buffer ──cut──> drafts ──seal──> queue ──pump──> fetch (one in flight)
//                                                   └──────────> sendBeacon (page hidden)
//
// * buffer: serialized events not yet in a batch. A cut happens every flushIntervalMs and as
//   soon as the buffer holds flushEventThreshold events.
// * drafts: cut events waiting for compression. One sealing loop compresses them one at a time,
//   halving a draft whose gzip body would not fit one beacon (BEACON_MAX_BYTES), and only then
//   gives it the window's next `seq`. The seq is part of the compressed body, so a sealed batch
//   is immutable: fetch retries and beacons always send the very same bytes, which is what lets
//   the server deduplicate on (session, window, seq).
// * queue: sealed batches in seq order. Only queue[0] is ever sent, one request at a time, so
//   async compression can never reorder batches. A batch leaves the queue only when the server
//   acknowledged it (2xx) or refused it for good (4xx other than 408/429). Any other outcome
//   retries the same batch after min(1000 * 2^(n-1), 30000) ms.
// * The next seq is persisted in sessionStorage per window id, so a reload continues the
//   sequence instead of reusing numbers. Seqs can have gaps (dropped batches); they never repeat.
// * Metadata (setMetadata) rides the next batch cut, once. A failed request is retried with the
//   same bytes, metadata included; a batch or draft dropped unsent by the buffer cap hands its
//   metadata to the next batch.
//
// Page hide (documented semantics):
// * `visibilitychange` -> hidden: the buffer is cut and every queued batch not yet beaconed is
//   sent with navigator.sendBeacon (gzip bytes in a text/plain Blob: a CORS "simple" request,
//   the server sniffs the gzip magic bytes). Drafts still being compressed are beaconed as soon
//   as they are sealed (the page is still alive while merely hidden).
// * `pagehide`: nothing asynchronous can be trusted to run any more, so drafts and buffer are
//   sealed synchronously as plain JSON (no sync gzip in the browser), split in halves until each
//   body is under BEACON_MAX_BYTES, and beaconed together with queued batches not yet beaconed.
// * After `pagehide` the page is "leaving" until it is shown again (`pageshow` or visible).
//   Chromium fires `visibilitychange` -> hidden AFTER `pagehide` when a page is left, and
//   listeners still record then (web-vitals reports its final CLS and INP there): while leaving,
//   every added event and every hide takes the synchronous path above at once, because a draft
//   waiting for gzip would die with the page.
// * A hide while the transport is held (duplicate-tab guard, see window_guard.js) cannot cut a
//   batch yet; release() then cuts and beacons at once instead of waiting for the interval.
// * A beacon is best effort and never acknowledged, so beaconed batches STAY in the queue: if the
//   page lives on (tab shown again, back/forward cache), the fetch pipeline still delivers them
//   and the server drops the duplicate by its seq. Nothing is lost when a beacon is lost, and
//   nothing is stored twice when both arrive.

//
// Members ending in "_" are the transport's own (build.mjs shortens their names in the recorder
// chunk); the others are what recorder.js and the tests use.

import { seqKey } from "./session.js";

export const BEACON_MAX_BYTES = 64000;
/** Uncompressed cap per batch, under the server's 512 KiB decompressed limit with room left. */
export const MAX_BATCH_BYTES = 480000;
export const BUFFER_CAP = 5000;
export const BACKOFF_BASE_MS = 1000;
export const BACKOFF_MAX_MS = 30000;

/** Delay before retry number `failures` (1-based): 1 s, 2 s, 4 s, 8 s, 16 s, 30 s, 30 s... */
export function backoffDelay(failures) {
  const n = Math.max(1, failures);
  return Math.min(BACKOFF_BASE_MS * Math.pow(2, n - 1), BACKOFF_MAX_MS);
}

const NON_ASCII = /[^\x00-\x7f]/;
const ENCODER = new TextEncoder();
const SCRATCH_KEEP_BYTES = 1 << 20;
let scratch = null;

/**
 * UTF-8 byte length of a string. Every event is counted, so this is on the recording hot
 * path: all-ASCII JSON (the common case) is settled by one native regex scan, other text is
 * encoded natively into a scratch buffer (only kept while small), or into a new array where
 * encodeInto is missing (Safari before 14.1).
 */
export function utf8Length(text) {
  if (!NON_ASCII.test(text)) return text.length;
  if (!ENCODER.encodeInto) return ENCODER.encode(text).length;
  const need = text.length * 3;
  const buffer = scratch && scratch.length >= need ? scratch : new Uint8Array(need);
  const written = ENCODER.encodeInto(text, buffer).written;
  scratch = buffer.length <= SCRATCH_KEEP_BYTES ? buffer : null;
  return written;
}

/** Whether an HTTP status means "the server will never accept this batch". */
export function isPermanentRefusal(status) {
  return status >= 400 && status < 500 && status !== 408 && status !== 429;
}

function splitInHalves(entries) {
  const middle = Math.ceil(entries.length / 2);
  return [entries.slice(0, middle), entries.slice(middle)];
}

function mergeMetadata(list) {
  let merged = null;
  for (const metadata of list) {
    if (metadata) merged = Object.assign(merged || {}, metadata);
  }
  return merged;
}

export class Transport {
  constructor(options) {
    this.eventsUrl_ = options.eventsUrl;
    this.sessionId_ = options.sessionId;
    this.windowId_ = options.windowId;
    this.flushIntervalMs_ = options.flushIntervalMs || 10000;
    this.threshold_ = options.flushEventThreshold || 50;
    this.storage_ = options.storage || null;
    this.fetchFn_ = options.fetch || null;
    this.sendBeaconFn_ = options.sendBeacon || null;
    this.makeBlob_ = options.makeBlob || ((parts, opts) => new Blob(parts, opts));
    this.gzip_ = options.gzip || null;
    this.timers_ = options.timers;
    this.warn_ = options.warn || (() => {});
    this.transformEvent_ = options.transformEvent || null;
    this.bufferCap_ = options.bufferCap || BUFFER_CAP;
    this.beaconMaxBytes_ = options.beaconMaxBytes || BEACON_MAX_BYTES;
    this.maxBatchBytes_ = options.maxBatchBytes || MAX_BATCH_BYTES;

    this.buffer_ = []; // {json, bytes}
    this.drafts_ = []; // {entries, metadata, beacon}
    this.queue_ = []; // {seq, count, body, gzip, bytes, beaconed}
    this.queuedEvents_ = 0; // events in drafts + queue
    this.pendingMetadata_ = null;
    this.inFlight_ = null;
    this.failures_ = 0;
    this.retryTimer_ = null;
    this.intervalId_ = null;
    this.generation_ = 0;
    this.sealing_ = null;
    this.discarded = false;
    this.sentAny = false; // a request or beacon with events left this page
    this.held_ = false;
    this.hidden_ = false; // last visibility seen: hidden, not shown again yet
    this.leaving_ = false; // pagehide seen, not shown again yet: only synchronous sends count
    this.nextSeq_ = this.loadSeq_();
  }

  // ---- public API -------------------------------------------------------------------------

  start() {
    if (this.intervalId_ != null || this.discarded) return;
    this.intervalId_ = this.timers_.setInterval(() => this.flush(), this.flushIntervalMs_);
  }

  /** Add one rrweb event. Returns false when it was dropped (transform or serialization). */
  addEvent(event) {
    if (this.discarded) return false;
    let value = event;
    if (this.transformEvent_) {
      try {
        value = this.transformEvent_(value);
      } catch (err) {
        // Fail closed: an event the redaction hook cannot handle is not sent.
        this.warn_("Sentiero: event dropped, transform failed", err);
        return false;
      }
      if (!value) return false;
    }
    let json;
    try {
      json = JSON.stringify(value);
    } catch (err) {
      this.warn_("Sentiero: event dropped, not serializable", err);
      return false;
    }
    if (typeof json !== "string") return false;
    this.buffer_.push({ json, bytes: utf8Length(json) });
    this.enforceCap_();
    if (this.leaving_) this.sealSyncAndBeacon_();
    else if (this.buffer_.length >= this.threshold_) this.flush();
    return true;
  }

  /** Shallow-merge metadata that rides the next batch (then is cleared). */
  setMetadata(metadata) {
    if (!metadata || typeof metadata !== "object" || Array.isArray(metadata)) return;
    this.pendingMetadata_ = Object.assign(this.pendingMetadata_ || {}, metadata);
  }

  /** Keep events in the buffer (no batch is cut) until release(); pagehide still sends. */
  hold() {
    this.held_ = true;
  }

  release() {
    if (!this.held_) return;
    this.held_ = false;
    // Hidden while held: onHidden could not cut then, so beacon now (the page may never be
    // shown again, and a hidden page can be killed without a pagehide).
    if (this.hidden_) this.cut_(true);
    else if (this.buffer_.length >= this.threshold_) this.flush();
  }

  /** Switch to another window id; only meaningful before the first batch is cut. */
  setWindowId(windowId) {
    this.windowId_ = windowId;
    this.nextSeq_ = this.loadSeq_();
  }

  /** Cut the buffer into batches and send. Safe to call at any time. */
  flush() {
    this.cut_(false);
    this.pump_();
  }

  /** Page became hidden: beacon what is queued, cut and beacon the buffer once sealed. */
  onHidden() {
    if (this.discarded) return;
    this.hidden_ = true;
    if (this.leaving_) {
      // visibilitychange after pagehide (Chromium's order when a page is left).
      this.onPageHide();
      return;
    }
    this.beaconQueued_();
    for (const draft of this.drafts_) draft.beacon = true;
    this.cut_(true);
  }

  onVisible() {
    this.hidden_ = false;
    this.leaving_ = false;
    this.pump_();
  }

  /** Page shown again (back/forward cache restore): asynchronous sending works again. */
  onPageShow() {
    this.leaving_ = false;
    this.pump_();
  }

  /** Page is going away: synchronous best-effort delivery of everything unacknowledged. */
  onPageHide() {
    if (this.discarded) return;
    this.leaving_ = true;
    this.beaconQueued_();
    this.sealSyncAndBeacon_();
  }

  /** Stop timers and beacon what is left (used when rrweb fails to start). */
  stop() {
    if (this.discarded) return;
    this.onPageHide();
    this.clearTimers_();
  }

  /** Opt-out: drop everything, send nothing more, ignore the answer of a request in flight. */
  discard() {
    this.discarded = true;
    this.clearTimers_();
    this.buffer_ = [];
    this.drafts_ = [];
    this.queue_ = [];
    this.queuedEvents_ = 0;
    this.pendingMetadata_ = null;
    this.inFlight_ = null;
    this.generation_++;
  }

  /** Resolves when no compression is pending (tests and shutdown). */
  settled() {
    return this.sealing_ || Promise.resolve();
  }

  // ---- batching ---------------------------------------------------------------------------

  loadSeq_() {
    if (!this.storage_) return 0;
    const value = Number(this.storage_.get(seqKey(this.windowId_)));
    return Number.isSafeInteger(value) && value >= 0 ? value : 0;
  }

  /**
   * The next seq, re-read from storage: a page restored from the back/forward cache shares the
   * tab's counter with the pages that ran while it was frozen, and must not reuse their numbers.
   */
  peekSeq_() {
    const stored = this.loadSeq_();
    if (stored > this.nextSeq_) this.nextSeq_ = stored;
    return this.nextSeq_;
  }

  takeSeq_() {
    const seq = this.nextSeq_;
    this.nextSeq_ = seq + 1;
    if (this.storage_) this.storage_.set(seqKey(this.windowId_), this.nextSeq_);
    return seq;
  }

  /**
   * Metadata of a batch or draft dropped without being sent rides the next batch instead
   * (metadata set since then wins key by key). A batch the server refused keeps it dropped:
   * the metadata may be why it was refused.
   */
  requeueMetadata_(metadata) {
    if (!metadata || this.discarded) return;
    this.pendingMetadata_ = Object.assign({}, metadata, this.pendingMetadata_ || {});
  }

  takeMetadata_() {
    const metadata = this.pendingMetadata_;
    this.pendingMetadata_ = null;
    return metadata;
  }

  /** Move the buffer into drafts of at most maxBatchBytes (uncompressed) each. */
  cut_(beacon) {
    if (this.discarded || this.held_ || this.buffer_.length === 0) return;
    const entries = this.buffer_;
    this.buffer_ = [];
    let metadata = this.takeMetadata_();
    let current = [];
    let bytes = 0;
    const pushDraft = () => {
      this.drafts_.push({ entries: current, metadata, beacon });
      this.queuedEvents_ += current.length;
      metadata = null;
      current = [];
      bytes = 0;
    };
    for (const entry of entries) {
      if (current.length > 0 && bytes + entry.bytes > this.maxBatchBytes_) pushDraft();
      current.push(entry);
      bytes += entry.bytes + 1;
    }
    if (current.length) pushDraft();
    this.startSealing_();
  }

  buildPayload_(seq, entries, metadata) {
    let json = '{"sessionId":' + JSON.stringify(this.sessionId_) +
      ',"windowId":' + JSON.stringify(this.windowId_) +
      ',"seq":' + seq +
      ',"events":[';
    for (let i = 0; i < entries.length; i++) {
      if (i) json += ",";
      json += entries[i].json;
    }
    json += "]";
    if (metadata) json += ',"metadata":' + JSON.stringify(metadata);
    return json + "}";
  }

  startSealing_() {
    if (this.sealing_ || this.drafts_.length === 0) return;
    this.sealing_ = this.sealLoop_().then(
      () => {
        this.sealing_ = null;
        // Drafts cut while the loop was finishing.
        if (this.drafts_.length) this.startSealing_();
      },
      (err) => {
        this.sealing_ = null;
        this.warn_("Sentiero: batching failed", err);
      },
    );
  }

  async sealLoop_() {
    while (this.drafts_.length && !this.discarded) {
      const generation = this.generation_;
      const draft = this.drafts_[0];
      const seq = this.peekSeq_();
      const json = this.buildPayload_(seq, draft.entries, draft.metadata);
      let body = json;
      let gzip = false;
      let bytes;
      if (this.gzip_) {
        try {
          const compressed = await this.gzip_(json);
          if (compressed && compressed.byteLength) {
            body = compressed;
            gzip = true;
          }
        } catch (err) {
          this.warn_("Sentiero: gzip failed, sending plain JSON", err);
        }
        // pagehide or discard took the drafts (and maybe seqs) while we were compressing.
        if (generation !== this.generation_ || this.drafts_[0] !== draft ||
            this.nextSeq_ !== seq) continue;
      }
      bytes = gzip ? body.byteLength : utf8Length(json);
      if (bytes > this.beaconMaxBytes_ && draft.entries.length > 1) {
        const [first, second] = splitInHalves(draft.entries);
        this.drafts_.splice(
          0,
          1,
          { entries: first, metadata: draft.metadata, beacon: draft.beacon },
          { entries: second, metadata: null, beacon: draft.beacon },
        );
        continue;
      }
      this.drafts_.shift();
      this.takeSeq_();
      // Counted in queuedEvents since the cut: a draft becoming a batch changes nothing there.
      const batch = { seq, count: draft.entries.length, body, gzip, bytes, beaconed: false,
        metadata: draft.metadata };
      this.queue_.push(batch);
      if (draft.beacon) this.beacon_(batch);
      this.pump_();
    }
  }

  /** pagehide: drafts + buffer become plain-JSON batches right now, each under one beacon. */
  sealSyncAndBeacon_() {
    const drafts = this.drafts_;
    const entries = [];
    for (const draft of drafts) for (const entry of draft.entries) entries.push(entry);
    for (const entry of this.buffer_) entries.push(entry);
    const metadata = mergeMetadata(drafts.map((d) => d.metadata).concat([this.takeMetadata_()]));
    this.generation_++;
    this.drafts_ = [];
    this.buffer_ = [];
    if (entries.length === 0) return;
    // Draft events were counted at their cut; the buffer's join the count now.
    this.queuedEvents_ += entries.length - drafts.reduce((n, d) => n + d.entries.length, 0);

    const sealPiece = (piece, pieceMetadata) => {
      const json = this.buildPayload_(this.peekSeq_(), piece, pieceMetadata);
      const bytes = utf8Length(json);
      if (bytes > this.beaconMaxBytes_ && piece.length > 1) {
        const [first, second] = splitInHalves(piece);
        sealPiece(first, pieceMetadata);
        sealPiece(second, null);
        return;
      }
      const batch = { seq: this.takeSeq_(), count: piece.length, body: json, gzip: false, bytes,
        beaconed: false, metadata: pieceMetadata };
      this.queue_.push(batch);
      this.beacon_(batch);
    };
    sealPiece(entries, metadata);
  }

  // ---- bounded memory ---------------------------------------------------------------------

  /**
   * Keep at most bufferCap events client-side, dropping the oldest first: whole sealed batches
   * that are not in flight (a batch never changes once sealed), then whole drafts, then
   * buffered events.
   */
  enforceCap_() {
    let excess = this.buffer_.length + this.queuedEvents_ - this.bufferCap_;
    if (excess <= 0) return;
    let dropped = 0;
    while (excess > 0) {
      const index = this.queue_.findIndex((batch) => batch !== this.inFlight_);
      if (index !== -1) {
        const [batch] = this.queue_.splice(index, 1);
        this.queuedEvents_ -= batch.count;
        this.requeueMetadata_(batch.metadata);
        excess -= batch.count;
        dropped += batch.count;
        continue;
      }
      if (this.drafts_.length) {
        // A draft being compressed notices its removal after the await (see sealLoop).
        const draft = this.drafts_.shift();
        this.queuedEvents_ -= draft.entries.length;
        this.requeueMetadata_(draft.metadata);
        excess -= draft.entries.length;
        dropped += draft.entries.length;
        continue;
      }
      const n = Math.min(excess, this.buffer_.length);
      if (n === 0) break;
      this.buffer_.splice(0, n);
      excess -= n;
      dropped += n;
    }
    if (dropped) {
      this.warn_("Sentiero: client buffer full (" + this.bufferCap_ +
        " events), dropped the " + dropped + " oldest events");
    }
  }

  // ---- sending ----------------------------------------------------------------------------

  pump_() {
    if (this.discarded || this.inFlight_ || this.retryTimer_ != null) return;
    if (this.queue_.length === 0 || !this.fetchFn_) return;
    const batch = this.queue_[0];
    this.inFlight_ = batch;
    const headers = { "Content-Type": "application/json" };
    if (batch.gzip) headers["Content-Encoding"] = "gzip";
    let request;
    this.sentAny = true;
    try {
      request = this.fetchFn_(this.eventsUrl_, { method: "POST", headers, body: batch.body });
    } catch (err) {
      request = Promise.reject(err);
    }
    Promise.resolve(request).then(
      (response) => this.onResponse_(batch, response ? response.status : 0),
      (err) => this.onFailure_(batch, err),
    );
  }

  removeBatch_(batch) {
    const index = this.queue_.indexOf(batch);
    if (index !== -1) {
      this.queue_.splice(index, 1);
      this.queuedEvents_ -= batch.count;
    }
  }

  onResponse_(batch, status) {
    if (this.inFlight_ !== batch) return; // discarded meanwhile
    if (status >= 200 && status < 300) {
      this.inFlight_ = null;
      this.failures_ = 0;
      this.removeBatch_(batch);
      this.pump_();
    } else if (isPermanentRefusal(status)) {
      this.inFlight_ = null;
      this.failures_ = 0;
      this.removeBatch_(batch);
      this.warn_("Sentiero: server refused batch " + batch.seq + " (HTTP " + status +
        "); dropped");
      this.pump_();
    } else {
      this.onFailure_(batch, new Error("HTTP " + status));
    }
  }

  onFailure_(batch, _err) {
    if (this.inFlight_ !== batch) return;
    this.inFlight_ = null;
    this.failures_++;
    const delay = backoffDelay(this.failures_);
    this.retryTimer_ = this.timers_.setTimeout(() => {
      this.retryTimer_ = null;
      this.pump_();
    }, delay);
  }

  beaconQueued_() {
    for (const batch of this.queue_) if (!batch.beaconed) this.beacon_(batch);
  }

  beacon_(batch) {
    if (!batch || batch.beaconed) return;
    batch.beaconed = true;
    if (!this.sendBeaconFn_) return;
    let accepted = false;
    this.sentAny = true;
    try {
      const blob = this.makeBlob_([batch.body], { type: "text/plain" });
      accepted = this.sendBeaconFn_(this.eventsUrl_, blob);
    } catch (err) {
      accepted = false;
    }
    if (!accepted) {
      this.warn_("Sentiero: sendBeacon refused batch " + batch.seq + " (" + batch.bytes +
        " bytes)");
    }
  }

  clearTimers_() {
    if (this.intervalId_ != null) this.timers_.clearInterval(this.intervalId_);
    if (this.retryTimer_ != null) this.timers_.clearTimeout(this.retryTimer_);
    this.intervalId_ = null;
    this.retryTimer_ = null;
  }
}
