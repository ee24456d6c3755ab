// The end-user opt-out, one implementation for the loader (before the recorder runs, or when
// it never will) and the running recorder: set the signal, forget every id, and tell the server
// once, only when it may hold something of the session.

import { siblingUrl } from "./config.js";
import { clearLinkCookies } from "./cookies.js";
import { optOutName, setOptOutSignal } from "./gate.js";
import { clearClientStorage } from "./session.js";

/** Where optOut() reports the choice: the events URL's sibling `opt-out`. */
export function optOutUrl(eventsUrl) {
  return siblingUrl(eventsUrl, "opt-out");
}

/**
 * env: {config, document, navigator, local, session, sendBeacon}. `sessionId` is the session the
 * server may hold data of (null: report nothing), `windowId` this page's window (its batch counter
 * is forgotten too). Recording itself is stopped by the caller.
 */
export function applyOptOut(env, sessionId, windowId) {
  const { config, document: doc, local, session } = env;
  setOptOutSignal({ document: doc, localStorage: local }, optOutName(config));
  clearLinkCookies(doc);
  clearClientStorage(local, session, windowId);
  // One best-effort report so the server can audit it; never retried.
  if (!sessionId || !config.eventsUrl || !env.sendBeacon) return;
  try {
    env.sendBeacon(optOutUrl(config.eventsUrl), JSON.stringify({ sessionId }));
  } catch (_err) {
    // best effort only
  }
}
