import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { guardWindowId } from "../src/recorder/window_guard.js";
import { FakeClock, makeBroadcastBus } from "./support/fakes.js";

function guard(clock, BroadcastChannel, windowId, pageId) {
  return guardWindowId({ BroadcastChannel, windowId, pageId, timers: clock.timers_ });
}

describe("duplicate-tab guard", () => {
  it("reports a conflict when another live page uses the window id", async () => {
    const clock = new FakeClock();
    const Bus = makeBroadcastBus();
    const original = guard(clock, Bus, "w1", "page-a");
    await clock.advance(200);
    assert.equal(await original.result, false);
    const duplicate = guard(clock, Bus, "w1", "page-b");
    await clock.advance(10);
    assert.equal(await duplicate.result, true);
  });

  it("no conflict for other window ids, suspended pages, or without BroadcastChannel", async () => {
    const clock = new FakeClock();
    const Bus = makeBroadcastBus();
    const other = guard(clock, Bus, "w-other", "page-a");
    const frozen = guard(clock, Bus, "w1", "page-frozen");
    await clock.advance(200);
    frozen.suspend(); // in the back/forward cache
    const fresh = guard(clock, Bus, "w1", "page-c");
    await clock.advance(200);
    assert.equal(await fresh.result, false);
    assert.equal(await other.result, false);
    const none = guard(clock, null, "w1", "page-d");
    assert.equal(await none.result, false);
  });

  it("answers for its new id after switching", async () => {
    const clock = new FakeClock();
    const Bus = makeBroadcastBus();
    const a = guard(clock, Bus, "w1", "a");
    await clock.advance(200);
    a.setWindowId("w2");
    const b = guard(clock, Bus, "w2", "b");
    await clock.advance(200);
    assert.equal(await b.result, true);
  });
});
