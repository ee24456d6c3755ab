// What rrweb holds back when a page is left: a focused field's text (sampling input "last"
// records on `change` only) and a throttled scroll's last position (pending.js).

import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { buildRecordOptions } from "../src/recorder/masking.js";
import { inputText, trackPending } from "../src/recorder/pending.js";
import { settle } from "./support/fakes.js";
import { h } from "./support/dom.js";
import { boot } from "./support/recorder.js";

const CONFIG = { eventsUrl: "https://app.example/sentiero/events", flushEventThreshold: 50,
  respectGpc: true };

function field({ tag = "input", ...attrs } = {}, value = "Ann") {
  const el = h(tag, Object.assign({ id: "name" }, attrs));
  el.type = attrs.type || (el.tagName === "INPUT" ? "text" : "textarea");
  el.value = value;
  el.isConnected = true;
  return el;
}

async function started(config = CONFIG) {
  const t = boot({ config });
  await settle(); // the window-id guard releases the transport
  t.calls.options.emit({ type: 4, timestamp: 1, data: { href: "https://shop.example/" } });
  t.calls.options.emit({ type: 2, timestamp: 2, data: {} });
  return t;
}

function beaconed(t) {
  return t.beacon.beacons.flatMap((b) => b.payload.events);
}

const isInput = (e) => e.type === 3 && e.data.source === 5;

describe("page leave: what rrweb still holds back", () => {
  it("text typed into a field still focused on pagehide reaches the beacon, masked", async () => {
    // The bug: rrweb (sampling input "last") waits for `change`, which leaving never fires,
    // so the pagehide beacon had Meta and FullSnapshot but nothing typed.
    const t = await started();
    const name = field();
    t.calls.mirror.ids.set(name, 7);
    t.document.dispatch("input", { target: name }); // typing, no change event
    t.window.dispatch("pagehide"); // synchronous: nothing is awaited on the way out
    const events = beaconed(t);
    assert.deepEqual(events.map((e) => e.type), [4, 2, 3]);
    assert.deepEqual(events[2].data, { source: 5, text: "********", isChecked: false, id: 7 });
    assert.equal(events[2].timestamp, t.clock.now);
  });

  it("a tab switch (visibilitychange hidden) delivers it too, once", async () => {
    const t = await started();
    const name = field();
    t.calls.mirror.ids.set(name, 7);
    t.document.dispatch("input", { target: name });
    t.document.visibilityState = "hidden";
    t.document.dispatch("visibilitychange");
    await t.recorder.state.transport.settled();
    await settle();
    assert.equal(beaconed(t).filter(isInput).length, 1);
    // Chromium's page leave: pagehide, then visibilitychange. Nothing typed since: no repeat.
    t.window.dispatch("pagehide");
    t.document.dispatch("visibilitychange");
    assert.equal(beaconed(t).filter(isInput).length, 1);
  });

  it("follows rrweb's masking and skips blocked, ignored and unrecorded fields", async () => {
    const t = await started(Object.assign({}, CONFIG,
      { recorderOptions: { maskAllInputs: false } }));
    const plain = field({ id: "plain" }, "visible");
    const secret = field({ id: "pw", type: "password" }, "hunter2");
    const blocked = field({ id: "b", class: "rr-block" }, "no");
    const ignored = field({ id: "i", "data-rr-ignore": "" }, "no");
    const unknown = field({ id: "u" }, "no");
    const box = field({ id: "c", type: "checkbox" }, "on");
    [plain, secret, blocked, ignored, box].forEach((el, i) => t.calls.mirror.ids.set(el, 10 + i));
    for (const el of [plain, secret, blocked, ignored, unknown, box]) {
      t.document.dispatch("input", { target: el });
    }
    t.window.dispatch("pagehide");
    const inputs = beaconed(t).filter(isInput).map((e) => [e.data.id, e.data.text]);
    assert.deepEqual(inputs, [[10, "visible"], [11, "********"]]);
  });

  it("emits the last scroll position rrweb's throttle may still hold", async () => {
    const t = await started();
    t.document.scrollingElement = { scrollLeft: 0, scrollTop: 1500 };
    t.calls.mirror.ids.set(t.document, 1);
    const list = h("div", { id: "list" });
    Object.assign(list, { scrollLeft: 3, scrollTop: 40, isConnected: true });
    t.calls.mirror.ids.set(list, 9);
    t.document.dispatch("scroll", { target: t.document });
    t.document.dispatch("scroll", { target: list });
    t.window.dispatch("pagehide");
    const scrolls = beaconed(t).filter((e) => e.type === 3 && e.data.source === 3);
    assert.deepEqual(scrolls.map((e) => e.data), [
      { source: 3, id: 1, x: 0, y: 1500 },
      { source: 3, id: 9, x: 3, y: 40 },
    ]);
  });

  it("with sampling input 'all' rrweb records every keystroke: no input listener", () => {
    const listeners = [];
    const doc = { addEventListener: (type) => listeners.push(type), removeEventListener() {} };
    trackPending({ document: doc, recordOptions: buildRecordOptions({ sampling: { input: "all" } }),
      mirror: null, emit() {}, now: () => 0 });
    assert.deepEqual(listeners, ["scroll"]);
  });

  it("inputText masks like rrweb: revealed passwords stay masked, unmask shows text", () => {
    const options = buildRecordOptions({ maskAllInputs: false });
    const revealed = field({ "data-rr-is-password": "" }, "hunter2");
    assert.equal(inputText(revealed, options), "********");
    const all = buildRecordOptions({});
    const unmasked = h("div", { "data-sentiero-unmask": "" });
    const inside = unmasked.append(field({}, "shown"));
    assert.equal(inputText(inside, all), "shown");
    assert.equal(inputText(field({ tag: "textarea" }, "notes"), all), "********");
  });
});
