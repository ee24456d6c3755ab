// The recorder's redaction engine against the case table the server runs too
// (tests/fixtures/redaction_cases.json; Python side: tests/privacy/test_redaction_cases.py).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import {
  BUILTIN_PATTERNS,
  REDACTED,
  createRedactor,
  luhnValid,
  normalizeConfig,
} from "../src/recorder/redaction.js";

const TABLE = new URL("../../tests/fixtures/redaction_cases.json", import.meta.url);
const { cases } = JSON.parse(readFileSync(TABLE, "utf8"));

const CLIENT_URL_MODES = { strip: "strip", keep_filtered: "keepFiltered", keep_all: "keepAll" };

// Mirror of RedactionConfig.to_client(): the table speaks the server's option names.
function toClient(cfg) {
  return {
    urlMode: CLIENT_URL_MODES[cfg.url_mode || "strip"],
    urlParamAllowlist: (cfg.url_param_allowlist || []).map((s) => s.toLowerCase()),
    urlParamDenylist: (cfg.url_param_denylist || []).map((s) => s.toLowerCase()),
    disabledPatterns: BUILTIN_PATTERNS.filter((p) => (cfg.disabled_patterns || []).includes(p)),
    customPatterns: cfg.custom_patterns || [],
    scanDom: cfg.scan_dom !== false,
  };
}

const silent = { warn: () => {} };

test("the table is big enough and covers every kind", () => {
  assert.ok(cases.length >= 40);
  assert.deepEqual(new Set(cases.map((c) => c.kind)), new Set(["text", "url", "event", "metadata"]));
});

for (const c of cases) {
  test(`case: ${c.name}`, () => {
    const r = createRedactor(toClient(c.config), silent);
    const run = {
      text: r.redactText,
      url: r.redactUrl,
      event: r.redactEvent,
      metadata: r.redactMetadata,
    }[c.kind];
    const before = JSON.stringify(c.input);
    if (c.server_only) {
      // server-only options: the recorder passes these events through.
      assert.deepEqual(run(c.input), c.input);
      return;
    }
    assert.deepEqual(run(c.input), c.expected);
    assert.equal(JSON.stringify(c.input), before, "input was mutated");
    assert.deepEqual(run(c.expected), c.expected, "redacting twice changes nothing more");
  });
}

test("to_client shape is what the recorder reads", () => {
  const client = toClient({
    url_mode: "keep_filtered",
    url_param_allowlist: ["Q"],
    url_param_denylist: ["utm"],
    disabled_patterns: ["card", "email"],
    custom_patterns: ["x+"],
    scan_dom: false,
  });
  // Same literal as tests/privacy/test_redaction_config.py::test_to_client
  assert.deepEqual(client, {
    urlMode: "keepFiltered",
    urlParamAllowlist: ["q"],
    urlParamDenylist: ["utm"],
    disabledPatterns: ["email", "card"],
    customPatterns: ["x+"],
    scanDom: false,
  });
  assert.deepEqual(normalizeConfig(client, silent.warn), client);
});

test("invalid custom patterns are skipped with a warning, the rest still apply", () => {
  const warnings = [];
  const r = createRedactor(
    { customPatterns: ["(unclosed", "a*", "SECRET-[0-9]+"] },
    { warn: (...args) => warnings.push(args) },
  );
  assert.equal(r.redactText("x SECRET-42 a@b.com"), "x [redacted] [redacted]");
  assert.equal(warnings.length, 2);
});

test("unknown url modes and junk config fall back to safe defaults", () => {
  const r = createRedactor({ urlMode: "bogus", disabledPatterns: ["nope", 3] }, silent);
  assert.equal(r.config.urlMode, "strip");
  assert.deepEqual(r.config.disabledPatterns, []);
  assert.equal(r.redactUrl("https://a.io/?token=1"), "https://a.io/");
  assert.equal(createRedactor(undefined, silent).redactText("a@b.com"), REDACTED);
});

test("events that cannot be redacted are dropped", () => {
  const r = createRedactor({}, silent);
  assert.equal(r.redactEvent(null), null);
  assert.equal(r.redactEvent("x"), null);
  let deep = "a@b.com";
  for (let i = 0; i < 500; i += 1) deep = [deep];
  assert.equal(r.redactEvent({ type: 5, data: { tag: "t", payload: { deep } } }), null);
});

test("__proto__ keys stay own data", () => {
  const r = createRedactor({}, silent);
  const event = JSON.parse('{"type":5,"data":{"tag":"t","payload":{"__proto__":{"e":"a@b.com"}}}}');
  const out = r.redactEvent(event);
  assert.deepEqual(Object.keys(out.data.payload), ["__proto__"]);
  assert.equal(Object.getPrototypeOf(out.data.payload), Object.prototype);
  assert.equal(out.data.payload["__proto__"].e, REDACTED);
});

test("Luhn", () => {
  assert.ok(luhnValid("4111111111111111"));
  assert.ok(luhnValid("378282246310005"));
  assert.ok(!luhnValid("4111111111111112"));
});

// Linear time: 100 KB of the worst inputs we know for each pattern, well under a second.
const ADVERSARIAL = {
  email: "a".repeat(50_000) + "@" + "b".repeat(50_000),
  "email dots": "a@" + "a.".repeat(50_000),
  "many ats": "a@".repeat(50_000),
  jwt: "eyJ".repeat(34_000),
  "jwt dots": ("eyJa" + ".").repeat(20_000),
  url: "http://".repeat(15_000),
  hex: ("a".repeat(31) + "g").repeat(3_200),
  card: "1 ".repeat(50_000),
  "card hyphens": "4-".repeat(50_000),
  digits: "1".repeat(100_000),
  bearer: "Bearer ".repeat(15_000),
  "bearer spaces": "bearer" + " ".repeat(100_000),
  "percent url": "https://a.io/?" + "q=%".repeat(30_000),
};

for (const [name, text] of Object.entries(ADVERSARIAL)) {
  test(`linear time: ${name}`, () => {
    const r = createRedactor({ urlMode: "keepFiltered" }, silent);
    const start = performance.now();
    r.redactText(text);
    r.redactUrl(text);
    const elapsed = performance.now() - start;
    assert.ok(elapsed < 1000, `${name}: ${elapsed.toFixed(0)} ms`);
  });
}

test("DOM events: rrweb's serialized nodes are never modified, only changed parts are copied", () => {
  const r = createRedactor({});
  const clean = { type: 3, textContent: "Total 12.50 EUR", id: 5 };
  const leaky = { type: 3, textContent: "mail ada@example.com", id: 6 };
  const cell = { type: 2, tagName: "td", attributes: { class: "c" }, childNodes: [clean], id: 4 };
  const row = { type: 2, tagName: "tr", attributes: {}, childNodes: [cell, leaky], id: 3 };
  const snapshot = { type: 2, data: { node: row, initialOffset: { top: 0, left: 0 } } };
  const before = structuredClone(snapshot);

  const out = r.redactEvent(snapshot);
  assert.deepEqual(snapshot, before);
  assert.equal(out.data.node.childNodes[1].textContent, "mail " + REDACTED);
  assert.equal(out.data.node.childNodes[0], cell);
  assert.equal(JSON.stringify(out).includes("ada@example.com"), false);

  const mutation = { type: 3, data: { source: 0, texts: [], attributes: [], removes: [],
    adds: [{ parentId: 3, nextId: null, node: clean }] } };
  assert.equal(r.redactEvent(mutation), mutation);
  const leakyAdd = { ...mutation, data: { ...mutation.data,
    adds: [{ parentId: 3, nextId: null, node: leaky }] } };
  const copy = r.redactEvent(leakyAdd);
  assert.equal(copy.data.adds[0].node.textContent, "mail " + REDACTED);
  assert.equal(leaky.textContent, "mail ada@example.com");
});
