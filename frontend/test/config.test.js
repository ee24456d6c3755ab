import assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
  DEFAULTS,
  deriveEventsUrl,
  loadConfig,
  normalizeConfig,
  readConfigElement,
} from "../src/recorder/config.js";

function docWith(text) {
  return { getElementById: (id) => (id === "sentiero-config" && text != null ? { textContent: text } : null) };
}

describe("config from the script tag", () => {
  it("reads every contract field from #sentiero-config", () => {
    const raw = {
      eventsUrl: "/sentiero/events",
      flushIntervalMs: 5000,
      flushEventThreshold: 20,
      recorderOptions: { maskAllInputs: true, blockSelector: ".private" },
      crossTabSessions: false,
      sessionIdleTimeoutMs: 60000,
      sessionMaxAgeMs: 120000,
      respectGpc: false,
      captureErrors: true,
      optOutCookieName: "no_rec",
    };
    const config = loadConfig(docWith(JSON.stringify(raw)), "https://x.example/other.js");
    assert.equal(config.eventsUrl, "/sentiero/events");
    assert.equal(config.flushIntervalMs, 5000);
    assert.equal(config.flushEventThreshold, 20);
    assert.deepEqual(config.recorderOptions, raw.recorderOptions);
    assert.equal(config.crossTabSessions, false);
    assert.equal(config.sessionIdleTimeoutMs, 60000);
    assert.equal(config.sessionMaxAgeMs, 120000);
    assert.equal(config.respectGpc, false);
    assert.equal(config.captureErrors, true);
    assert.equal(config.captureMetadata, false);
    assert.equal(config.optOutCookieName, "no_rec");
  });

  it("fills defaults and replaces invalid values", () => {
    const config = normalizeConfig({
      eventsUrl: "/e",
      flushIntervalMs: -1,
      flushEventThreshold: "50",
      sessionIdleTimeoutMs: 0,
      sessionMaxAgeMs: Infinity,
      recorderOptions: [1],
    });
    assert.equal(config.flushIntervalMs, DEFAULTS.flushIntervalMs);
    assert.equal(config.flushEventThreshold, 50);
    assert.equal(config.sessionIdleTimeoutMs, 21_600_000);
    assert.equal(config.sessionMaxAgeMs, 604_800_000);
    assert.deepEqual(config.recorderOptions, {});
    assert.equal(config.crossTabSessions, true);
    assert.equal(config.respectGpc, true, "GPC honoured when the config omits respectGpc");
  });

  it("has no eventsUrl (recording off) when the config lacks one", () => {
    assert.equal(loadConfig(docWith("{}"), null).eventsUrl, null);
  });

  it("refuses a config island that is not a JSON object", () => {
    const warnings = [];
    for (const text of ["{nope", "[1,2]", "null", ""]) {
      assert.equal(loadConfig(docWith(text), "https://a.example/sentiero/recorder.js",
        (w) => warnings.push(w)), null, text);
    }
    assert.equal(warnings.length, 4);
    assert.equal(readConfigElement(docWith("[1]")).invalid, true);
  });
});

describe("config from the script URL", () => {
  it("derives eventsUrl beside the stable alias and the hashed asset", () => {
    assert.equal(deriveEventsUrl("https://app.example/sentiero/recorder.js"),
      "https://app.example/sentiero/events");
    assert.equal(deriveEventsUrl("https://app.example/sentiero/assets/recorder-AB12CD34.js"),
      "https://app.example/sentiero/events");
    assert.equal(deriveEventsUrl("https://rec.example:8443/a/b/recorder.js?v=3#x"),
      "https://rec.example:8443/a/b/events");
    assert.equal(deriveEventsUrl("https://app.example/recorder.js"), "https://app.example/events");
  });

  it("gives nothing for missing or unusable sources", () => {
    for (const src of [null, "", "not a url", "data:text/javascript,1", "blob:x"]) {
      assert.equal(deriveEventsUrl(src), null, String(src));
    }
  });

  it("is used only when there is no config island", () => {
    const config = loadConfig(docWith(null), "https://app.example/sentiero/assets/recorder-X.js");
    assert.equal(config.eventsUrl, "https://app.example/sentiero/events");
    assert.equal(config.flushEventThreshold, 50);
    assert.equal(config.respectGpc, true);
    assert.equal(loadConfig(docWith(null), null), null);
  });
});
