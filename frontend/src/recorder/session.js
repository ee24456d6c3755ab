// Session and window identity (inventory §2.2).
//
// The session id lives in localStorage (shared by all tabs) when crossTabSessions is on,
// otherwise in sessionStorage (one per tab). The window id always lives in sessionStorage.
// A new session starts when the stored one is missing or corrupt, idle for longer than the idle
// timeout, or older than the max age. When storage is unusable the ids live only as long as
// the page.

import { isValidId } from "./ids.js";

export const KEYS = Object.freeze({
  sessionId: "sentiero_session_id",
  windowId: "sentiero_window_id",
  createdAt: "sentiero_session_created_at",
  lastSeen: "sentiero_session_last_seen",
  entryUrl: "sentiero_entry_url",
  entryReferrer: "sentiero_entry_referrer",
});

/** Prefix of the per-window "next batch seq" key kept in sessionStorage. */
export const SEQ_KEY_PREFIX = "sentiero_seq:";

export function seqKey(windowId) {
  return SEQ_KEY_PREFIX + windowId;
}

function readTime(store, key) {
  const raw = store.get(key);
  if (raw == null || raw === "") return null;
  const value = Number(raw);
  return Number.isFinite(value) && value > 0 ? value : null;
}

/** origin + pathname: entry metadata never keeps the query or fragment. */
export function originAndPath(href) {
  if (typeof href !== "string" || !href) return "";
  try {
    const url = new URL(href);
    if (url.protocol !== "http:" && url.protocol !== "https:") return "";
    return url.origin + url.pathname;
  } catch (_err) {
    return "";
  }
}

/**
 * The stored session id when it is still live (valid, not idle past the timeout, not older
 * than the max age), else null. Such a session may already have pages on the server.
 */
export function liveSessionId(config, local, session, now) {
  const store = config.crossTabSessions ? local : session;
  if (!store) return null;
  const sessionId = store.get(KEYS.sessionId);
  const createdAt = readTime(store, KEYS.createdAt);
  const lastSeen = readTime(store, KEYS.lastSeen);
  const expired =
    !isValidId(sessionId) ||
    createdAt == null ||
    lastSeen == null ||
    now - lastSeen > config.sessionIdleTimeoutMs ||
    now - createdAt > config.sessionMaxAgeMs;
  return expired ? null : sessionId;
}

/**
 * Resolve the ids for this page load.
 * @param {object} opts
 *   config: normalized config; local/session: storage wrappers or null; now: epoch ms;
 *   newId: () => string; href, referrer: the page's location and document.referrer.
 * @returns {{sessionId, windowId, rotated, persisted, entryUrl, entryReferrer}}
 */
export function resolveIdentity(opts) {
  const { config, local, session, now, newId } = opts;
  const store = config.crossTabSessions ? local : session;

  let sessionId;
  let rotated = false;
  let entryUrl = originAndPath(opts.href);
  let entryReferrer = originAndPath(opts.referrer);

  if (store) {
    sessionId = liveSessionId(config, local, session, now);
    if (!sessionId) {
      rotated = true;
      sessionId = newId();
      store.set(KEYS.sessionId, sessionId);
      store.set(KEYS.createdAt, now);
      store.remove(KEYS.entryUrl);
      store.remove(KEYS.entryReferrer);
    }
    store.set(KEYS.lastSeen, now);
    // Entry metadata is written on the first page of a session and then never changed.
    const storedEntry = store.get(KEYS.entryUrl);
    if (storedEntry == null) {
      store.set(KEYS.entryUrl, entryUrl);
      store.set(KEYS.entryReferrer, entryReferrer);
    } else {
      entryUrl = storedEntry;
      entryReferrer = store.get(KEYS.entryReferrer) || "";
    }
  } else {
    rotated = true;
    sessionId = newId();
  }

  let windowId = session ? session.get(KEYS.windowId) : null;
  if (!isValidId(windowId)) {
    windowId = newId();
    if (session) session.set(KEYS.windowId, windowId);
  }

  return { sessionId, windowId, rotated, persisted: !!store, entryUrl, entryReferrer };
}

/** Refresh the idle clock (page load and pagehide; not per event). */
export function touchLastSeen(config, local, session, now) {
  const store = config.crossTabSessions ? local : session;
  if (store) store.set(KEYS.lastSeen, now);
}

/**
 * Forget every id the recorder stored, in both storages, so an opt-out followed by an opt-in
 * starts a fresh session. `windowId` also removes that window's batch counter.
 */
export function clearClientStorage(local, session, windowId) {
  for (const store of [local, session]) {
    if (!store) continue;
    for (const key of Object.values(KEYS)) store.remove(key);
    if (windowId) store.remove(seqKey(windowId));
  }
}
