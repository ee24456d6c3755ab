// trackNavigation: link clicks as `navigation` custom events {url, text?, external?}
// (inventory §2.10). The url is redacted by the transport (structural map: url -> URL rules).

import { isTextHidden } from "../masking.js";
import { attr, closest, currentHref, listen } from "./dom.js";

export const MAX_LINK_TEXT = 100;

function parse(href, base) {
  try {
    return base ? new URL(href, base) : new URL(href);
  } catch (_err) {
    return null;
  }
}

/** Trimmed, whitespace-collapsed link text cut to MAX_LINK_TEXT characters. */
export function linkText(anchor) {
  const raw = anchor && typeof anchor.textContent === "string" ? anchor.textContent : "";
  return raw.replace(/\s+/g, " ").trim().slice(0, MAX_LINK_TEXT);
}

/**
 * The payload for a click on `anchor` while the page is at `pageHref`, or null when the link
 * is not a navigation: no href, `javascript:`, a bare `#`, or an in-page anchor (same origin
 * and path with a fragment). `hideText` drops the text (the recording masks or blocks it).
 */
export function navigationPayload(anchor, pageHref, hideText) {
  const raw = attr(anchor, "href");
  if (raw == null) return null;
  const href = raw.trim();
  if (href === "#" || /^javascript:/i.test(href.replace(/[\s\u0000-\u001f]/g, ""))) return null;
  const resolved = typeof anchor.href === "string" && anchor.href ? anchor.href : href;
  const page = parse(pageHref);
  const url = parse(resolved, page ? page.href : undefined);
  if (!url) return null;
  const sameOrigin = !!page && url.origin === page.origin && url.origin !== "null";
  if (sameOrigin && url.pathname === page.pathname && url.hash) return null;
  const payload = { url: url.href };
  const text = hideText ? "" : linkText(anchor);
  if (text) payload.text = text;
  if (!sameOrigin) payload.external = true;
  return payload;
}

export function trackNavigation(ctx) {
  const doc = ctx.document;
  return listen(doc, "click", (event) => {
    const anchor = closest(event.target, "a[href], area[href]");
    if (!anchor) return;
    const payload = navigationPayload(
      anchor,
      currentHref(ctx.window, doc),
      isTextHidden(anchor, ctx.recordOptions),
    );
    if (payload) ctx.addCustomEvent("navigation", payload);
  });
}
