// URL redaction modes (twin of src/sentiero/privacy/urls.py; its docstring has the full rules).
//
// strip: drop ?query and #fragment. keepFiltered: drop denylisted params (builtin + operator
// list; the denylist wins), keep allowlisted ones verbatim, text-redact other values (decoded,
// and re-encoded only when something was redacted); a fragment's parameters (after "?", or the
// whole fragment when it holds "=") are filtered the same way, any other fragment text-redacted. keepAll: verbatim. Except in keepAll the path is
// text-redacted and user info becomes "[redacted]@". Split by hand, never with a URL parser.

import { REDACTED } from "./redaction-patterns.js";

export const URL_MODES = Object.freeze(["strip", "keepFiltered", "keepAll"]);

export const DEFAULT_PARAM_DENYLIST = Object.freeze([
  "token",
  "access_token",
  "refresh_token",
  "id_token",
  "password",
  "passwd",
  "pwd",
  "secret",
  "api_key",
  "apikey",
  "key",
  "sig",
  "signature",
  "code",
  "auth",
  "session",
  "sessionid",
  "otp",
]);

const ESCAPES_RE = /(?:%[0-9A-Fa-f]{2})+/g;
const AUTHORITY_RE = /^(?:[A-Za-z][A-Za-z0-9+.-]*:)?\/\//;

/** Percent-decode every run of escapes that is valid UTF-8; leave the others as they are. */
export function decodeLenient(text) {
  if (!text.includes("%")) return text;
  return text.replace(ESCAPES_RE, (run) => {
    try {
      return decodeURIComponent(run);
    } catch (_err) {
      return run;
    }
  });
}

const encodeComponent = (s) => encodeURIComponent(s);
// encodeURI, but "?" and "#" escaped too: a redacted path must not grow a query or fragment.
const encodePath = (s) => encodeURI(s).replace(/[?#]/g, (c) => (c === "?" ? "%3F" : "%23"));

function redactComponent(value, redact, encode) {
  const decoded = decodeLenient(value);
  const redacted = redact(decoded);
  return redacted === decoded ? value : encode(redacted);
}

function filterParams(params, redact, allow, deny) {
  const kept = [];
  for (const part of params.split("&")) {
    if (!part) continue;
    const eq = part.indexOf("=");
    const rawName = eq === -1 ? part : part.slice(0, eq);
    const name = decodeLenient(rawName).toLowerCase();
    if (deny.has(name)) continue;
    if (allow.has(name)) kept.push(part);
    else if (eq === -1) kept.push(redactComponent(part, redact, encodeComponent));
    else kept.push(rawName + "=" + redactComponent(part.slice(eq + 1), redact, encodeComponent));
  }
  return kept.join("&");
}

function redactBase(base, redact) {
  const m = AUTHORITY_RE.exec(base);
  if (!m) return redactComponent(base, redact, encodePath);
  const from = m[0].length;
  const slash = base.indexOf("/", from);
  const authorityEnd = slash === -1 ? base.length : slash;
  let authority = base.slice(from, authorityEnd);
  const at = authority.lastIndexOf("@");
  if (at !== -1) authority = REDACTED + authority.slice(at);
  return m[0] + authority + redactComponent(base.slice(authorityEnd), redact, encodePath);
}

/**
 * Redact one URL. `mode` is a URL_MODES name; `redact` is the text redaction for its parts;
 * `allow` and `deny` are Sets of lower-cased parameter names (deny includes the builtin list).
 */
export function redactUrlWith(url, mode, redact, allow, deny) {
  if (mode === "keepAll") return url;
  const q = url.indexOf("?");
  const h = url.indexOf("#");
  let base = url;
  let query = null;
  let fragment = null;
  if (h !== -1 && (q === -1 || h < q)) {
    base = url.slice(0, h);
    fragment = url.slice(h + 1);
  } else if (q !== -1) {
    base = url.slice(0, q);
    if (h !== -1) {
      query = url.slice(q + 1, h);
      fragment = url.slice(h + 1);
    } else {
      query = url.slice(q + 1);
    }
  }
  let out = redactBase(base, redact);
  if (mode === "strip") return out;
  if (query) {
    const filtered = filterParams(query, redact, allow, deny);
    if (filtered) out += "?" + filtered;
  }
  if (fragment) {
    const filtered = redactFragment(fragment, redact, allow, deny);
    if (filtered) out += "#" + filtered;
  }
  return out;
}

// "#/route?a=1" (SPA routes): parameters after the first "?" filtered like a query. The part
// before it is filtered too when it holds "=" ("#access_token=...", the OAuth implicit flow),
// else text-redacted.
function redactFragment(fragment, redact, allow, deny) {
  const q = fragment.indexOf("?");
  let head = q === -1 ? fragment : fragment.slice(0, q);
  head = head.includes("=")
    ? filterParams(head, redact, allow, deny)
    : redactComponent(head, redact, encodePath);
  if (q === -1) return head;
  const params = filterParams(fragment.slice(q + 1), redact, allow, deny);
  return params ? head + "?" + params : head;
}
