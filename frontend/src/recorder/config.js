// Recorder configuration: read from the JSON island the server renders, or derived from the
// recorder's own URL when a site only adds `<script src=".../sentiero/recorder.js">`.

export const CONFIG_ELEMENT_ID = "sentiero-config";

export const DEFAULTS = Object.freeze({
  flushIntervalMs: 10000,
  flushEventThreshold: 50,
  crossTabSessions: true,
  sessionIdleTimeoutMs: 6 * 60 * 60 * 1000, // 21,600,000
  sessionMaxAgeMs: 7 * 24 * 60 * 60 * 1000, // 604,800,000
  respectGpc: true,
});

/** Opt-out signal name used when the server did not send one (user_opt_out off). */
export const DEFAULT_OPT_OUT_NAME = "sentiero_optout";

/** Flags of the capture features in the lazy `recorder.features` chunk (features/index.js). */
export const FEATURE_FLAGS = Object.freeze([
  "captureMetadata",
  "captureErrors",
  "trackNavigation",
  "trackCustomEvents",
  "captureClicks",
  "trackForms",
  "captureWebVitals",
]);

/**
 * The events endpoint that sits beside a recorder script URL:
 * `/sentiero/assets/recorder-X.js` and `/sentiero/recorder.js` both give `/sentiero/events`.
 * Query and fragment are dropped. Returns null for an unusable src.
 */
export function deriveEventsUrl(src) {
  if (typeof src !== "string" || !src) return null;
  let url;
  try {
    url = new URL(src);
  } catch (_err) {
    return null;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return null;
  const segments = url.pathname.split("/");
  segments.pop(); // the script file name
  if (segments[segments.length - 1] === "assets") segments.pop();
  segments.push("events");
  return url.origin + segments.join("/");
}

/**
 * `url` with its last path segment replaced by `name` (query and fragment dropped):
 * `siblingUrl("/sentiero/events", "opt-out")` is `/sentiero/opt-out`. Works on absolute and
 * relative URLs alike, without a URL parser (relative ones have no base here).
 */
export function siblingUrl(url, name) {
  if (typeof url !== "string" || !url) return null;
  const end = url.search(/[?#]/);
  const path = end === -1 ? url : url.slice(0, end);
  const slash = path.lastIndexOf("/");
  return (slash === -1 ? "" : path.slice(0, slash + 1)) + name;
}

/**
 * Parse the config island. Returns `{found: false}` when the element is absent,
 * `{found: true, config: null}` when it is present but not a JSON object (the recorder then
 * stays off rather than guessing), `{found: true, config: {...}}` otherwise.
 */
export function readConfigElement(doc) {
  const el = doc && typeof doc.getElementById === "function"
    ? doc.getElementById(CONFIG_ELEMENT_ID)
    : null;
  if (!el) return { found: false, config: null };
  try {
    const parsed = JSON.parse(el.textContent || "");
    if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) {
      return { found: true, config: parsed };
    }
  } catch (_err) {
    // reported below
  }
  return { found: true, config: null, invalid: true };
}

function positiveNumber(value, fallback) {
  return typeof value === "number" && Number.isFinite(value) && value > 0 ? value : fallback;
}

function plainObject(value) {
  return value && typeof value === "object" && !Array.isArray(value) ? value : null;
}

/**
 * Fill defaults and drop invalid values. `eventsUrl` is null when missing (recording off).
 * `respectGpc` defaults to true: a hand-written config that omits it still honours GPC
 * (the original defaulted to false here, inventory §11 item 13).
 */
export function normalizeConfig(raw) {
  const src = plainObject(raw) || {};
  const config = {
    eventsUrl: typeof src.eventsUrl === "string" && src.eventsUrl ? src.eventsUrl : null,
    flushIntervalMs: positiveNumber(src.flushIntervalMs, DEFAULTS.flushIntervalMs),
    flushEventThreshold: Math.max(
      1,
      Math.floor(positiveNumber(src.flushEventThreshold, DEFAULTS.flushEventThreshold)),
    ),
    crossTabSessions: src.crossTabSessions !== false,
    sessionIdleTimeoutMs: positiveNumber(src.sessionIdleTimeoutMs, DEFAULTS.sessionIdleTimeoutMs),
    sessionMaxAgeMs: positiveNumber(src.sessionMaxAgeMs, DEFAULTS.sessionMaxAgeMs),
    respectGpc: src.respectGpc !== false,
    recorderOptions: plainObject(src.recorderOptions) || {},
    optOutCookieName:
      typeof src.optOutCookieName === "string" && src.optOutCookieName
        ? src.optOutCookieName
        : null,
    redaction: plainObject(src.redaction),
  };
  for (const flag of FEATURE_FLAGS) config[flag] = src[flag] === true;
  return config;
}

/**
 * The effective config for this page, or null when there is none (both warned about, as is a
 * config without eventsUrl, which leaves recording off).
 * `scriptSrc` is `document.currentScript.src`, captured while the recorder script runs.
 */
export function loadConfig(doc, scriptSrc, warn = () => {}) {
  const island = readConfigElement(doc);
  const eventsUrl = island.found ? null : deriveEventsUrl(scriptSrc);
  if (island.found ? !island.config : !eventsUrl) {
    warn(island.found ? "Sentiero: #sentiero-config is not a JSON object; not recording"
      : "Sentiero: no config found (#sentiero-config or a recorder script URL); not recording");
    return null;
  }
  const config = normalizeConfig(island.config || { eventsUrl });
  if (!config.eventsUrl) warn("Sentiero: config has no eventsUrl; not recording");
  return config;
}
