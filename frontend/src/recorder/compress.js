// gzip with the browser's own CompressionStream (no bundled deflate implementation), off the
// page's main thread when a worker can be started.
//
// Encoding a batch and deflating it is about as much main-thread work as rrweb's own
// serialization on a mutation-heavy page, so it runs in a small worker started from a Blob URL:
// the page only copies the batch string to it. Where no worker can run (a Content-Security-
// Policy without blob: workers, no Worker at all) or one fails, the same code runs on the main
// thread; a batch is never lost to the worker.

/** Longest wait for the worker's answer before a batch is compressed on the main thread. */
export const WORKER_TIMEOUT_MS = 5000;

export function supportsGzip(scope) {
  return !!(scope && typeof scope.CompressionStream === "function" &&
    typeof scope.Response === "function" && typeof scope.TextEncoder === "function");
}

/** gzip `text` to bytes in `scope` (a window or a worker): one implementation for both. */
async function gzipIn(scope, text) {
  const stream = new scope.CompressionStream("gzip");
  const writer = stream.writable.getWriter();
  // The write/close promises settle with the readable side; errors surface there.
  writer.write(new scope.TextEncoder().encode(text)).catch(() => {});
  writer.close().catch(() => {});
  return new scope.Response(stream.readable).arrayBuffer();
}

// The worker runs gzipIn on its own global and hands the buffer back (transferred, not copied).
const WORKER_SOURCE =
  "var gzipIn = " + gzipIn.toString() + ";\n" +
  "onmessage = function (e) { gzipIn(self, e.data.text).then(" +
  "function (b) { postMessage({ id: e.data.id, buffer: b }, [b]); }, " +
  "function (err) { postMessage({ id: e.data.id, error: String(err) }); }); };";

/**
 * A `(text) => Promise<Uint8Array>` that compresses in a worker, or null when none can start.
 * Any worker failure (error event, an error answer, no answer in time) moves that batch and
 * every later one to `fallback`.
 */
export function makeWorkerGzip(scope, fallback, timers) {
  if (typeof scope.Worker !== "function" || typeof scope.Blob !== "function" ||
      !scope.URL || typeof scope.URL.createObjectURL !== "function") return null;
  let worker = null;
  let broken = false;
  let nextId = 0;
  const jobs = new Map(); // id -> {text, resolve, timer}

  const settle = (id, run) => {
    const job = jobs.get(id);
    if (!job) return;
    jobs.delete(id);
    if (job.timer != null) timers.clearTimeout(job.timer);
    run(job);
  };
  const onMain = (job) => job.resolve(fallback(job.text));
  const breakDown = () => {
    broken = true;
    for (const id of Array.from(jobs.keys())) settle(id, onMain);
    if (worker) {
      try {
        worker.terminate();
      } catch (_err) {
        // already gone
      }
    }
    worker = null;
  };
  const start = () => {
    let url = null;
    try {
      url = scope.URL.createObjectURL(new scope.Blob([WORKER_SOURCE], { type: "text/javascript" }));
      worker = new scope.Worker(url);
    } catch (_err) {
      worker = null; // blocked by CSP or unsupported
    }
    if (url && typeof scope.URL.revokeObjectURL === "function") {
      // The worker has fetched its script once it runs; revoking later keeps it valid until then.
      timers.setTimeout(() => scope.URL.revokeObjectURL(url), WORKER_TIMEOUT_MS);
    }
    if (!worker) {
      broken = true;
      return;
    }
    worker.onmessage = (event) => {
      const data = event.data || {};
      if (data.buffer) settle(data.id, (job) => job.resolve(new Uint8Array(data.buffer)));
      else breakDown();
    };
    worker.onerror = breakDown;
  };

  return function gzip(text) {
    if (!broken && !worker) start();
    if (broken) return fallback(text);
    return new Promise((resolve) => {
      const id = nextId++;
      const timer = timers.setTimeout(breakDown, WORKER_TIMEOUT_MS);
      jobs.set(id, { text, resolve, timer });
      try {
        worker.postMessage({ id, text });
      } catch (_err) {
        breakDown();
      }
    });
  };
}

/**
 * Returns an async `(string) => Uint8Array` gzip function, or null when the browser has no
 * CompressionStream (the transport then sends plain JSON). With `timers` it compresses in a
 * worker when one can start (see above).
 */
export function makeGzip(scope, timers) {
  if (!supportsGzip(scope)) return null;
  const onMainThread = async (text) => new Uint8Array(await gzipIn(scope, text));
  return (timers && makeWorkerGzip(scope, onMainThread, timers)) || onMainThread;
}
