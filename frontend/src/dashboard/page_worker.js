// The replay page's events pages, downloaded off the main thread: this worker fetches a page
// and hands its body back as one transferred ArrayBuffer (no copy). Receiving a response
// body costs the thread that reads it about as much as the network does (Chromium copies
// and decodes it there); here that thread is not the one replaying. The JSON is parsed on
// the main thread by page_fetch.js: a parsed page cloned back from a worker costs the main
// thread several times what parsing it there does (benchmarks/RESULTS.md).
//
// Messages in: {id, url}. Out: {id, status, body} (body transferred) or {id, error}.

self.onmessage = async (message) => {
  const { id, url } = message.data || {};
  try {
    const response = await fetch(url, {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    });
    const body = await response.arrayBuffer();
    self.postMessage({ id, status: response.status, body }, [body]);
  } catch (err) {
    self.postMessage({ id, error: (err && err.message) || "network error" });
  }
};
