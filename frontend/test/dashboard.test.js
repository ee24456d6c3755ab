import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { asEventsPage } from "../src/dashboard/events_page.js";
import {
  computeScale,
  firstViewport,
  formatTime,
  isTypingTarget,
  resolveStartOffset,
  stepSpeed,
  withParams,
} from "../src/dashboard/time.js";

describe("player helpers", () => {
  it("formats m:ss and h:mm:ss", () => {
    assert.equal(formatTime(0), "0:00");
    assert.equal(formatTime(5999), "0:05");
    assert.equal(formatTime(65000), "1:05");
    assert.equal(formatTime(3600000 + 61000), "1:01:01");
    assert.equal(formatTime(-5), "0:00");
    assert.equal(formatTime(NaN), "0:00");
  });

  it("accepts deep links as relative offsets or absolute epoch ms", () => {
    const first = 1_700_000_000_000;
    assert.equal(resolveStartOffset(12_000, first, 60_000), 12_000);
    assert.equal(resolveStartOffset(first + 30_000, first, 60_000), 30_000);
    assert.equal(resolveStartOffset(first + 999_999, first, 60_000), 60_000, "clamped");
    assert.equal(resolveStartOffset(-4, first, 60_000), 0);
    assert.equal(resolveStartOffset("2500", first, 60_000), 2500);
    assert.equal(resolveStartOffset(null, first, 60_000), null);
    assert.equal(resolveStartOffset("soon", first, 60_000), null);
  });

  it("steps speeds through 1, 2, 4, 8, 16, clamped", () => {
    assert.equal(stepSpeed(1, 1), 2);
    assert.equal(stepSpeed(16, 1), 16);
    assert.equal(stepSpeed(1, -1), 1);
    assert.equal(stepSpeed(8, -1), 4);
  });

  it("fits the recorded viewport into the container without upscaling", () => {
    assert.equal(computeScale(960, 2000, 1920, 1080), 0.5);
    assert.equal(computeScale(1200, 2000, 390, 844), 1);
    assert.equal(computeScale(1000, 500, 1000, 1000), 0.5);
    assert.equal(computeScale(0, 0, 0, 0), 1);
  });

  it("builds events page URLs", () => {
    assert.equal(withParams("/sentiero/api/sessions/s/windows/w/events", { cursor: 4, chunks: 4 }),
      "/sentiero/api/sessions/s/windows/w/events?cursor=4&chunks=4");
    assert.equal(withParams("https://h.example/e?x=1", { cursor: 0 }), "https://h.example/e?x=1&cursor=0");
  });

  it("reads the first Meta viewport and knows typing targets", () => {
    assert.deepEqual(firstViewport([{ type: 2 }, { type: 4, data: { width: 800, height: 600 } }]),
      { width: 800, height: 600 });
    assert.equal(firstViewport([{ type: 3 }]), null);
    assert.equal(isTypingTarget({ tagName: "INPUT" }), true);
    assert.equal(isTypingTarget({ tagName: "TEXTAREA" }), true);
    assert.equal(isTypingTarget({ tagName: "DIV", isContentEditable: true }), true);
    assert.equal(isTypingTarget({ tagName: "BODY" }), false);
  });
});

describe("events pages in the stored layout", () => {
  it("flattens a layout=chunks page in order and leaves other answers alone", () => {
    const page = { chunks: [[{ timestamp: 1 }, { timestamp: 2 }], [], [{ timestamp: 3 }]], next_cursor: 7 };
    assert.deepEqual(asEventsPage(page),
      { events: [{ timestamp: 1 }, { timestamp: 2 }, { timestamp: 3 }], next_cursor: 7 });
    const flat = { events: [{ timestamp: 1 }], next_cursor: null };
    assert.equal(asEventsPage(flat), flat);
    const index = { chunks: [{ index: 0 }], first_ms: 1, last_ms: 9 };
    assert.equal(asEventsPage(index), index, "the chunk index is not a page");
  });
});
