// The recording gate: Global Privacy Control and the end-user opt-out (inventory §2.6).
// When the gate is closed the recorder does nothing at all: no rrweb, no request, no cookie.

import { DEFAULT_OPT_OUT_NAME } from "./config.js";
import { deleteCookie, readCookie, writeCookie } from "./cookies.js";

const ONE_YEAR_S = 365 * 24 * 60 * 60;

/** Present and not "", "0" or "false" (the server applies the same rule to the cookie). */
export function isTruthySignal(value) {
  return value != null && value !== "" && value !== "0" && value !== "false";
}

export function optOutName(config) {
  return (config && config.optOutCookieName) || DEFAULT_OPT_OUT_NAME;
}

/**
 * The opt-out is read from both the cookie and localStorage: the cookie is what the server sees
 * on same-origin requests, localStorage covers cross-origin setups where cookies are not sent.
 */
export function isOptedOut(env, name) {
  if (isTruthySignal(readCookie(env.document, name))) return true;
  return !!(env.localStorage && isTruthySignal(env.localStorage.get(name)));
}

export function gpcEnabled(nav) {
  try {
    return !!(nav && nav.globalPrivacyControl);
  } catch (_err) {
    return false;
  }
}

/** `{record: boolean, reason: "no-events-url" | "gpc" | "opt-out" | null}` */
export function checkGate(config, env) {
  if (!config.eventsUrl) return { record: false, reason: "no-events-url" };
  if (config.respectGpc && gpcEnabled(env.navigator)) return { record: false, reason: "gpc" };
  if (isOptedOut(env, optOutName(config))) return { record: false, reason: "opt-out" };
  return { record: true, reason: null };
}

export function setOptOutSignal(env, name) {
  writeCookie(env.document, name, "1", ONE_YEAR_S);
  if (env.localStorage) env.localStorage.set(name, "1");
}

export function clearOptOutSignal(env, name) {
  deleteCookie(env.document, name);
  if (env.localStorage) env.localStorage.remove(name);
}
