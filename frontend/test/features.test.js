import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { CONTENTEDITABLE_SELECTOR, buildRecordOptions, isTextHidden } from "../src/recorder/masking.js";
import { clickedElement, selectorFor } from "../src/recorder/features/clicks.js";
import {
  MAX_DATA_CHARS,
  TAG_PATTERN,
  parseTrackData,
  trackedEvent,
} from "../src/recorder/features/declarative.js";
import { formSubmitPayload } from "../src/recorder/features/forms.js";
import { collectMetadata } from "../src/recorder/features/metadata.js";
import { linkText, navigationPayload } from "../src/recorder/features/navigation.js";
import {
  VITALS_GLOBAL,
  captureWebVitals,
  perfPayload,
  vitalsUrl,
} from "../src/recorder/features/vitals.js";
import { siblingUrl } from "../src/recorder/config.js";
import { FakeText, h, svg } from "./support/dom.js";

const PAGE = "https://shop.example/cart?coupon=abc#top";

describe("navigation payload", () => {
  it("records internal links without `external` and external ones with it", () => {
    assert.deepEqual(navigationPayload(h("a", { href: "/checkout?step=2" }, " Pay  now "), PAGE),
      { url: "https://shop.example/checkout?step=2", text: "Pay now" });
    assert.deepEqual(navigationPayload(h("a", { href: "https://docs.example/help" }, "Help"), PAGE),
      { url: "https://docs.example/help", text: "Help", external: true });
    assert.deepEqual(navigationPayload(h("a", { href: "http://shop.example/x" }), PAGE),
      { url: "http://shop.example/x", external: true }, "another scheme is another origin");
  });

  it("skips javascript:, a bare # and in-page anchors, keeps other pages' anchors", () => {
    for (const href of ["javascript:void(0)", " JavaScript:go()", "java\tscript:x()", "#"]) {
      assert.equal(navigationPayload(h("a", { href }, "x"), PAGE), null, href);
    }
    assert.equal(navigationPayload(h("a", { href: "#reviews" }), PAGE), null);
    assert.equal(navigationPayload(h("a", { href: "/cart#reviews" }), PAGE), null);
    assert.deepEqual(navigationPayload(h("a", { href: "/help#faq" }), PAGE),
      { url: "https://shop.example/help#faq" });
    assert.equal(navigationPayload(h("a", {}), PAGE), null, "no href");
  });

  it("cuts the text to 100 characters, omits empty or hidden text", () => {
    const long = "word ".repeat(40);
    assert.equal(linkText(h("a", {}, long)).length, 100);
    assert.equal("text" in navigationPayload(h("a", { href: "/a" }, "  \n "), PAGE), false);
    assert.deepEqual(navigationPayload(h("a", { href: "/a" }, "Jane Doe"), PAGE, true),
      { url: "https://shop.example/a" });
  });

  it("hides the text of links the recording masks or blocks", () => {
    const options = buildRecordOptions({});
    const masked = h("a", { href: "/a" }, "secret");
    h("div", { "data-rr-mask": "" }, masked);
    assert.equal(isTextHidden(masked, options), true);
    const editable = h("a", { href: "/a" }, "draft");
    h("div", { contenteditable: "true" }, editable);
    assert.equal(isTextHidden(editable, options), true, CONTENTEDITABLE_SELECTOR);
    const plain = h("a", { href: "/a" }, "Home");
    h("div", { contenteditable: "false" }, plain);
    assert.equal(isTextHidden(plain, options), false);
  });
});

describe("click selectors", () => {
  it("is tag#id, else tag with at most two classes, else the tag", () => {
    assert.equal(selectorFor(h("button", { id: "buy", class: "btn primary" })), "button#buy");
    assert.equal(selectorFor(h("div", { class: "  card  wide  dark " })), "div.card.wide");
    assert.equal(selectorFor(h("span", {})), "span");
    assert.equal(selectorFor(h("a", { id: "a:b" })), "a#a\\:b");
    assert.equal(selectorFor(h("a", { id: "x y" }), (v) => "<" + v + ">"), "a#<x y>", "CSS.escape");
    assert.equal(selectorFor(null), null);
  });

  it("walks up at most three levels from text and SVG nodes", () => {
    const text = new FakeText("Buy");
    const button = h("button", { id: "buy" }, text);
    assert.equal(clickedElement(text), button);
    const path = svg("path");
    const icon = svg("svg", {}, svg("g", {}, path));
    h("button", { class: "icon" }, icon);
    assert.equal(selectorFor(clickedElement(path)), "button.icon");
    const deep = svg("path");
    h("div", {}, svg("svg", {}, svg("g", {}, svg("g", {}, deep))));
    assert.equal(selectorFor(clickedElement(deep)), "svg", "gives up after three levels");
  });
});

describe("form submit payload", () => {
  it("has the form's name and id attributes and the page URL, never a field", () => {
    const form = h("form", { name: "signup", id: "signup-form" },
      h("input", { name: "email", value: "jane@example.com" }));
    // Form controls shadow form.name / form.id: the payload must not read those properties.
    form.name = { value: "Jane" };
    form.id = { value: "42" };
    const payload = formSubmitPayload(form, PAGE);
    assert.deepEqual(payload, { name: "signup", id: "signup-form", url: PAGE });
    assert.deepEqual(formSubmitPayload(h("form", { name: " " }), PAGE), { url: PAGE });
  });
});

describe("declarative tracking", () => {
  it("accepts tags matching the pattern only", () => {
    for (const tag of ["signup", "add-to-cart", "a.b_c", "x".repeat(100)]) assert.ok(TAG_PATTERN.test(tag), tag);
    for (const tag of ["", "with space", "x".repeat(101), "<b>", "é"]) assert.ok(!TAG_PATTERN.test(tag), tag);
  });

  it("parses data-sentiero-data: absent is {}, too long or invalid JSON drops the event", () => {
    assert.deepEqual(parseTrackData(null), { ok: true, payload: {} });
    assert.deepEqual(parseTrackData('{"sku":"A1"}'), { ok: true, payload: { sku: "A1" } });
    assert.deepEqual(parseTrackData("{oops"), { ok: false });
    const exact = JSON.stringify({ k: "x".repeat(MAX_DATA_CHARS - 8) });
    assert.equal(exact.length, MAX_DATA_CHARS);
    assert.equal(parseTrackData(exact).ok, true);
    assert.deepEqual(parseTrackData(JSON.stringify({ k: "x".repeat(MAX_DATA_CHARS - 7) })), { ok: false });
  });

  it("finds the nearest tracked element for the DOM event type", () => {
    const label = new FakeText("Add");
    const button = h("button", { "data-sentiero-track-click": "add-todo",
      "data-sentiero-data": '{"list":"home"}' }, label);
    h("form", { "data-sentiero-track-submit": "todo-form" }, button);
    assert.deepEqual(trackedEvent(label, "click"), { tag: "add-todo", payload: { list: "home" } });
    assert.deepEqual(trackedEvent(button.parentNode, "submit"), { tag: "todo-form", payload: {} });
    assert.equal(trackedEvent(button, "change"), null);
    assert.equal(trackedEvent(button, "mouseover"), null);
    assert.equal(trackedEvent(h("input", { "data-sentiero-track-focus": "bad tag" }), "focus"), null);
    assert.equal(trackedEvent(h("input", { "data-sentiero-track-blur": "ok",
      "data-sentiero-data": "{" }), "blur"), null);
  });
});

describe("page metadata", () => {
  it("collects url, referrer, user agent, viewport and the entry page", () => {
    const win = { location: { href: PAGE }, innerWidth: 1280, innerHeight: 800,
      navigator: { userAgent: "UA/1" } };
    const doc = { referrer: "https://search.example/?q=x" };
    assert.deepEqual(collectMetadata(win, doc, { entryUrl: "https://shop.example/",
      entryReferrer: "" }), {
      url: PAGE, referrer: "https://search.example/?q=x", userAgent: "UA/1", viewport: "1280x800",
      entry_url: "https://shop.example/", entry_referrer: "",
    });
    const broken = { get location() { throw new Error("x"); }, get navigator() { throw new Error("y"); } };
    assert.deepEqual(collectMetadata(broken, {}, null), { url: "", referrer: "", userAgent: "",
      viewport: "0x0", entry_url: "", entry_referrer: "" });
  });
});

describe("web vitals", () => {
  it("builds __perf payloads for LCP, CLS and INP only", () => {
    assert.deepEqual(perfPayload({ name: "LCP", value: 812.4, rating: "good", id: "v5-1" }),
      { metric: "LCP", value: 812.4, rating: "good" });
    assert.equal(perfPayload({ name: "FCP", value: 1 }), null);
    assert.equal(perfPayload({ name: "CLS", value: NaN }), null);
    assert.equal(perfPayload(null), null);
  });

  it("finds the vitals asset beside the events endpoint", () => {
    assert.equal(vitalsUrl("/sentiero/events", "vitals-ABCD1234.js"), "/sentiero/assets/vitals-ABCD1234.js");
    assert.equal(vitalsUrl("https://rec.example/s/events?x=1", "v.js"), "https://rec.example/s/assets/v.js");
    assert.equal(vitalsUrl("/sentiero/events", null), null);
    assert.equal(siblingUrl("/sentiero/events", "opt-out"), "/sentiero/opt-out");
    assert.equal(siblingUrl("events", "opt-out"), "opt-out");
  });

  function vitalsCtx({ lib, hidden = false } = {}) {
    const emitted = [];
    const appended = [];
    const warnings = [];
    let flushes = 0;
    const doc = {
      visibilityState: hidden ? "hidden" : "visible",
      head: { appendChild: (el) => appended.push(el) },
      createElement: () => {
        const listeners = {};
        return { listeners, addEventListener: (t, fn) => { listeners[t] = fn; } };
      },
    };
    const win = lib ? { [VITALS_GLOBAL]: lib } : {};
    const ctx = { config: { eventsUrl: "/sentiero/events" }, window: win, document: doc,
      vitalsUrl: "/sentiero/assets/vitals-TEST.js", warn: (m) => warnings.push(m),
      addCustomEvent: (tag, payload) => emitted.push({ tag, payload }),
      flushIfHidden: () => flushes++ };
    return { ctx, emitted, appended, warnings, win, doc, flushes: () => flushes };
  }

  function fakeLib() {
    const callbacks = {};
    return { callbacks, onLCP: (cb) => (callbacks.LCP = cb), onCLS: (cb) => (callbacks.CLS = cb),
      onINP: (cb) => (callbacks.INP = cb) };
  }

  it("reports each metric as __perf, and flushes when it arrives on a hidden page", () => {
    const lib = fakeLib();
    const t = vitalsCtx({ lib });
    const stop = captureWebVitals(t.ctx);
    lib.callbacks.LCP({ name: "LCP", value: 900, rating: "good" });
    assert.deepEqual(t.emitted, [{ tag: "__perf", payload: { metric: "LCP", value: 900, rating: "good" } }]);
    assert.equal(t.flushes(), 0);
    t.doc.visibilityState = "hidden";
    lib.callbacks.CLS({ name: "CLS", value: 0.31, rating: "poor" });
    assert.equal(t.flushes(), 1);
    stop();
    lib.callbacks.INP({ name: "INP", value: 80, rating: "good" });
    assert.equal(t.emitted.length, 2, "nothing after teardown");
  });

  it("loads the separate vitals asset on demand and attaches once it ran", () => {
    const t = vitalsCtx();
    captureWebVitals(t.ctx);
    assert.equal(t.appended.length, 1);
    const script = t.appended[0];
    assert.equal(script.src, "/sentiero/assets/vitals-TEST.js");
    assert.equal(script.async, true);
    const lib = fakeLib();
    t.win[VITALS_GLOBAL] = lib;
    script.listeners.load();
    lib.callbacks.INP({ name: "INP", value: 120, rating: "good" });
    assert.equal(t.emitted[0].payload.metric, "INP");
  });

  it("warns and stays off when the asset is missing or fails to load", () => {
    const t = vitalsCtx();
    delete t.ctx.vitalsUrl; // running from source: no built file name
    captureWebVitals(t.ctx);
    assert.equal(t.appended.length, 0);
    assert.ok(t.warnings.some((w) => w.includes("captureWebVitals off")));
    const u = vitalsCtx();
    captureWebVitals(u.ctx);
    u.appended[0].listeners.error();
    assert.ok(u.warnings.some((w) => w.includes("could not load")));
  });
});
