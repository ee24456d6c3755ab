import assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
  activeTime,
  buildAxis,
  bursts,
  currentIndex,
  derivedFrustrationItems,
  derivedInputItems,
  derivedPageItems,
  deriveFromEvents,
  filterItems,
  findGaps,
  formatDuration,
  formInteraction,
  groupMarkers,
  latestVitals,
  mergeItems,
  newDerivation,
  pageAtOffset,
  scrollDepthText,
} from "../src/dashboard/activity_model.js";
import { loadedUntil, pageIndices, planAhead, planSeek, runs } from "../src/dashboard/chunk_plan.js";
import { embeddedData, embeddedFetch } from "../src/dashboard/embedded.js";
import { parseReplayFile } from "../src/dashboard/import_format.js";

const item = (kind, offset, extra = {}) => ({ kind, offset_ms: offset, ts_ms: 1000 + offset,
  url: "https://a.test/p", label: kind + " at " + offset, detail: {}, ...extra });

describe("time axis", () => {
  it("finds idle gaps between what is known to be active", () => {
    const gaps = findGaps([[0, 0], [1000, 2000], [20000, 21000], [21500, 21500]], 60000);
    assert.deepEqual(gaps, [{ start: 2000, end: 20000 }, { start: 21500, end: 60000 }]);
    assert.equal(activeTime(60000, gaps), 60000 - 18000 - 38500);
    assert.deepEqual(findGaps([[0, 30000]], 30000), [], "a chunk not loaded counts as active");
  });

  it("compresses each gap to a few percent and maps both ways", () => {
    const axis = buildAxis(100000, [{ start: 10000, end: 90000 }]);
    const gap = axis.segments.find((s) => s.gap);
    assert.ok(Math.abs(gap.x1 - gap.x0 - 0.03) < 1e-9);
    assert.ok(axis.toFraction(10000) > 0.4 && axis.toFraction(10000) < 0.5);
    for (const t of [0, 5000, 10000, 50000, 95000, 100000]) {
      assert.ok(Math.abs(axis.fromFraction(axis.toFraction(t)) - t) < 1, String(t));
    }
    const many = buildAxis(1000000, Array.from({ length: 20 }, (_, i) => (
      { start: i * 50000 + 10000, end: i * 50000 + 40000 })));
    const gapsWidth = many.segments.filter((s) => s.gap).reduce((w, s) => w + s.x1 - s.x0, 0);
    assert.ok(gapsWidth <= 0.4 + 1e-9, "all gaps together take at most 40 %");
  });

  it("groups dense markers, hides toggled categories and clamps to the bar", () => {
    const axis = buildAxis(100000, []);
    const items = [item("click", 0), item("click", 500), item("error", 50000),
      item("page_view", 100000)];
    const groups = groupMarkers(items, axis);
    assert.deepEqual(groups.map((g) => g.items.length), [2, 1, 1]);
    assert.equal(groups[0].x, 0.01);
    assert.equal(groups[2].x, 0.99);
    assert.deepEqual(groupMarkers(items, axis, new Set(["click"])).map((g) => g.items[0].kind),
      ["error", "page_view"]);
    const flagged = [item("click", 40000), item("dead_click", 40000), item("click", 70000)];
    assert.deepEqual(groupMarkers(flagged, axis).map((g) => g.items.map((i) => i.kind)),
      [["dead_click"], ["click"]], "a dead click's own click is not drawn twice");
  });

  it("formats durations", () => {
    assert.equal(formatDuration(850), "900 ms");
    assert.equal(formatDuration(12300), "12.3 s");
    assert.equal(formatDuration(245000), "4m 05s");
    assert.equal(formatDuration(3720000), "1h 02m");
  });
});

describe("activity items", () => {
  it("finds the entry at the playhead", () => {
    const items = [item("a", 0), item("b", 100), item("c", 100), item("d", 900)];
    assert.equal(currentIndex(items, -1), -1);
    assert.equal(currentIndex(items, 100), 2);
    assert.equal(currentIndex(items, 899), 2);
    assert.equal(currentIndex(items, 5000), 3);
  });

  it("filters by category and text", () => {
    const items = [item("click", 0, { label: "Click: Buy" }),
      item("error", 10, { label: "TypeError", detail: { stack: "at pay.js:3" } })];
    assert.deepEqual(filterItems(items, "error", "").map((i) => i.kind), ["error"]);
    assert.deepEqual(filterItems(items, "", "pay.js").map((i) => i.kind), ["error"]);
    assert.deepEqual(filterItems(items, "", "buy").map((i) => i.kind), ["click"]);
  });

  it("adds derived kinds only where the facts have none", () => {
    const merged = mergeItems([item("click", 5)], [item("click", 1), item("form_field", 2)]);
    assert.deepEqual(merged.map((i) => [i.kind, i.offset_ms]), [["form_field", 2], ["click", 5]]);
  });

  it("derives pages, input runs, vitals and scroll depth from events, never values", () => {
    const acc = newDerivation();
    deriveFromEvents(acc, [
      { type: 4, timestamp: 1000, data: { href: "https://a.test/one", width: 800, height: 600 } },
      { type: 3, timestamp: 1100, data: { source: 5, id: 7, text: "secret" } },
      { type: 3, timestamp: 1200, data: { source: 5, id: 7, text: "secrets" } },
      { type: 3, timestamp: 1300, data: { source: 5, id: 8, text: "x" } },
      { type: 3, timestamp: 1400, data: { source: 5, id: 7, text: "y" } },
      { type: 3, timestamp: 1500, data: { source: 3, id: 1, x: 0, y: 1800 } },
      { type: 5, timestamp: 1600, data: { tag: "__perf", payload: { metric: "LCP", value: 900,
        rating: "good" } } },
      { type: 4, timestamp: 2000, data: { href: "https://a.test/two", width: 800, height: 600 } },
    ]);
    const pages = derivedPageItems(acc, 1000);
    assert.deepEqual(pages.map((p) => p.label), ["Page loaded: /one", "Navigated to: /two"]);
    const inputs = derivedInputItems(acc, 1000);
    assert.deepEqual(inputs.map((i) => [i.detail.field, i.detail.inputs]), [["7", 2], ["8", 1],
      ["7", 1]]);
    assert.ok(!JSON.stringify(inputs).includes("secret"));
    const forms = formInteraction(inputs);
    assert.equal(forms.get("7").position, 1);
    assert.equal(forms.get("7").refills, 1);
    assert.equal(forms.get("8").total, 2);
    assert.equal(forms.get("7").toNextMs, 100);
    assert.equal(scrollDepthText(acc.maxScrollY, 600), "Max scroll 1800px (~4x viewport)");
    assert.equal(scrollDepthText(0, 600), null);
    assert.deepEqual(latestVitals([], acc).map((v) => [v.metric, v.value, v.rating]),
      [["LCP", 900, "good"]]);
    assert.equal(pageAtOffset(pages, 500), "https://a.test/one");
    assert.equal(pageAtOffset(pages, 1500), "https://a.test/two");
  });

  it("finds rage clicks (>= 3 within 500 ms and 10 px) and dead clicks (no answer in 500 ms)",
    () => {
      const acc = newDerivation();
      const click = (ts, x, y, id = 1) => ({ type: 3, timestamp: ts,
        data: { source: 2, type: 2, id, x, y } });
      deriveFromEvents(acc, [
        click(1000, 10, 10), click(1200, 14, 12), click(1400, 12, 8), // rage
        click(5000, 100, 100), // dead: nothing follows
        click(8000, 200, 200),
        { type: 3, timestamp: 8300, data: { source: 0, adds: [], removes: [], texts: [],
          attributes: [] } }, // the page answered
      ]);
      const items = derivedFrustrationItems(acc, 0);
      assert.deepEqual(items.map((i) => [i.kind, i.ts_ms]), [["rage_click", 1000],
        ["dead_click", 5000]]);
      assert.equal(items[0].detail.clicks, 3);
      assert.ok(items[0].detail.rule.includes("500 ms"));
    });

  it("splits timestamps into bursts", () => {
    assert.deepEqual(bursts([0, 1000, 7000, 7100, 30000]), [[0, 1000], [7000, 7100],
      [30000, 30000]]);
  });
});

describe("chunk plan", () => {
  const chunks = Array.from({ length: 60 }, (_, i) => ({ index: i, first_ms: i * 60000,
    last_ms: i * 60000 + 59000 }));
  const snapshots = [0, 600000, 1200000, 1800000, 2400000, 3000000]; // every 10 minutes

  it("a far seek walks back from the target to a loaded snapshot", () => {
    const loaded = new Set([0, 1, 2, 3]);
    const target = 59 * 60000 + 30000;
    let plan = planSeek(chunks, loaded, [0], target);
    assert.deepEqual(plan.fetch, [59, 58, 57, 56]);
    for (const i of plan.fetch) loaded.add(i);
    plan = planSeek(chunks, loaded, [0], target);
    assert.deepEqual(plan.fetch, [55, 54, 53, 52]);
    for (const i of [55, 54, 53, 52, 51, 50]) loaded.add(i);
    assert.deepEqual(planSeek(chunks, loaded, snapshots, target), { ready: true, fetch: [] });
    assert.deepEqual(planSeek(chunks, new Set([0]), [0], 30000), { ready: true, fetch: [] });
  });

  it("plans the chunks just ahead of the playhead and says how far is loaded", () => {
    const loaded = new Set([0, 1]);
    assert.deepEqual(planAhead(chunks, loaded, 100000, 30000), [2]);
    assert.deepEqual(planAhead(chunks, loaded, 10000, 30000), []);
    assert.equal(loadedUntil(chunks, loaded, 10000), 120000);
    assert.equal(loadedUntil(chunks, new Set(chunks.map((c) => c.index)), 0), Infinity);
    assert.deepEqual(runs([59, 58, 3, 57, 1, 2]), [[1, 3], [57, 3]]);
    // indices skip numbers (seqs that never arrived, dropped chunks): runs follow the index
    assert.deepEqual(runs([2, 5, 6, 9], [0, 2, 5, 6, 8, 9]), [[2, 3], [9, 1]]);
    assert.deepEqual(pageIndices([9, 2, 5, 6, 8], 0, 3, 6), [2, 5]);
    assert.deepEqual(pageIndices([9, 2, 5, 6, 8], 3, 4, null), [5, 6, 8, 9]);
  });
});

describe("offline replays", () => {
  it("answers the player's URLs from memory and nothing else", async () => {
    const events = [{ type: 4, timestamp: 10 }, { type: 3, timestamp: 20 }];
    const fetchFn = embeddedFetch(new Map([["w 1", { events, items: [{ kind: "click" }] }]]));
    const data = embeddedData("w 1");
    const index = await (await fetchFn(data.chunksUrl)).json();
    assert.deepEqual(index.chunks, [{ index: 0, first_ms: 10, last_ms: 20, event_count: 2 }]);
    const page = await (await fetchFn(data.eventsUrl + "?cursor=0&chunks=4")).json();
    assert.deepEqual(page, { events, next_cursor: null });
    assert.deepEqual((await (await fetchFn(data.activityUrl)).json()).items, [{ kind: "click" }]);
    await assert.rejects(fetchFn("https://evil.test/x"), /no network/);
    assert.equal((await fetchFn(embeddedData("other").chunksUrl)).status, 404);
  });

  it("reads rrweb arrays, events answers and sentiero exports, and says what is wrong", () => {
    const events = [{ type: 4, timestamp: 20 }, { type: 2, timestamp: 10 }];
    const rrweb = parseReplayFile(JSON.stringify(events));
    assert.equal(rrweb.format, "rrweb");
    assert.deepEqual(rrweb.windows[0].events.map((e) => e.timestamp), [10, 20]);
    assert.equal(parseReplayFile(JSON.stringify({ events })).format, "rrweb");
    const lines = [JSON.stringify({ format: "sentiero-export", version: 1, sessions: 1 }),
      JSON.stringify({ session_id: "s1", windows: [
        { window_id: "a", chunks: [{ index: 0, events }] },
        { window_id: "b", chunks: [{ index: 0, events: [events[0]] },
          { index: 1, events: [events[1]] }] }] })].join("\n");
    const exported = parseReplayFile(lines);
    assert.equal(exported.format, "sentiero-export");
    assert.deepEqual(exported.windows.map((w) => [w.id, w.label, w.events.length]),
      [["a", "Tab 1", 2], ["b", "Tab 2", 2]]);
    const errors = {
      "": /Paste or choose/,
      "{": /not valid JSON/,
      '{"a": 1}': /Expected an array/,
      "[]": /has no events/,
      "[1, 2]": /event 0 is not an object/,
      '[{"type": "4", "timestamp": 1}, {"type": 3, "timestamp": 2}]': /numeric type/,
      '[{"type": 4}, {"type": 3, "timestamp": 2}]': /numeric timestamp/,
      '[{"type": 4, "timestamp": 1}]': /fewer than 2 events/,
    };
    for (const [text, message] of Object.entries(errors)) {
      assert.throws(() => parseReplayFile(text), message, text);
    }
  });
});
