// captureMetadata: what is known about the page when it loads (inventory §2.12), handed to
// setMetadata as the recorder starts, so it rides the page's first batch (redacted there, URL
// keys by the URL rules; setMetadata() calls made later win key by key).

import { currentHref } from "./dom.js";

/** {url, referrer, userAgent, viewport, entry_url, entry_referrer}; never throws. */
export function collectMetadata(win, doc, identity) {
  const read = (fn, fallback) => {
    try {
      const value = fn();
      return value == null ? fallback : value;
    } catch (_err) {
      return fallback;
    }
  };
  const width = read(() => win.innerWidth, 0);
  const height = read(() => win.innerHeight, 0);
  return {
    url: currentHref(win, doc),
    referrer: String(read(() => doc.referrer, "")),
    userAgent: String(read(() => win.navigator.userAgent, "")),
    viewport: Math.round(Number(width) || 0) + "x" + Math.round(Number(height) || 0),
    entry_url: (identity && identity.entryUrl) || "",
    entry_referrer: (identity && identity.entryReferrer) || "",
  };
}

export function captureMetadata(ctx) {
  ctx.setMetadata(collectMetadata(ctx.window, ctx.document, ctx.identity));
}
