// Test doubles for the browser objects the recorder touches: timers with a manual clock,
// Web Storage, a cookie jar document, fetch and sendBeacon recorders.

import { gunzipSync, gzipSync } from "node:zlib";

export class FakeClock {
  constructor(start = 1_700_000_000_000) {
    this.now = start;
    this.nextId = 1;
    this.timers = new Map();
    this.timers_ = {
      setTimeout: (fn, ms) => this.add(fn, ms, false),
      clearTimeout: (id) => this.timers.delete(id),
      setInterval: (fn, ms) => this.add(fn, ms, true),
      clearInterval: (id) => this.timers.delete(id),
    };
  }

  add(fn, ms, repeat) {
    const id = this.nextId++;
    this.timers.set(id, { fn, at: this.now + Math.max(0, ms || 0), every: ms, repeat });
    return id;
  }

  pendingDelays() {
    return [...this.timers.values()].filter((t) => !t.repeat).map((t) => t.at - this.now);
  }

  /** Advance time, firing due timers in order and letting promises settle in between. */
  async advance(ms) {
    const end = this.now + ms;
    await settle();
    for (;;) {
      let nextId = null;
      let next = null;
      for (const [id, timer] of this.timers) {
        if (timer.at <= end && (!next || timer.at < next.at)) {
          next = timer;
          nextId = id;
        }
      }
      if (!next) break;
      this.now = next.at;
      if (next.repeat) next.at += next.every;
      else this.timers.delete(nextId);
      next.fn();
      await settle();
    }
    this.now = end;
    await settle();
  }
}

/** Let pending promise chains (including zlib-backed ones) run. */
export async function settle(rounds = 5) {
  for (let i = 0; i < rounds; i++) await new Promise((resolve) => setImmediate(resolve));
}

export class MemoryStorage {
  constructor(initial = {}) {
    this.map = new Map(Object.entries(initial));
  }
  getItem(key) {
    return this.map.has(key) ? this.map.get(key) : null;
  }
  setItem(key, value) {
    this.map.set(key, String(value));
  }
  removeItem(key) {
    this.map.delete(key);
  }
  get length() {
    return this.map.size;
  }
}

/** A storage whose every access throws, as in sandboxed iframes. */
export const throwingStorage = {
  getItem() {
    throw new Error("SecurityError");
  },
  setItem() {
    throw new Error("SecurityError");
  },
  removeItem() {
    throw new Error("SecurityError");
  },
};

/** document.cookie semantics good enough for our writes: name=value; attrs; max-age=0 deletes. */
export class CookieDocument {
  constructor({ protocol = "https:", cookies = {}, elements = {} } = {}) {
    this.jar = new Map(Object.entries(cookies));
    this.writes = [];
    this.location = { protocol, href: protocol + "//shop.example/cart?x=1#f" };
    this.elements = elements;
    this.listeners = {};
    this.visibilityState = "visible";
    this.referrer = "https://search.example/q?term=secret";
    this.readyState = "complete";
  }
  get cookie() {
    return [...this.jar].map(([k, v]) => k + "=" + v).join("; ");
  }
  set cookie(value) {
    this.writes.push(value);
    const [pair, ...attrs] = value.split(";").map((s) => s.trim());
    const eq = pair.indexOf("=");
    const name = pair.slice(0, eq);
    const maxAge = attrs.find((a) => a.toLowerCase().startsWith("max-age="));
    if (maxAge && Number(maxAge.split("=")[1]) <= 0) this.jar.delete(name);
    else this.jar.set(name, pair.slice(eq + 1));
  }
  getElementById(id) {
    return this.elements[id] || null;
  }
  addEventListener(type, fn) {
    (this.listeners[type] ||= []).push(fn);
  }
  removeEventListener(type, fn) {
    this.listeners[type] = (this.listeners[type] || []).filter((f) => f !== fn);
  }
  dispatch(type, event = {}) {
    for (const fn of this.listeners[type] || []) fn(event);
  }
}

export class FakeWindow {
  constructor({ local = new MemoryStorage(), session = new MemoryStorage(), href } = {}) {
    this.localStorage = local;
    this.sessionStorage = session;
    this.listeners = {};
    this.location = { href: href || "https://shop.example/cart?coupon=abc#top" };
    this.crypto = { randomUUID: () => cryptoRandomUUID() };
  }
  addEventListener(type, fn) {
    (this.listeners[type] ||= []).push(fn);
  }
  removeEventListener(type, fn) {
    this.listeners[type] = (this.listeners[type] || []).filter((f) => f !== fn);
  }
  dispatch(type, event = {}) {
    for (const fn of this.listeners[type] || []) fn(event);
  }
}

let uuidCounter = 0;
function cryptoRandomUUID() {
  uuidCounter++;
  return "00000000-0000-4000-8000-" + String(uuidCounter).padStart(12, "0");
}

/** Decode a request or beacon body (gzip bytes or a JSON string) into the payload object. */
export function decodeBody(body) {
  if (typeof body === "string") return JSON.parse(body);
  const bytes = Buffer.from(body);
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) return JSON.parse(gunzipSync(bytes).toString("utf8"));
  return JSON.parse(bytes.toString("utf8"));
}

/**
 * fetch double: every call is recorded and answered by `respond(call)`, which returns a status,
 * an Error (network failure) or a Promise of either (to hold a request in flight).
 */
export function makeFetch(respond = () => 200) {
  const calls = [];
  const fetch = (url, init) => {
    const call = { url, init, payload: decodeBody(init.body), body: init.body };
    calls.push(call);
    return Promise.resolve(respond(call, calls.length - 1)).then((outcome) => {
      if (outcome instanceof Error) throw outcome;
      return { status: outcome, ok: outcome >= 200 && outcome < 300 };
    });
  };
  return { fetch, calls };
}

/** sendBeacon double storing blobs as {type, bytes}. */
export function makeBeacon(accept = true) {
  const beacons = [];
  const sendBeacon = (url, blob) => {
    if (typeof blob === "string") {
      beacons.push({ url, blob, payload: JSON.parse(blob), size: Buffer.byteLength(blob) });
    } else {
      beacons.push({ url, blob, payload: decodeBody(blob.bytes), size: blob.bytes.length });
    }
    return accept;
  };
  const makeBlob = (parts, options) => {
    const bytes = Buffer.concat(parts.map((p) => (typeof p === "string" ? Buffer.from(p) : Buffer.from(p))));
    return { type: options && options.type, bytes, size: bytes.length };
  };
  return { sendBeacon, makeBlob, beacons };
}

/** Async gzip backed by zlib, like CompressionStream but deterministic. */
export async function fakeGzip(text) {
  await Promise.resolve();
  return new Uint8Array(gzipSync(Buffer.from(text, "utf8")));
}

export { gunzipSync, gzipSync };

/** A BroadcastChannel class whose instances talk to each other in this process only. */
export function makeBroadcastBus() {
  const members = new Set();
  return class FakeBroadcastChannel {
    constructor(name) {
      this.name = name;
      this.onmessage = null;
      members.add(this);
    }
    postMessage(data) {
      const copy = JSON.parse(JSON.stringify(data));
      for (const member of members) {
        if (member === this || member.name !== this.name) continue;
        queueMicrotask(() => member.onmessage && member.onmessage({ data: copy }));
      }
    }
    close() {
      members.delete(this);
    }
  };
}
