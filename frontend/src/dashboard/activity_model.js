// Pure logic of the replay page's timeline, sidebar and badges: categories and colours, the
// compressed time axis, marker grouping, what a loaded stretch of events adds to the activity
// (inputs, page changes, scroll depth, viewport, vitals) and summaries (active time, form
// interaction). No DOM here; every value that came from a recording stays a plain string.

export const IDLE_GAP_MS = 5000;
const GAP_WIDTH = 0.03; // each idle gap gets 3 % of the bar ...
const GAPS_MAX_WIDTH = 0.4; // ... and all of them together at most 40 %
export const GROUP_WIDTH = 0.015; // markers closer than 1.5 % of the bar form a group
export const MAX_MARKERS = 500; // beyond this, input markers are left off the bar

/** Legend categories, in legend order. `kinds` are the activity item kinds they cover. */
export const CATEGORIES = [
  { id: "page", label: "Pages", color: "#198754", kinds: ["page_view", "navigation"] },
  { id: "click", label: "Clicks", color: "#dc3545", kinds: ["click"] },
  { id: "input", label: "Inputs", color: "#0d6efd", kinds: ["form_field", "form_submit"] },
  { id: "error", label: "Errors", color: "#e00000", kinds: ["error"] },
  { id: "frustration", label: "Rage / dead clicks", color: "#f76707",
    kinds: ["rage_click", "dead_click"] },
  { id: "custom", label: "Custom events", color: "#6f42c1", kinds: ["custom"] },
  { id: "vital", label: "Web Vitals", color: "#0aa2c0", kinds: ["vital"] },
  { id: "scroll", label: "Scrolls", color: "#8a94a3", kinds: ["scroll"] },
  { id: "server", label: "Server errors", color: "#8b1a1a", kinds: ["server_error"] },
];

const CATEGORY_OF = {};
for (const category of CATEGORIES) {
  for (const kind of category.kinds) CATEGORY_OF[kind] = category;
}
const OTHER = { id: "other", label: "Other", color: "#5f6b7a", kinds: [] };

export function categoryOf(kind) {
  return CATEGORY_OF[kind] || OTHER;
}

export const KIND_LABELS = {
  page_view: "Page",
  navigation: "Link",
  click: "Click",
  form_field: "Input",
  form_submit: "Submit",
  error: "Error",
  rage_click: "Rage click",
  dead_click: "Dead click",
  custom: "Custom",
  vital: "Vital",
  scroll: "Scroll",
  server_error: "Server error",
};

export function kindLabel(kind) {
  return KIND_LABELS[kind] || String(kind);
}

// ---- time ----------------------------------------------------------------------------------

/** `1m 05s`-style durations: `850 ms`, `12.3 s`, `4m 05s`, `1h 02m`. */
export function formatDuration(ms) {
  if (!Number.isFinite(ms) || ms < 0) return "N/A";
  if (ms < 1000) return Math.round(ms / 100) * 100 + " ms";
  if (ms < 60000) return (Math.round(ms / 100) / 10).toFixed(1).replace(/\.0$/, "") + " s";
  const seconds = Math.floor(ms / 1000);
  if (seconds < 3600) {
    return Math.floor(seconds / 60) + "m " + String(seconds % 60).padStart(2, "0") + "s";
  }
  return Math.floor(seconds / 3600) + "h " + String(Math.floor((seconds % 3600) / 60))
    .padStart(2, "0") + "m";
}

/**
 * Idle gaps (> IDLE_GAP_MS) of a window from what is known to be active: `intervals` are
 * [start, end] offsets (a single event is [t, t]; a chunk not downloaded yet counts as active
 * over its whole range). Returns sorted [{start, end}] strictly inside [0, totalMs].
 */
export function findGaps(intervals, totalMs, threshold = IDLE_GAP_MS) {
  const sorted = intervals
    .filter((iv) => Array.isArray(iv) && Number.isFinite(iv[0]) && Number.isFinite(iv[1]))
    .map((iv) => [Math.max(0, Math.min(iv[0], iv[1])), Math.min(totalMs, Math.max(iv[0], iv[1]))])
    .sort((a, b) => a[0] - b[0]);
  const gaps = [];
  let covered = 0;
  for (const [start, end] of sorted) {
    if (start - covered > threshold) gaps.push({ start: covered, end: start });
    if (end > covered) covered = end;
  }
  if (totalMs - covered > threshold) gaps.push({ start: covered, end: totalMs });
  return gaps;
}

/** Active time = the window minus its idle gaps. */
export function activeTime(totalMs, gaps) {
  const idle = gaps.reduce((sum, g) => sum + (g.end - g.start), 0);
  return Math.max(0, totalMs - idle);
}

/**
 * The bar's non-linear axis: every idle gap is drawn at a fixed small width, active stretches
 * share the rest in proportion to their length. `toFraction(offset)` -> 0..1 and back.
 */
export function buildAxis(totalMs, gaps) {
  const total = Math.max(0, totalMs);
  const idle = gaps.reduce((sum, g) => sum + (g.end - g.start), 0);
  const active = total - idle;
  const gapWidth = gaps.length ? Math.min(GAP_WIDTH, GAPS_MAX_WIDTH / gaps.length) : 0;
  const gapsWidth = active > 0 ? gapWidth * gaps.length : 1;
  const perGap = gaps.length ? gapsWidth / gaps.length : 0;
  const activeWidth = 1 - gapsWidth;
  const segments = [];
  let time = 0;
  let x = 0;
  const pushActive = (until) => {
    if (until <= time) return;
    const width = active > 0 ? (activeWidth * (until - time)) / active : 0;
    segments.push({ gap: false, from: time, to: until, x0: x, x1: x + width });
    x += width;
    time = until;
  };
  for (const gap of gaps) {
    pushActive(gap.start);
    segments.push({ gap: true, from: gap.start, to: gap.end, x0: x, x1: x + perGap });
    x += perGap;
    time = gap.end;
  }
  pushActive(total);
  const toFraction = (offset) => {
    if (!(total > 0)) return 0;
    const t = Math.max(0, Math.min(offset, total));
    for (const s of segments) {
      if (t <= s.to) {
        const span = s.to - s.from;
        return span > 0 ? s.x0 + ((t - s.from) / span) * (s.x1 - s.x0) : s.x0;
      }
    }
    return 1;
  };
  const fromFraction = (fraction) => {
    const f = Math.max(0, Math.min(fraction, 1));
    for (const s of segments) {
      if (f <= s.x1) {
        const width = s.x1 - s.x0;
        return width > 0 ? s.from + ((f - s.x0) / width) * (s.to - s.from) : s.from;
      }
    }
    return total;
  };
  return { segments, toFraction, fromFraction, totalMs: total };
}

/**
 * Markers for the bar: items of visible categories, positioned on the axis (clamped to 1..99 %),
 * grouped when closer than GROUP_WIDTH. Beyond MAX_MARKERS, inputs are left off.
 * Returns [{x, items: [...]}] in time order.
 */
export function groupMarkers(items, axis, hidden = new Set(), groupWidth = GROUP_WIDTH) {
  let shown = items.filter((item) => !hidden.has(categoryOf(item.kind).id));
  // a rage/dead click marker stands for its click: the bar shows one dot, not two
  const flagged = new Set(shown.filter((i) => categoryOf(i.kind).id === "frustration")
    .map((i) => i.ts_ms));
  if (flagged.size) shown = shown.filter((i) => !(i.kind === "click" && flagged.has(i.ts_ms)));
  if (shown.length > MAX_MARKERS) shown = shown.filter((i) => categoryOf(i.kind).id !== "input");
  const groups = [];
  for (const item of shown) {
    const x = Math.min(0.99, Math.max(0.01, axis.toFraction(item.offset_ms)));
    const last = groups[groups.length - 1];
    if (last && x - last.x < groupWidth) last.items.push(item);
    else groups.push({ x, items: [item] });
  }
  return groups;
}

// ---- items -----------------------------------------------------------------------------------

/** Index of the item the playhead is on: the last one at or before `offset` (-1 before all). */
export function currentIndex(items, offset) {
  let low = 0;
  let high = items.length - 1;
  let found = -1;
  while (low <= high) {
    const mid = (low + high) >> 1;
    if (items[mid].offset_ms <= offset) {
      found = mid;
      low = mid + 1;
    } else {
      high = mid - 1;
    }
  }
  return found;
}

function detailText(detail) {
  if (!detail || typeof detail !== "object") return "";
  const parts = [];
  for (const value of Object.values(detail)) {
    if (value == null) continue;
    parts.push(typeof value === "object" ? JSON.stringify(value) : String(value));
  }
  return parts.join(" ");
}

/** Items of the chosen category ("" = all) whose label, page or detail contains `query`. */
export function filterItems(items, category, query) {
  const needle = String(query || "").trim().toLowerCase();
  return items.filter((item) => {
    if (category && categoryOf(item.kind).id !== category) return false;
    if (!needle) return true;
    const haystack = [item.label, item.url, kindLabel(item.kind), detailText(item.detail)]
      .join(" ").toLowerCase();
    return haystack.includes(needle);
  });
}

/** Merge item lists by time; later lists only add kinds the first one lacks. */
export function mergeItems(primary, derived) {
  const haveKinds = new Set(primary.map((item) => item.kind));
  const extra = derived.filter((item) => !haveKinds.has(item.kind));
  return primary.concat(extra).sort((a, b) => a.offset_ms - b.offset_ms);
}

export function pagePath(url) {
  if (typeof url !== "string" || !url) return "";
  try {
    const parsed = new URL(url);
    return (parsed.pathname || "/") + parsed.search;
  } catch (_err) {
    return url;
  }
}

// ---- derived from loaded events --------------------------------------------------------------

const META = 4;
const INCREMENTAL = 3;
const CUSTOM = 5;
const SOURCE_MUTATION = 0;
const SOURCE_SCROLL = 3;
const SOURCE_INPUT = 5;
const SOURCE_MOUSE = 2;
const MOUSE_CLICK = 2;

/**
 * What loaded events say that facts may not: page changes (Meta events), input runs per field,
 * the deepest scroll, the first viewport, Web Vitals reports, error stacks and custom payloads.
 * `acc` carries state between calls (events arrive a chunk page at a time, in any order).
 */
export function newDerivation() {
  return {
    pages: new Map(), // ts -> {ts, href, width, height}
    inputs: new Map(), // `${id}:${ts}` -> {id, ts}
    maxScrollY: 0,
    viewport: null,
    vitals: new Map(), // `${metric}` -> {ts, value, rating}
    errors: new Map(), // ts -> {stack}
    customs: new Map(), // ts -> payload
    clicks: new Map(), // `${ts}:${id}` -> {ts, x, y}
    responses: [], // timestamps of page changes, DOM mutations and inputs (dead-click check)
  };
}

export function deriveFromEvents(acc, events) {
  for (const event of events) {
    if (!event || typeof event !== "object") continue;
    const data = event.data && typeof event.data === "object" ? event.data : {};
    const ts = Number(event.timestamp);
    if (!Number.isFinite(ts)) continue;
    if (event.type === META || (event.type === INCREMENTAL &&
        (data.source === SOURCE_MUTATION || data.source === SOURCE_INPUT))) {
      acc.responses.push(ts);
    }
    if (event.type === META && typeof data.href === "string") {
      acc.pages.set(ts, { ts, href: data.href, width: data.width, height: data.height });
      if (!acc.viewport && data.width > 0 && data.height > 0) {
        acc.viewport = { width: data.width, height: data.height, ts };
      } else if (acc.viewport && ts < acc.viewport.ts && data.width > 0 && data.height > 0) {
        acc.viewport = { width: data.width, height: data.height, ts };
      }
    } else if (event.type === INCREMENTAL) {
      if (data.source === SOURCE_INPUT && Number.isFinite(data.id)) {
        acc.inputs.set(data.id + ":" + ts, { id: data.id, ts });
      } else if (data.source === SOURCE_SCROLL && Number.isFinite(data.y)) {
        if (data.y > acc.maxScrollY) acc.maxScrollY = data.y;
      } else if (data.source === SOURCE_MOUSE && data.type === MOUSE_CLICK &&
                 Number.isFinite(data.x) && Number.isFinite(data.y)) {
        acc.clicks.set(ts + ":" + data.id, { ts, x: data.x, y: data.y });
      }
    } else if (event.type === CUSTOM) {
      const payload = data.payload;
      if (data.tag === "__perf" && payload && typeof payload.metric === "string" &&
          Number.isFinite(payload.value)) {
        const prev = acc.vitals.get(payload.metric);
        if (!prev || prev.ts <= ts) {
          acc.vitals.set(payload.metric, {
            ts, value: payload.value,
            rating: typeof payload.rating === "string" ? payload.rating : null,
          });
        }
      } else if (data.tag === "error" && payload && typeof payload === "object") {
        acc.errors.set(ts, {
          ts,
          message: typeof payload.message === "string" ? payload.message : "Error",
          source: typeof payload.source === "string" ? payload.source : "",
          line: Number.isFinite(payload.lineno) ? payload.lineno : null,
          column: Number.isFinite(payload.colno) ? payload.colno : null,
          kind: typeof payload.type === "string" ? payload.type : "",
          stack: typeof payload.stack === "string" ? payload.stack : "",
        });
      } else if (typeof data.tag === "string" && !data.tag.startsWith("__") &&
                 data.tag !== "error" && data.tag !== "navigation") {
        acc.customs.set(ts, { ts, tag: data.tag, payload });
      }
    }
  }
  return acc;
}

/** Page-change items from Meta events (used when the facts hold no page views). */
export function derivedPageItems(acc, firstMs) {
  const pages = Array.from(acc.pages.values()).sort((a, b) => a.ts - b.ts);
  const items = [];
  let previous = null;
  for (const page of pages) {
    if (page.href === previous) continue;
    const detail = { url: page.href };
    if (page.width > 0 && page.height > 0) detail.viewport = page.width + "x" + page.height;
    items.push({
      kind: "page_view", ts_ms: page.ts, offset_ms: Math.max(0, page.ts - firstMs),
      url: page.href,
      label: (previous === null ? "Page loaded: " : "Navigated to: ") + pagePath(page.href),
      detail, derived: true,
    });
    previous = page.href;
  }
  return items;
}

/** Input items, one per run of inputs into one field (a run ends when another field is
 * touched), from input events (used when the facts hold no form fields). Never values. */
export function derivedInputItems(acc, firstMs, pageAt) {
  const inputs = Array.from(acc.inputs.values()).sort((a, b) => a.ts - b.ts);
  const items = [];
  let run = null;
  for (const input of inputs) {
    if (run && run.id === input.id && input.ts - run.last <= IDLE_GAP_MS) {
      run.last = input.ts;
      run.count += 1;
      continue;
    }
    if (run) items.push(run);
    run = { id: input.id, first: input.ts, last: input.ts, count: 1 };
  }
  if (run) items.push(run);
  return items.map((r) => ({
    kind: "form_field", ts_ms: r.first, offset_ms: Math.max(0, r.first - firstMs),
    url: pageAt ? pageAt(r.first) : "",
    label: "Form field #" + r.id + " · " + r.count + " input" + (r.count === 1 ? "" : "s"),
    detail: { field: String(r.id), inputs: r.count, first_ms: r.first, last_ms: r.last },
    derived: true,
  }));
}

/**
 * Per-field interaction summary for form_field items (never values): for each field in
 * first-touch order, its position ("Field 2 of 3"), how often it was come back to, the time
 * spent in it, and the time until the next field was touched.
 */
export function formInteraction(items) {
  const runs = items.filter((item) => item.kind === "form_field")
    .slice().sort((a, b) => a.ts_ms - b.ts_ms);
  const order = [];
  const fields = new Map();
  let previousField = null;
  for (const run of runs) {
    const id = String(run.detail && run.detail.field != null ? run.detail.field : "");
    let field = fields.get(id);
    if (!field) {
      field = { id, position: order.length + 1, touches: 0, inputs: 0, timeMs: 0,
        firstMs: run.ts_ms, lastMs: run.ts_ms };
      fields.set(id, field);
      order.push(field);
    }
    if (previousField !== id) field.touches += 1;
    previousField = id;
    const detail = run.detail || {};
    field.inputs += Number(detail.inputs) || 0;
    const first = Number(detail.first_ms) || run.ts_ms;
    const last = Number(detail.last_ms) || first;
    field.timeMs += Math.max(0, last - first);
    field.lastMs = Math.max(field.lastMs, last);
    if (field.leftMs == null) field.leftMs = last; // the end of the first visit
  }
  for (let i = 0; i < order.length; i++) {
    order[i].total = order.length;
    order[i].refills = Math.max(0, order[i].touches - 1);
    const next = order[i + 1];
    // from leaving this field the first time to first touching the next one
    order[i].toNextMs = next ? Math.max(0, next.firstMs - order[i].leftMs) : null;
  }
  return fields;
}

/** `Max scroll 1500px (~3.1x viewport)`, or null without scrolling. */
export function scrollDepthText(maxY, viewportHeight) {
  if (!(maxY > 0)) return null;
  let text = "Max scroll " + Math.round(maxY) + "px";
  if (viewportHeight > 0) {
    const ratio = Math.round(((maxY + viewportHeight) / viewportHeight) * 10) / 10;
    text += " (~" + ratio + "x viewport)";
  }
  return text;
}

export const VITAL_ORDER = ["LCP", "CLS", "INP", "FCP", "TTFB"];

export function vitalText(metric, value) {
  if (!Number.isFinite(value)) return metric + " ?";
  return metric + " " + (metric === "CLS" ? value.toFixed(3) : Math.round(value) + " ms");
}

/** The last report per metric, from vital items and (where they lack one) loaded events. */
export function latestVitals(items, acc) {
  const vitals = new Map();
  for (const item of items) {
    if (item.kind !== "vital" || !item.detail) continue;
    const metric = String(item.detail.metric || "");
    const prev = vitals.get(metric);
    if (!prev || prev.ts <= item.ts_ms) {
      vitals.set(metric, { ts: item.ts_ms, value: Number(item.detail.value),
        rating: item.detail.rating || null });
    }
  }
  if (acc) {
    for (const [metric, report] of acc.vitals) {
      if (!vitals.has(metric)) vitals.set(metric, report);
    }
  }
  return VITAL_ORDER.filter((m) => vitals.has(m)).map((m) => ({ metric: m, ...vitals.get(m) }))
    .concat(Array.from(vitals.keys()).filter((m) => !VITAL_ORDER.includes(m))
      .map((m) => ({ metric: m, ...vitals.get(m) })));
}

/** The page URL at `offset`: the last page item at or before it. */
export function pageAtOffset(pageItems, offset) {
  let url = "";
  for (const item of pageItems) {
    if (item.offset_ms <= offset) url = item.url || (item.detail && item.detail.url) || url;
    else break;
  }
  if (!url && pageItems.length) url = pageItems[0].url || "";
  return url;
}

function shorten(text, max) {
  const value = String(text == null ? "" : text).replace(/\s+/g, " ").trim();
  return value.length > max ? value.slice(0, max - 1) + "…" : value;
}

/** Click, error, custom-event and Web Vitals items from loaded events (used for the kinds the
 * facts do not have: recordings stored before those facts existed, and imported files). */
export function derivedEventItems(acc, firstMs, pageAt) {
  const at = (ts) => ({ ts_ms: ts, offset_ms: Math.max(0, ts - firstMs),
    url: pageAt ? pageAt(ts) : "", derived: true });
  const items = [];
  for (const click of acc.clicks.values()) {
    items.push({ kind: "click", ...at(click.ts),
      label: "Click (" + Math.round(click.x) + ", " + Math.round(click.y) + ")",
      detail: { x: click.x, y: click.y } });
  }
  for (const error of acc.errors.values()) {
    const detail = { message: error.message };
    if (error.source) detail.source = error.source;
    if (error.line != null) detail.line = error.line;
    if (error.column != null) detail.column = error.column;
    if (error.kind) detail.kind = error.kind;
    if (error.stack) detail.stack = error.stack;
    items.push({ kind: "error", ...at(error.ts), label: shorten(error.message, 80), detail });
  }
  for (const custom of acc.customs.values()) {
    items.push({ kind: "custom", ...at(custom.ts), label: shorten(custom.tag, 80),
      detail: { tag: custom.tag }, payload: custom.payload });
  }
  for (const [metric, report] of acc.vitals) {
    items.push({ kind: "vital", ...at(report.ts),
      label: vitalText(metric, report.value) + (report.rating ? " (" + report.rating + ")" : ""),
      detail: { metric, value: report.value, rating: report.rating } });
  }
  return items.sort((a, b) => a.offset_ms - b.offset_ms);
}

/** Fact items with what only the loaded events hold: error stacks and custom payloads. */
export function enrichItems(items, acc) {
  return items.map((item) => {
    if (item.kind === "error" && !(item.detail && item.detail.stack)) {
      const error = acc.errors.get(item.ts_ms);
      if (error && error.stack) return { ...item, detail: { ...item.detail, stack: error.stack } };
    } else if (item.kind === "custom" && item.payload === undefined) {
      const custom = acc.customs.get(item.ts_ms);
      if (custom) return { ...item, payload: custom.payload };
    }
    return item;
  });
}

/** Bursts of activity in a list of event timestamps: [start, end] runs with no gap > threshold. */
export function bursts(timestamps, threshold = IDLE_GAP_MS) {
  const sorted = timestamps.filter(Number.isFinite).sort((a, b) => a - b);
  const out = [];
  for (const ts of sorted) {
    const last = out[out.length - 1];
    if (last && ts - last[1] <= threshold) last[1] = ts;
    else out.push([ts, ts]);
  }
  return out;
}

export const RAGE_CLICKS = 3;
export const RAGE_WINDOW_MS = 500;
export const RAGE_RADIUS_PX = 10;
export const DEAD_CLICK_MS = 500;
export const RAGE_RULE = "3 or more clicks within 500 ms of each other and within 10 px of the " +
  "first click";
export const DEAD_RULE = "no page change, DOM change or input within 500 ms after the click";

/**
 * Rage and dead clicks found in loaded events (the facts carry them once ingest derives them):
 * a rage click is >= 3 clicks, each <= 500 ms after the previous and after the first, within
 * 10 px (x and y) of the first; a dead click is a click followed by no Meta, mutation or input
 * event within 500 ms. Clicks of a rage burst are not also dead.
 */
function firstAfter(sorted, ts) {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    if (sorted[mid] <= ts) low = mid + 1;
    else high = mid;
  }
  return low < sorted.length ? sorted[low] : null;
}

export function derivedFrustrationItems(acc, firstMs, pageAt) {
  const clicks = Array.from(acc.clicks.values()).sort((a, b) => a.ts - b.ts);
  const responses = acc.responses.slice().sort((a, b) => a - b);
  const items = [];
  const inRage = new Set();
  for (let i = 0; i < clicks.length; i++) {
    if (inRage.has(i)) continue;
    const first = clicks[i];
    const burst = [i];
    for (let j = i + 1; j < clicks.length; j++) {
      const c = clicks[j];
      const prev = clicks[burst[burst.length - 1]];
      if (c.ts - prev.ts > RAGE_WINDOW_MS || c.ts - first.ts > RAGE_WINDOW_MS) break;
      if (Math.abs(c.x - first.x) > RAGE_RADIUS_PX || Math.abs(c.y - first.y) > RAGE_RADIUS_PX) {
        continue;
      }
      burst.push(j);
    }
    if (burst.length >= RAGE_CLICKS) {
      for (const k of burst) inRage.add(k);
      items.push({ kind: "rage_click", ts_ms: first.ts, offset_ms: Math.max(0, first.ts - firstMs),
        url: pageAt ? pageAt(first.ts) : "", derived: true,
        label: "Rage click (" + Math.round(first.x) + ", " + Math.round(first.y) + ") · " +
          burst.length + " clicks",
        detail: { clicks: burst.length, x: first.x, y: first.y, rule: RAGE_RULE } });
    }
  }
  for (let i = 0; i < clicks.length; i++) {
    if (inRage.has(i)) continue;
    const click = clicks[i];
    const next = firstAfter(responses, click.ts);
    const answered = next !== null && next <= click.ts + DEAD_CLICK_MS;
    if (answered) continue;
    const error = Array.from(acc.errors.values()).some((e) => e.ts > click.ts &&
      e.ts <= click.ts + DEAD_CLICK_MS);
    items.push({ kind: "dead_click", ts_ms: click.ts, offset_ms: Math.max(0, click.ts - firstMs),
      url: pageAt ? pageAt(click.ts) : "", derived: true,
      label: "Dead click (" + Math.round(click.x) + ", " + Math.round(click.y) + ")" +
        (error ? " (an error followed)" : ""),
      detail: { x: click.x, y: click.y, error, rule: DEAD_RULE } });
  }
  return items.sort((a, b) => a.offset_ms - b.offset_ms);
}
