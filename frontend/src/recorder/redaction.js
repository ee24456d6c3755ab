// Client-side redaction: the same rules as src/sentiero/privacy/redaction.py, run on every event
// before it leaves the browser. Configured by the server's `redaction` config key
// (RedactionConfig.to_client()): {urlMode, urlParamAllowlist, urlParamDenylist,
// disabledPatterns, customPatterns, scanDom}. The server redacts again on ingest, so a redaction the
// browser cannot run is a lost event, never a leak: redactEvent returns null on any failure.
//
//   const r = createRedactor(config.redaction);
//   r.redactText(s); r.redactUrl(u); r.redactValue(v); r.redactMetadata(m);
//   r.redactEvent(event)  // -> redacted copy, or null to drop it
//
// DOM events (full snapshots, mutations, input): with scanDom (the default) page text and
// URL-bearing attributes are redacted by redaction-dom.js, as the server does again.

import { createDomRules } from "./redaction-dom.js";
import { BUILTIN_PATTERNS, REDACTED, luhnValid, ordered, redactWith } from "./redaction-patterns.js";
import { DEFAULT_PARAM_DENYLIST, URL_MODES, redactUrlWith } from "./redaction-url.js";

export { BUILTIN_PATTERNS, DEFAULT_PARAM_DENYLIST, REDACTED, URL_MODES, luhnValid };

/** Custom-event payload fields that are a URL or plain text, by tag. */
export const STRUCTURAL_MAP = Object.freeze({
  navigation: { url: "url", text: "text" },
  __form_submit: { url: "url" },
  error: { message: "text", stack: "text", source: "url" },
  __click: { selector: "text" },
});

export const METADATA_URL_KEYS = Object.freeze(["url", "referrer", "entry_url", "entry_referrer"]);

const MAX_DEPTH = 200;
const hasOwn = (obj, key) => Object.prototype.hasOwnProperty.call(obj, key);
const isPlainObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);

// Assign as an own property even for "__proto__" (JSON.parse makes such keys own properties).
function put(obj, key, value) {
  if (key === "__proto__") {
    Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    obj[key] = value;
  }
}

function stringList(value) {
  return Array.isArray(value) ? value.filter((v) => typeof v === "string") : [];
}

function defaultWarn(...args) {
  if (typeof console !== "undefined" && console.warn) console.warn(...args);
}

function compileCustom(sources, warn) {
  const out = [];
  for (const source of stringList(sources)) {
    let re;
    try {
      re = new RegExp(source, "g");
    } catch (err) {
      warn("Sentiero: redaction custom pattern skipped, invalid regex", source, err);
      continue;
    }
    if (re.test("")) {
      warn("Sentiero: redaction custom pattern skipped, it matches the empty string", source);
      continue;
    }
    re.lastIndex = 0;
    out.push(re);
  }
  return out;
}

/** Normalize a client redaction config (unknown values fall back to the safe defaults). */
export function normalizeConfig(config, warn = defaultWarn) {
  const src = isPlainObject(config) ? config : {};
  let urlMode = src.urlMode === undefined ? "strip" : src.urlMode;
  if (!URL_MODES.includes(urlMode)) {
    warn("Sentiero: unknown redaction urlMode, using strip", urlMode);
    urlMode = "strip";
  }
  return {
    urlMode,
    urlParamAllowlist: stringList(src.urlParamAllowlist).map((n) => n.toLowerCase()),
    urlParamDenylist: stringList(src.urlParamDenylist).map((n) => n.toLowerCase()),
    disabledPatterns: ordered(stringList(src.disabledPatterns)),
    customPatterns: stringList(src.customPatterns),
    scanDom: src.scanDom !== false,
  };
}

export function createRedactor(config, { warn = defaultWarn } = {}) {
  const cfg = normalizeConfig(config, warn);
  const disabled = new Set(cfg.disabledPatterns);
  const textPatterns = BUILTIN_PATTERNS.filter((name) => !disabled.has(name));
  const custom = compileCustom(cfg.customPatterns, warn);
  const allow = new Set(cfg.urlParamAllowlist);
  const deny = new Set([...DEFAULT_PARAM_DENYLIST, ...cfg.urlParamDenylist]);

  const redactText = (text) => redactWith(text, textPatterns, custom);

  function deep(value, depth) {
    if (typeof value === "string") return redactText(value);
    if (value === null || typeof value !== "object") return value;
    if (depth >= MAX_DEPTH) throw new Error("value nested too deeply to redact");
    if (Array.isArray(value)) return value.map((v) => deep(v, depth + 1));
    const out = {};
    for (const key of Object.keys(value)) put(out, redactText(key), deep(value[key], depth + 1));
    return out;
  }

  const redactValue = (value) => deep(value, 0);

  function redactUrl(url) {
    if (typeof url !== "string") return redactValue(url);
    return redactUrlWith(url, cfg.urlMode, redactText, allow, deny);
  }

  const dom = cfg.scanDom ? createDomRules(redactText, redactUrl) : null;

  function redactMetadata(metadata) {
    if (!isPlainObject(metadata)) return redactValue(metadata);
    const out = {};
    for (const key of Object.keys(metadata)) {
      put(out, key, METADATA_URL_KEYS.includes(key) ? redactUrl(metadata[key]) : deep(metadata[key], 1));
    }
    return out;
  }

  function redactPayload(payload, fields) {
    const out = {};
    for (const key of Object.keys(payload)) {
      const kind = hasOwn(fields, key) ? fields[key] : null;
      const value = payload[key];
      if (kind === "url" && typeof value === "string") put(out, key, redactUrl(value));
      else if (kind === "text" && typeof value === "string") put(out, key, redactText(value));
      else put(out, redactText(key), deep(value, 2));
    }
    return out;
  }

  function redactCustom(data) {
    const tag = data.tag;
    const fields = typeof tag === "string" && hasOwn(STRUCTURAL_MAP, tag) ? STRUCTURAL_MAP[tag] : {};
    const out = {};
    for (const key of Object.keys(data)) {
      if (key === "tag") put(out, key, data[key]);
      else if (key === "payload" && isPlainObject(data[key])) put(out, key, redactPayload(data[key], fields));
      else put(out, key, deep(data[key], 1));
    }
    return out;
  }

  function redactEventUnsafe(event) {
    if (!isPlainObject(event)) throw new TypeError("event is not an object");
    const { type, data } = event;
    if (type === 2 || type === 3) return dom ? dom.redactEvent(event) : event;
    if (type === 4 && isPlainObject(data)) {
      const out = {};
      for (const key of Object.keys(data)) {
        put(out, key, key === "href" ? redactUrl(data[key]) : deep(data[key], 1));
      }
      return { ...event, data: out };
    }
    if (type === 5 && isPlainObject(data)) return { ...event, data: redactCustom(data) };
    if (!hasOwn(event, "data")) return event;
    return { ...event, data: deep(data, 1) };
  }

  function redactEvent(event) {
    try {
      return redactEventUnsafe(event);
    } catch (err) {
      warn("Sentiero: event dropped, redaction failed", err && err.name);
      return null;
    }
  }

  return {
    config: cfg,
    redactText,
    redactUrl,
    redactValue,
    redactMetadata,
    redactEvent,
  };
}
