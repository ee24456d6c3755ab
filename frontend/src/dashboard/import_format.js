// Reading a replay file on the import page (pure): rrweb's event array, our events API answer
// ({"events": [...]}), or `sentiero export` JSON lines (header line, then one session per line).
// Returns {windows: [{id, label, events}], format} or throws an Error whose message says what
// is wrong with the file.

export const MAX_IMPORT_BYTES = 25 * 1024 * 1024;

function checkEvents(events, where) {
  if (!Array.isArray(events)) throw new Error(where + "is not an array of events.");
  if (events.length === 0) throw new Error(where + "has no events.");
  events.forEach((event, i) => {
    if (!event || typeof event !== "object" || Array.isArray(event)) {
      throw new Error(where + "event " + i + " is not an object.");
    }
    if (typeof event.type !== "number" || !Number.isFinite(event.type)) {
      throw new Error(where + "event " + i + " has no numeric type.");
    }
    if (typeof event.timestamp !== "number" || !Number.isFinite(event.timestamp)) {
      throw new Error(where + "event " + i + " has no numeric timestamp.");
    }
  });
  if (events.length < 2) throw new Error(where + "has fewer than 2 events: nothing to replay.");
  return events.slice().sort((a, b) => a.timestamp - b.timestamp);
}

function fromExportLines(lines) {
  const windows = [];
  let sessionId = null;
  for (const line of lines.slice(1)) {
    if (!line.trim()) continue;
    let session;
    try {
      session = JSON.parse(line);
    } catch (_err) {
      throw new Error("A session line of the export is not valid JSON.");
    }
    if (!session || !Array.isArray(session.windows)) continue;
    sessionId = sessionId || String(session.session_id || "");
    if (String(session.session_id || "") !== sessionId) continue; // first session only
    for (const w of session.windows) {
      const events = [];
      for (const chunk of Array.isArray(w.chunks) ? w.chunks : []) {
        if (Array.isArray(chunk.events)) events.push(...chunk.events);
      }
      if (events.length < 2) continue;
      windows.push({ id: String(w.window_id || "window-" + windows.length), events });
    }
  }
  if (!windows.length) throw new Error("The export holds no window with events to replay.");
  return {
    format: "sentiero-export",
    sessionId,
    windows: windows.map((w, i) => ({ id: w.id, label: "Tab " + (i + 1),
      events: checkEvents(w.events, "Tab " + (i + 1) + " ") })),
  };
}

export function parseReplayFile(text) {
  const source = String(text == null ? "" : text).trim();
  if (!source) throw new Error("Paste or choose a JSON file first.");
  const firstLine = source.split("\n", 1)[0];
  let header = null;
  try {
    header = JSON.parse(firstLine);
  } catch (_err) {
    header = null;
  }
  if (header && header.format === "sentiero-export") {
    return fromExportLines(source.split("\n"));
  }
  let data;
  try {
    data = JSON.parse(source);
  } catch (_err) {
    throw new Error("That is not valid JSON.");
  }
  if (data && !Array.isArray(data) && typeof data === "object" && Array.isArray(data.events)) {
    data = data.events;
  }
  if (!Array.isArray(data)) {
    throw new Error("Expected an array of rrweb events (or a sentiero export).");
  }
  return { format: "rrweb", sessionId: null,
    windows: [{ id: "imported", label: "Imported", events: checkEvents(data, "The file ") }] };
}
