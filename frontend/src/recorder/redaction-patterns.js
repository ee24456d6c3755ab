// Builtin text patterns of the redaction engine (twin of src/sentiero/privacy/patterns.py).
//
// Every pattern runs in time linear in its input: where one regular expression would backtrack
// quadratically on hostile text (emails, JWTs, cards) the scan is written out around simple,
// unambiguous expressions. Character classes are ASCII and spelled out so the browser and the
// server agree; tests/fixtures/redaction_cases.json pins both to the same answers.
// No lookbehind: it is a syntax error in older Safari and would break the whole recorder.

export const REDACTED = "[redacted]";
export const BUILTIN_PATTERNS = Object.freeze(["url", "jwt", "email", "long_hex", "card", "bearer"]);
export const MAX_PASSES = 4;

const URL_RE = /[Hh][Tt][Tt][Pp][Ss]?:\/\/[^\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]+/g;
const JWT_TOKEN_RE = /[A-Za-z0-9_.-]+/g;
const EMAIL_LOCAL_CHAR = /[A-Za-z0-9._%+-]/;
const EMAIL_DOMAIN_RE = /[A-Za-z0-9.-]*/y;
const HEX_RE = /[0-9A-Fa-f]{32,}/g;
const DIGIT_RUN_RE = /[0-9]+(?:[ -][0-9]+)*/g;
const DIGIT_GROUP_RE = /[0-9]+/g;
const BEARER_RE = /[Bb][Ee][Aa][Rr][Ee][Rr]/g;
const BEARER_TAIL_RE = /[ \t]+([A-Za-z0-9\-._~+/]+=*)/y;
const BEARER_SYMBOL_RE = /[0-9\-._~+/=]/;

function isWordChar(ch) {
  return ch !== undefined && /[A-Za-z0-9_]/.test(ch);
}

function isLetter(ch) {
  return ch !== undefined && /[A-Za-z]/.test(ch);
}

function redactUrlPattern(text) {
  return text.replace(URL_RE, (s) => {
    const ends = [s.indexOf("?"), s.indexOf("#")].filter((i) => i !== -1);
    return ends.length ? s.slice(0, Math.min(...ends)) : s;
  });
}

function redactJwt(text) {
  if (!text.includes("eyJ")) return text;
  return text.replace(JWT_TOKEN_RE, (tok) => {
    if (!tok.includes("eyJ")) return tok;
    const segments = tok.split(".");
    const out = [];
    let i = 0;
    while (i < segments.length) {
      const seg = segments[i];
      const p = seg.indexOf("eyJ");
      if (p !== -1 && seg.length - p > 3 && i + 2 < segments.length && segments[i + 1]) {
        out.push(seg.slice(0, p) + REDACTED);
        i += 3;
      } else {
        out.push(seg);
        i += 1;
      }
    }
    return out.join(".");
  });
}

// Length of the longest `[A-Za-z0-9.-]+\.[A-Za-z]{2,}` prefix of `domain`, or 0.
function emailDomainEnd(domain) {
  let i = domain.lastIndexOf(".");
  while (i >= 1) {
    if (i + 2 < domain.length && isLetter(domain[i + 1]) && isLetter(domain[i + 2])) {
      let end = i + 3;
      while (end < domain.length && isLetter(domain[end])) end += 1;
      return end;
    }
    i = domain.lastIndexOf(".", i - 1);
  }
  return 0;
}

function redactEmail(text) {
  let at = text.indexOf("@");
  if (at === -1) return text;
  const out = [];
  let last = 0; // end of the previous match: a local part may not start before it
  while (at !== -1) {
    let start = at;
    while (start > last && EMAIL_LOCAL_CHAR.test(text[start - 1])) start -= 1;
    let end = 0;
    if (start < at) {
      EMAIL_DOMAIN_RE.lastIndex = at + 1;
      const m = EMAIL_DOMAIN_RE.exec(text);
      end = emailDomainEnd(m ? m[0] : "");
    }
    if (end) {
      out.push(text.slice(last, start), REDACTED);
      last = at + 1 + end;
      at = text.indexOf("@", last);
    } else {
      at = text.indexOf("@", at + 1);
    }
  }
  out.push(text.slice(last));
  return out.join("");
}

function redactLongHex(text) {
  return text.replace(HEX_RE, (s, offset) => {
    const end = offset + s.length;
    if (isWordChar(text[offset - 1]) || isWordChar(text[end])) return s;
    return REDACTED;
  });
}

/** The Luhn checksum of a string of ASCII digits (used by the `card` pattern). */
export function luhnValid(digits) {
  let total = 0;
  for (let k = 0; k < digits.length; k += 1) {
    let d = digits.charCodeAt(digits.length - 1 - k) - 48;
    if (k % 2) d = d > 4 ? d * 2 - 9 : d * 2;
    total += d;
  }
  return total % 10 === 0;
}

// Spans of `run` (digit groups joined by single separators) holding a Luhn-valid card: from the
// leftmost group on, each start takes the longest span of whole groups with 13 to 19 digits that
// passes Luhn. Prefix sums make each check O(1).
function cardSpans(run, leftGlued, rightGlued) {
  const groups = [];
  DIGIT_GROUP_RE.lastIndex = 0;
  let m;
  while ((m = DIGIT_GROUP_RE.exec(run)) !== null) groups.push([m.index, m.index + m[0].length]);
  if (!groups.some(([s, e]) => e - s <= 19)) return [];
  const digits = run.replace(/[ -]/g, "");
  const pEven = new Array(digits.length + 1).fill(0);
  const pOdd = new Array(digits.length + 1).fill(0);
  for (let k = 0; k < digits.length; k += 1) {
    const d = digits.charCodeAt(k) - 48;
    const dd = d > 4 ? d * 2 - 9 : d * 2;
    pEven[k + 1] = pEven[k] + (k % 2 === 0 ? dd : d);
    pOdd[k + 1] = pOdd[k] + (k % 2 === 0 ? d : dd);
  }
  const offsets = [0];
  for (const [s, e] of groups) offsets.push(offsets[offsets.length - 1] + e - s);
  const spans = [];
  const n = groups.length;
  let i = leftGlued ? 1 : 0;
  let lo = i; // first end group giving at least 13 digits: never moves back as i grows
  while (i < n) {
    const a = offsets[i];
    lo = Math.max(lo, i);
    while (lo < n && offsets[lo + 1] - a < 13) lo += 1;
    let best = -1;
    for (let j = lo; j < n && offsets[j + 1] - a <= 19; j += 1) {
      if (j === n - 1 && rightGlued) continue;
      const b = offsets[j + 1];
      // digit t of digits[a:b] is doubled when (b - 1 - t) is odd, i.e. t ≡ b (mod 2)
      const total = b % 2 === 0 ? pEven[b] - pEven[a] : pOdd[b] - pOdd[a];
      if (total % 10 === 0) best = j;
    }
    if (best >= 0) {
      spans.push([groups[i][0], groups[best][1]]);
      i = best + 1;
    } else {
      i += 1;
    }
  }
  return spans;
}

function redactCard(text) {
  return text.replace(DIGIT_RUN_RE, (s, offset) => {
    if (s.length < 13) return s;
    const spans = cardSpans(s, isWordChar(text[offset - 1]), isWordChar(text[offset + s.length]));
    if (!spans.length) return s;
    let out = "";
    let last = 0;
    for (const [a, b] of spans) {
      out += s.slice(last, a) + REDACTED;
      last = b;
    }
    return out + s.slice(last);
  });
}

function redactBearer(text) {
  const out = [];
  let last = 0;
  BEARER_RE.lastIndex = 0;
  let m;
  while ((m = BEARER_RE.exec(text)) !== null) {
    const start = m.index;
    if (start < last || isWordChar(text[start - 1])) continue;
    BEARER_TAIL_RE.lastIndex = start + m[0].length;
    const tail = BEARER_TAIL_RE.exec(text);
    if (!tail) continue;
    const token = tail[1];
    if (token.length < 16 && !BEARER_SYMBOL_RE.test(token)) continue;
    const tokenEnd = BEARER_TAIL_RE.lastIndex;
    out.push(text.slice(last, tokenEnd - token.length), REDACTED);
    last = tokenEnd;
    BEARER_RE.lastIndex = Math.max(BEARER_RE.lastIndex, last);
  }
  if (!out.length) return text;
  out.push(text.slice(last));
  return out.join("");
}

export const BUILTIN = Object.freeze({
  url: redactUrlPattern,
  jwt: redactJwt,
  email: redactEmail,
  long_hex: redactLongHex,
  card: redactCard,
  bearer: redactBearer,
});

/** The given builtin pattern names, known ones only, in the engine's fixed order. */
export function ordered(names) {
  const wanted = new Set(names);
  return BUILTIN_PATTERNS.filter((name) => wanted.has(name));
}

/**
 * Apply the named builtin patterns (already ordered), then every custom RegExp (flag g).
 * The builtins repeat until nothing changes (at most MAX_PASSES times): one redaction can
 * complete another pattern's match (a card's spaces removed inside a URL), and repeating keeps
 * redaction idempotent, so the server leaves browser-redacted text as it is.
 */
// What each pattern needs at the very least to match (twin of patterns.py's _NEEDS): text
// holding none of them skips the patterns. Each piece is bounded, so the search stays linear.
const NEEDS = {
  url: "[Hh][Tt][Tt][Pp][Ss]?://",
  jwt: "eyJ",
  email: "@",
  long_hex: "[0-9A-Fa-f]{32}",
  card: "[0-9](?:[ \\-]?[0-9]){12}",
  bearer: "[Bb][Ee][Aa][Rr][Ee][Rr]",
};
// One prefilter per list of builtins, keyed by the list itself: a redactor passes the same
// array for every text, so the lookup costs no string building on the recording hot path.
const prefilters = new WeakMap();

function prefilter(builtins) {
  let re = prefilters.get(builtins);
  if (re === undefined) {
    re = builtins.length ? new RegExp(builtins.map((name) => NEEDS[name]).join("|")) : null;
    prefilters.set(builtins, re);
  }
  return re;
}

export function redactWith(text, builtins, custom = []) {
  let out = text;
  const needs = prefilter(builtins);
  const passes = needs && !needs.test(text) ? 0 : MAX_PASSES;
  for (let pass = 0; pass < passes; pass += 1) {
    const before = out;
    for (const name of builtins) out = BUILTIN[name](out);
    if (out === before) break;
  }
  for (const re of custom) {
    re.lastIndex = 0;
    out = out.replace(re, () => REDACTED);
  }
  return out;
}
