// Cookie helpers: the opt-out signal and the first-party replay-linkage cookies
// (`sentiero_sid` / `sentiero_wid`) that the server-side error middleware reads (inventory §2.3).

export const SESSION_COOKIE = "sentiero_sid";
export const WINDOW_COOKIE = "sentiero_wid";

export function readCookie(doc, name) {
  let raw = "";
  try {
    raw = (doc && doc.cookie) || "";
  } catch (_err) {
    return null; // sandboxed documents throw on cookie access
  }
  for (const part of raw.split(";")) {
    const eq = part.indexOf("=");
    const key = (eq === -1 ? part : part.slice(0, eq)).trim();
    if (key !== name) continue;
    const value = eq === -1 ? "" : part.slice(eq + 1).trim();
    try {
      return decodeURIComponent(value);
    } catch (_err) {
      return value;
    }
  }
  return null;
}

function isSecurePage(doc) {
  try {
    return !!(doc && doc.location && doc.location.protocol === "https:");
  } catch (_err) {
    return false;
  }
}

export function writeCookie(doc, name, value, maxAgeSeconds) {
  let cookie = name + "=" + encodeURIComponent(value) + "; path=/; max-age=" +
    Math.max(0, Math.floor(maxAgeSeconds)) + "; SameSite=Lax";
  if (isSecurePage(doc)) cookie += "; Secure";
  try {
    doc.cookie = cookie;
  } catch (_err) {
    // cookies disabled: the server-side linkage is simply unavailable
  }
}

export function deleteCookie(doc, name) {
  writeCookie(doc, name, "", 0);
}

export function writeLinkCookies(doc, sessionId, windowId, maxAgeMs) {
  const seconds = Math.floor(maxAgeMs / 1000);
  writeCookie(doc, SESSION_COOKIE, sessionId, seconds);
  writeCookie(doc, WINDOW_COOKIE, windowId, seconds);
}

export function clearLinkCookies(doc) {
  deleteCookie(doc, SESSION_COOKIE);
  deleteCookie(doc, WINDOW_COOKIE);
}
