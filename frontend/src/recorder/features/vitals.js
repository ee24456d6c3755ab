// captureWebVitals: LCP, CLS and INP as `__perf` {metric, value, rating} (inventory §2.10),
// measured by the `web-vitals` package.
//
// web-vitals is not in the recorder bundle: it is a separate content-hashed asset
// (manifest name `vitals`, built from ../vitals-entry.js) that is only fetched by pages with
// captureWebVitals on. It registers its functions on window[VITALS_GLOBAL]. Its metrics use
// buffered performance entries, so loading it after the page costs no measurement.

import { assetUrl, loadScript } from "../chunks.js";

export const VITALS_GLOBAL = "__sentieroWebVitals";
export const METRICS = Object.freeze(["LCP", "CLS", "INP"]);

/* global __SENTIERO_VITALS_FILE__ */
/** The hashed file name, set by build.mjs (esbuild define); null when running from source. */
export const VITALS_FILE =
  typeof __SENTIERO_VITALS_FILE__ === "string" ? __SENTIERO_VITALS_FILE__ : null;

/** The vitals asset beside the events endpoint: `/sentiero/events` -> `/sentiero/assets/F`. */
export function vitalsUrl(eventsUrl, file = VITALS_FILE) {
  return assetUrl(eventsUrl, file);
}

/** The `__perf` payload of a web-vitals metric, or null for anything else. */
export function perfPayload(metric) {
  if (!metric || !METRICS.includes(metric.name)) return null;
  const value = Number(metric.value);
  if (!Number.isFinite(value)) return null;
  const payload = { metric: metric.name, value };
  if (typeof metric.rating === "string") payload.rating = metric.rating;
  return payload;
}

export function captureWebVitals(ctx) {
  const win = ctx.window;
  const doc = ctx.document;
  const warn = ctx.warn || (() => {});
  let active = true;

  const report = (metric) => {
    if (!active) return;
    const payload = perfPayload(metric);
    if (!payload) return;
    ctx.addCustomEvent("__perf", payload);
    // CLS and INP are final only when the page is hidden, after our own hidden flush ran.
    if (doc.visibilityState === "hidden" && ctx.flushIfHidden) ctx.flushIfHidden();
  };
  const attach = (lib) => {
    if (!active) return;
    if (!lib || typeof lib.onLCP !== "function") {
      warn("Sentiero: web vitals library unavailable; captureWebVitals off");
      return;
    }
    lib.onLCP(report);
    lib.onCLS(report);
    lib.onINP(report);
  };

  if (win[VITALS_GLOBAL]) {
    attach(win[VITALS_GLOBAL]);
  } else {
    const src = ctx.vitalsUrl || vitalsUrl(ctx.config.eventsUrl);
    if (!src) {
      warn("Sentiero: no web vitals asset in this build; captureWebVitals off");
    } else {
      loadScript(
        doc,
        src,
        () => attach(win[VITALS_GLOBAL]),
        () => warn("Sentiero: could not load " + src + "; captureWebVitals off"),
      );
    }
  }
  // web-vitals has no unsubscribe: a stopped recording just ignores later reports.
  return () => {
    active = false;
  };
}
