// Replays without a server (the shareable HTML file, the import page): a fetch that answers the
// player's chunk index, events and activity URLs from events held in memory. Nothing here makes
// a network request.

const SCHEME = "sentiero-embedded:";

/** The replay-data a ReplayView needs for window `id` served by `embeddedFetch`. */
export function embeddedData(id, startAt) {
  const base = SCHEME + "/" + encodeURIComponent(id) + "/";
  return {
    windowId: id,
    chunksUrl: base + "chunks",
    eventsUrl: base + "events",
    activityUrl: base + "activity",
    startAt: startAt == null ? null : startAt,
  };
}

function answer(body, status) {
  return Promise.resolve({
    ok: status === 200,
    status,
    json: () => Promise.resolve(body),
  });
}

/**
 * `windows`: Map id -> {events: [...] sorted by timestamp, items: [...] activity items}.
 * The whole window is one chunk.
 */
export function embeddedFetch(windows) {
  return (url) => {
    const text = String(url);
    if (!text.startsWith(SCHEME)) return Promise.reject(new Error("offline replay: no network"));
    const parsed = new URL(text);
    const [, rawId, what] = parsed.pathname.split("/");
    const win = windows.get(decodeURIComponent(rawId || ""));
    if (!win) return answer({ error: "window not found" }, 404);
    const events = win.events;
    const first = events.length ? events[0].timestamp : null;
    const last = events.length ? events[events.length - 1].timestamp : null;
    if (what === "chunks") {
      return answer({ first_ms: first, last_ms: last, event_count: events.length,
        chunks: events.length ? [{ index: 0, first_ms: first, last_ms: last,
          event_count: events.length }] : [] }, 200);
    }
    if (what === "events") {
      const cursor = Number(parsed.searchParams.get("cursor") || 0);
      return answer({ events: cursor === 0 ? events : [], next_cursor: null }, 200);
    }
    if (what === "activity") {
      return answer({ items: win.items || [], first_ms: first, last_ms: last }, 200);
    }
    return answer({ error: "not found" }, 404);
  };
}
