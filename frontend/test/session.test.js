import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { normalizeConfig } from "../src/recorder/config.js";
import { isValidId, newId } from "../src/recorder/ids.js";
import {
  KEYS,
  clearClientStorage,
  resolveIdentity,
  touchLastSeen,
} from "../src/recorder/session.js";
import { openStorage, wrapStorage } from "../src/recorder/storage.js";
import { MemoryStorage, throwingStorage } from "./support/fakes.js";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const NOW = 1_700_000_000_000;

let counter = 0;
const mint = () => "id-" + ++counter;

function resolve(opts = {}) {
  const localRaw = opts.localRaw || new MemoryStorage();
  const sessionRaw = opts.sessionRaw || new MemoryStorage();
  const local = opts.noStorage ? null : wrapStorage(localRaw);
  const session = opts.noStorage ? null : wrapStorage(sessionRaw);
  const identity = resolveIdentity({
    config: normalizeConfig(Object.assign({ eventsUrl: "/e" }, opts.config)),
    local,
    session,
    now: opts.now || NOW,
    newId: mint,
    href: opts.href || "https://shop.example/landing?utm=x&token=secret#frag",
    referrer: opts.referrer === undefined ? "https://ref.example/page?q=1" : opts.referrer,
  });
  return { identity, localRaw, sessionRaw };
}

function seeded(values) {
  return new MemoryStorage(values);
}

describe("session identity", () => {
  it("mints a session in localStorage and a window in sessionStorage", () => {
    const { identity, localRaw, sessionRaw } = resolve();
    assert.equal(identity.rotated, true);
    assert.equal(localRaw.getItem(KEYS.sessionId), identity.sessionId);
    assert.equal(localRaw.getItem(KEYS.createdAt), String(NOW));
    assert.equal(localRaw.getItem(KEYS.lastSeen), String(NOW));
    assert.equal(sessionRaw.getItem(KEYS.windowId), identity.windowId);
    assert.equal(sessionRaw.getItem(KEYS.sessionId), null);
  });

  it("keeps the session across pages within the idle timeout and refreshes last_seen", () => {
    const localRaw = seeded({
      [KEYS.sessionId]: "keep-me",
      [KEYS.createdAt]: String(NOW - 2 * DAY),
      [KEYS.lastSeen]: String(NOW - 6 * HOUR), // exactly the timeout: still the same session
    });
    const sessionRaw = seeded({ [KEYS.windowId]: "win-1" });
    const { identity } = resolve({ localRaw, sessionRaw });
    assert.equal(identity.sessionId, "keep-me");
    assert.equal(identity.windowId, "win-1");
    assert.equal(identity.rotated, false);
    assert.equal(localRaw.getItem(KEYS.lastSeen), String(NOW));
  });

  it("rotates after the idle timeout", () => {
    const localRaw = seeded({
      [KEYS.sessionId]: "old",
      [KEYS.createdAt]: String(NOW - HOUR * 7),
      [KEYS.lastSeen]: String(NOW - 6 * HOUR - 1),
      [KEYS.entryUrl]: "https://shop.example/old",
    });
    const { identity } = resolve({ localRaw });
    assert.notEqual(identity.sessionId, "old");
    assert.equal(identity.rotated, true);
    assert.equal(localRaw.getItem(KEYS.createdAt), String(NOW));
    assert.equal(identity.entryUrl, "https://shop.example/landing", "entry reset on rotation");
  });

  it("rotates after the max age even when active", () => {
    const localRaw = seeded({
      [KEYS.sessionId]: "old",
      [KEYS.createdAt]: String(NOW - 7 * DAY - 1),
      [KEYS.lastSeen]: String(NOW - 1000),
    });
    assert.notEqual(resolve({ localRaw }).identity.sessionId, "old");
  });

  it("honours configured timeouts", () => {
    const localRaw = seeded({
      [KEYS.sessionId]: "old",
      [KEYS.createdAt]: String(NOW - 5000),
      [KEYS.lastSeen]: String(NOW - 2000),
    });
    const { identity } = resolve({ localRaw, config: { sessionIdleTimeoutMs: 1000 } });
    assert.notEqual(identity.sessionId, "old");
  });

  it("rotates on corrupt or missing values", () => {
    const good = { [KEYS.sessionId]: "old", [KEYS.createdAt]: String(NOW - 1000),
      [KEYS.lastSeen]: String(NOW - 1000) };
    const cases = [
      { [KEYS.createdAt]: "abc" },
      { [KEYS.createdAt]: "0" },
      { [KEYS.lastSeen]: "-5" },
      { [KEYS.lastSeen]: "NaN" },
      { [KEYS.lastSeen]: "Infinity" },
      { [KEYS.createdAt]: "" },
      { [KEYS.sessionId]: "bad id with spaces" },
      { [KEYS.sessionId]: "x".repeat(129) },
    ];
    for (const patch of cases) {
      const { identity } = resolve({ localRaw: seeded(Object.assign({}, good, patch)) });
      assert.notEqual(identity.sessionId, "old", JSON.stringify(patch));
      assert.equal(identity.rotated, true);
    }
    const missing = Object.assign({}, good);
    delete missing[KEYS.lastSeen];
    assert.notEqual(resolve({ localRaw: seeded(missing) }).identity.sessionId, "old");
  });

  it("replaces a corrupt window id", () => {
    const sessionRaw = seeded({ [KEYS.windowId]: "<script>" });
    const { identity } = resolve({ sessionRaw });
    assert.ok(isValidId(identity.windowId));
    assert.equal(sessionRaw.getItem(KEYS.windowId), identity.windowId);
  });

  it("keeps the session per tab in sessionStorage when crossTabSessions is off", () => {
    const { identity, localRaw, sessionRaw } = resolve({ config: { crossTabSessions: false } });
    assert.equal(sessionRaw.getItem(KEYS.sessionId), identity.sessionId);
    assert.equal(localRaw.getItem(KEYS.sessionId), null);
  });

  it("falls back to page-lifetime ids when storage is unusable", () => {
    const { identity } = resolve({ noStorage: true });
    assert.ok(identity.sessionId && identity.windowId);
    assert.equal(identity.persisted, false);
    assert.equal(openStorage({ localStorage: throwingStorage }, "localStorage"), null);
    assert.equal(openStorage({ get localStorage() { throw new Error("denied"); } }, "localStorage"), null);
  });

  it("stores the entry page as origin + path, immutable for the session", () => {
    const localRaw = new MemoryStorage();
    const first = resolve({ localRaw }).identity;
    assert.equal(first.entryUrl, "https://shop.example/landing");
    assert.equal(first.entryReferrer, "https://ref.example/page");
    const second = resolve({ localRaw, href: "https://shop.example/next?a=1", referrer: "" }).identity;
    assert.equal(second.entryUrl, "https://shop.example/landing");
    assert.equal(second.entryReferrer, "https://ref.example/page");
  });

  it("touchLastSeen and clearClientStorage", () => {
    const localRaw = new MemoryStorage();
    const sessionRaw = new MemoryStorage({ "sentiero_seq:w": "4" });
    const local = wrapStorage(localRaw);
    const session = wrapStorage(sessionRaw);
    const config = normalizeConfig({ eventsUrl: "/e" });
    resolveIdentity({ config, local, session, now: NOW, newId: mint, href: "", referrer: "" });
    touchLastSeen(config, local, session, NOW + 5);
    assert.equal(localRaw.getItem(KEYS.lastSeen), String(NOW + 5));
    clearClientStorage(local, session, "w");
    assert.equal(localRaw.length, 0);
    assert.equal(sessionRaw.length, 0);
  });
});

describe("ids", () => {
  const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

  it("uses crypto.randomUUID when present", () => {
    assert.equal(newId({ randomUUID: () => "from-crypto" }), "from-crypto");
  });

  it("formats a v4 UUID itself outside secure contexts", () => {
    const viaRandomValues = newId({ getRandomValues: (a) => globalThis.crypto.getRandomValues(a) });
    const viaMath = newId(undefined);
    const throwing = newId({ randomUUID() { throw new Error("insecure"); } });
    for (const id of [viaRandomValues, viaMath, throwing]) {
      assert.match(id, UUID);
      assert.ok(isValidId(id));
    }
    assert.notEqual(newId(undefined), newId(undefined));
  });
});
