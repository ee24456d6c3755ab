// Duplicate-tab guard for the window id.
//
// "Duplicate tab" copies sessionStorage, so the copy starts with the original tab's window id
// and batch counter. Two live pages sending the same (session, window, seq) would make the
// server drop one of them as a retry duplicate. At start a page asks the other live pages of
// this origin over a BroadcastChannel whether one of them already uses its window id; if one
// answers within a short wait, this page takes a new window id before any batch is cut. A page
// in the same tab that came before (reload, navigation) is gone or frozen and never answers.
// The channel is closed while the page sits in the back/forward cache (so it stays eligible)
// and reopened when the page is shown again.

export const CHANNEL_NAME = "sentiero-window";
export const GUARD_WAIT_MS = 150;

/**
 * @param {object} o BroadcastChannel (constructor or null), windowId, pageId, timers, waitMs
 * @returns {{result: Promise<boolean>, setWindowId(id), suspend(), resume(), close()}}
 *   `result` resolves to true when another live page uses the same window id.
 */
export function guardWindowId(o) {
  let windowId = o.windowId;
  let channel = null;
  let conflict = false;
  let settled = false;
  let closed = false;
  let finish;
  const result = new Promise((resolve) => {
    finish = resolve;
  });
  const done = () => {
    if (settled) return;
    settled = true;
    finish(conflict);
  };

  const onMessage = (message) => {
    const data = message && message.data;
    if (!data || data.windowId !== windowId || data.pageId === o.pageId) return;
    if (data.type === "who") {
      channel.postMessage({ type: "mine", windowId, pageId: o.pageId });
    } else if (data.type === "mine" && !settled) {
      conflict = true;
      done();
    }
  };

  const open = () => {
    if (channel || closed || typeof o.BroadcastChannel !== "function") return false;
    try {
      channel = new o.BroadcastChannel(CHANNEL_NAME);
      channel.onmessage = onMessage;
      return true;
    } catch (_err) {
      channel = null;
      return false;
    }
  };

  const shut = () => {
    if (!channel) return;
    try {
      channel.close();
    } catch (_err) {
      // already closed
    }
    channel = null;
  };

  if (open()) {
    try {
      channel.postMessage({ type: "who", windowId, pageId: o.pageId });
      o.timers.setTimeout(done, o.waitMs == null ? GUARD_WAIT_MS : o.waitMs);
    } catch (_err) {
      done();
    }
  } else {
    done();
  }

  return {
    result,
    setWindowId(id) {
      windowId = id;
    },
    suspend: shut,
    resume: open,
    close() {
      closed = true;
      shut();
    },
  };
}
