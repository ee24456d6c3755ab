// Small pure helpers of the replay player (formatting, deep-link offsets, speeds, scaling).

export const SPEEDS = [1, 2, 4, 8, 16];

/** `m:ss`, or `h:mm:ss` from one hour on. Negative and non-finite values show as 0:00. */
export function formatTime(ms) {
  const total = Number.isFinite(ms) && ms > 0 ? Math.floor(ms / 1000) : 0;
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = String(total % 60).padStart(2, "0");
  if (hours > 0) return hours + ":" + String(minutes).padStart(2, "0") + ":" + seconds;
  return minutes + ":" + seconds;
}

function clamp(value, low, high) {
  return Math.min(Math.max(value, low), high);
}

/**
 * The replay offset a `?t=` deep link points at. A number >= the window's first event timestamp
 * is an absolute epoch-ms time (problem occurrences link that way); anything smaller is an offset
 * from the start (Copy link and analytics links). Null when there is no usable value.
 */
export function resolveStartOffset(startAt, firstMs, totalMs) {
  const value = typeof startAt === "string" && startAt.trim() !== "" ? Number(startAt) : startAt;
  if (typeof value !== "number" || !Number.isFinite(value)) return null;
  const offset = value >= firstMs ? value - firstMs : value;
  return clamp(offset, 0, Math.max(0, totalMs));
}

/** Next speed up (direction 1) or down (-1), clamped at the ends of SPEEDS. */
export function stepSpeed(current, direction) {
  let index = SPEEDS.indexOf(current);
  if (index === -1) index = 0;
  return SPEEDS[clamp(index + (direction > 0 ? 1 : -1), 0, SPEEDS.length - 1)];
}

/** Fit a recorded viewport into the available box; never scale up. */
export function computeScale(availableWidth, availableHeight, width, height) {
  if (!(width > 0) || !(height > 0) || !(availableWidth > 0)) return 1;
  let scale = Math.min(1, availableWidth / width);
  if (availableHeight > 0) scale = Math.min(scale, availableHeight / height);
  return scale > 0 ? scale : 1;
}

/** `url` with the given query parameters set (relative URLs stay relative). */
export function withParams(url, params) {
  const base = "http://sentiero.invalid";
  const absolute = /^[a-z][a-z0-9+.-]*:/i.test(url);
  const parsed = new URL(url, base);
  for (const [key, value] of Object.entries(params)) parsed.searchParams.set(key, String(value));
  if (absolute) return parsed.toString();
  return parsed.pathname + parsed.search + parsed.hash;
}

/**
 * Keyboard shortcuts stay out of the way of form controls: typing in a field, and also arrows
 * on a focused slider or Space on a focused checkbox, which the browser already handles.
 */
export function isTypingTarget(el) {
  if (!el) return false;
  const tag = String(el.tagName || "").toUpperCase();
  if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT") return true;
  return !!el.isContentEditable;
}

/** The first Meta event's recorded viewport, if any. */
export function firstViewport(events) {
  for (const event of events) {
    if (event && event.type === 4 && event.data && event.data.width > 0 && event.data.height > 0) {
      return { width: event.data.width, height: event.data.height };
    }
  }
  return null;
}
