// Random identifiers for sessions and windows.

/** Ids the server accepts (inventory §1.3: 1-128 of [a-zA-Z0-9_-]). */
export const ID_PATTERN = /^[a-zA-Z0-9_-]{1,128}$/;

export function isValidId(value) {
  return typeof value === "string" && ID_PATTERN.test(value);
}

function randomBytes(cryptoObj, count) {
  const bytes = new Uint8Array(count);
  if (cryptoObj && typeof cryptoObj.getRandomValues === "function") {
    try {
      cryptoObj.getRandomValues(bytes);
      return bytes;
    } catch (_err) {
      // fall through to Math.random
    }
  }
  for (let i = 0; i < count; i++) bytes[i] = Math.floor(Math.random() * 256);
  return bytes;
}

/**
 * A UUID v4. `crypto.randomUUID` exists only in secure contexts (https, localhost), while
 * `crypto.getRandomValues` also works on plain http, so the fallback formats 16 random bytes.
 */
export function newId(cryptoObj) {
  if (cryptoObj && typeof cryptoObj.randomUUID === "function") {
    try {
      return cryptoObj.randomUUID();
    } catch (_err) {
      // not a secure context: format one ourselves
    }
  }
  const b = randomBytes(cryptoObj, 16);
  b[6] = (b[6] & 0x0f) | 0x40; // version 4
  b[8] = (b[8] & 0x3f) | 0x80; // RFC 4122 variant
  let hex = "";
  for (let i = 0; i < 16; i++) hex += (b[i] + 0x100).toString(16).slice(1);
  return (
    hex.slice(0, 8) + "-" + hex.slice(8, 12) + "-" + hex.slice(12, 16) + "-" +
    hex.slice(16, 20) + "-" + hex.slice(20)
  );
}
