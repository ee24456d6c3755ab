// trackCustomEvents: declarative tracking (inventory §2.11).
//
//   <button data-sentiero-track-click="add-to-cart" data-sentiero-data='{"sku": "A1"}'>
//
// Capture-phase listeners on the document for five DOM events; the nearest element carrying
// `data-sentiero-track-<event>` gives the tag (^[a-zA-Z0-9_.-]{1,100}$, anything else is
// ignored) and its optional `data-sentiero-data` a static JSON payload (more than 4096
// characters or invalid JSON: the event is dropped). Payloads are redacted by the transport.

import { attr, closest, listen } from "./dom.js";

export const TRACKED_EVENTS = Object.freeze(["click", "change", "submit", "focus", "blur"]);
export const TAG_PATTERN = /^[a-zA-Z0-9_.-]{1,100}$/;
export const MAX_DATA_CHARS = 4096;
export const TRACK_PREFIX = "data-sentiero-track-";
export const DATA_ATTRIBUTE = "data-sentiero-data";

/** `{ok: true, payload}` ({} when absent) or `{ok: false}` (too long or not JSON). */
export function parseTrackData(raw) {
  if (raw == null) return { ok: true, payload: {} };
  if (typeof raw !== "string" || raw.length > MAX_DATA_CHARS) return { ok: false };
  try {
    return { ok: true, payload: JSON.parse(raw) };
  } catch (_err) {
    return { ok: false };
  }
}

/** `{tag, payload}` for a DOM event of `type` on `target`, or null. */
export function trackedEvent(target, type) {
  if (!TRACKED_EVENTS.includes(type)) return null;
  const name = TRACK_PREFIX + type;
  const el = closest(target, "[" + name + "]");
  if (!el) return null;
  const tag = attr(el, name);
  if (typeof tag !== "string" || !TAG_PATTERN.test(tag)) return null;
  const data = parseTrackData(attr(el, DATA_ATTRIBUTE));
  if (!data.ok) return null;
  return { tag, payload: data.payload };
}

export function trackCustomEvents(ctx) {
  const doc = ctx.document;
  const stops = TRACKED_EVENTS.map((type) =>
    listen(doc, type, (event) => {
      const tracked = trackedEvent(event.target, type);
      if (tracked) ctx.addCustomEvent(tracked.tag, tracked.payload);
    }),
  );
  return () => stops.forEach((stop) => stop());
}
