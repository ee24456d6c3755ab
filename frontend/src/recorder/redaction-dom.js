// Redaction of recorded page content (twin of src/sentiero/privacy/dom.py; its docstring has
// the full rules): text nodes by the text patterns, URL-bearing attributes (href, src, srcset,
// action, poster, data-* URLs, style url()) by the URL mode, human-readable attributes
// (title, alt, aria-*, data-*, ...) by the text patterns. The server does it again on ingest.
//
// createDomRules(redactText, redactUrl).redactEvent(event) returns a redacted copy: rrweb keeps
// its serialized nodes in its mirror, so they are never modified in place.

export const URL_ATTRIBUTES = new Set([
  "href", "src", "action", "formaction", "poster", "cite", "background", "longdesc", "ping",
  "data", "xlink:href", "manifest", "codebase",
]);
export const SRCSET_ATTRIBUTES = new Set(["srcset", "imagesrcset"]);
const CSS_ATTRIBUTES = new Set(["style", "_cssText"]);
const TEXT_ATTRIBUTES = new Set(["title", "alt", "placeholder", "label", "value", "content", "summary"]);
const URL_LIKE = /^(?:[A-Za-z][A-Za-z0-9+.-]*:|\/|\.\.?\/|\?)\S*$/;
const TEXT_NODE_TYPES = new Set([3, 4, 5]); // rrweb: Text, CDATA, Comment
const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
const isSpace = (ch) => /\s/.test(ch);

/**
 * `list.map(fn)`, but the same array when fn returns every item unchanged. Redaction copies
 * only what it changes: most of what rrweb emits holds nothing to redact, and copying every
 * node of every mutation was most of the recorder's main-thread cost over rrweb's own.
 * Nothing rrweb handed over is ever modified (its mirror keeps the serialized nodes).
 */
function mapSame(list, fn) {
  let out = null;
  for (let i = 0; i < list.length; i++) {
    const item = list[i];
    const next = fn(item);
    if (out) out.push(next);
    else if (next !== item) {
      out = list.slice(0, i);
      out.push(next);
    }
  }
  return out || list;
}

/** `{...obj, [key]: value}`, or obj itself when the value is the one it holds. */
function withKey(obj, key, value) {
  if (obj[key] === value) return obj;
  const out = Object.assign({}, obj);
  out[key] = value;
  return out;
}

export function looksLikeUrl(value) {
  return URL_LIKE.test(value);
}

export function createDomRules(redactText, redactUrl) {
  function url(value) {
    const head = value.trimStart().slice(0, 5).toLowerCase();
    if (head.startsWith("data:") || head.startsWith("blob:")) return value;
    return redactUrl(value);
  }

  // Every url(...) of a stylesheet or style attribute; linear (no regex over unclosed "url(").
  function css(text) {
    const lower = text.toLowerCase();
    let i = lower.indexOf("url(");
    if (i === -1) return text;
    const out = [];
    let last = 0;
    while (i !== -1) {
      const start = i + 4;
      const end = text.indexOf(")", start);
      if (end === -1) break;
      const stripped = text.slice(start, end).trim();
      let quote = stripped[0] === "'" || stripped[0] === '"' ? stripped[0] : "";
      let address;
      if (quote && stripped.length >= 2 && stripped.endsWith(quote)) {
        address = stripped.slice(1, -1);
      } else {
        quote = "";
        address = stripped;
      }
      const redacted = address ? url(address) : address;
      if (redacted !== address) {
        out.push(text.slice(last, start), quote + redacted + quote);
        last = end;
      }
      i = lower.indexOf("url(", end + 1);
    }
    if (!out.length) return text;
    out.push(text.slice(last));
    return out.join("");
  }

  function srcset(value) {
    const out = [];
    const n = value.length;
    let i = 0;
    while (i < n) {
      let j = i;
      while (j < n && (isSpace(value[j]) || value[j] === ",")) j++;
      out.push(value.slice(i, j));
      if (j >= n) break;
      let k = j;
      while (k < n && !isSpace(value[k])) k++;
      const candidate = value.slice(j, k);
      const address = candidate.replace(/,+$/, "");
      out.push(url(address) + candidate.slice(address.length));
      i = k;
      if (address !== candidate) continue;
      let comma = value.indexOf(",", i);
      if (comma === -1) comma = n;
      out.push(value.slice(i, comma));
      i = comma;
    }
    return out.join("");
  }

  function styleValue(value) {
    if (typeof value === "string") return css(value);
    if (Array.isArray(value)) return mapSame(value, (v) => (typeof v === "string" ? css(v) : v));
    return value;
  }

  function attribute(name, value) {
    if (isObject(value)) {
      let out = value;
      for (const key of Object.keys(value)) out = withKey(out, key, styleValue(value[key]));
      return out;
    }
    if (typeof value !== "string" || !value) return value;
    if (URL_ATTRIBUTES.has(name)) return url(value);
    if (SRCSET_ATTRIBUTES.has(name)) return srcset(value);
    if (CSS_ATTRIBUTES.has(name)) return css(value);
    if (TEXT_ATTRIBUTES.has(name) || name.startsWith("data-") || name.startsWith("aria-")) {
      return looksLikeUrl(value) ? url(value) : redactText(value);
    }
    return value;
  }

  function attributes(attrs) {
    if (!isObject(attrs)) return attrs;
    let out = attrs;
    for (const name of Object.keys(attrs)) out = withKey(out, name, attribute(name, attrs[name]));
    return out;
  }

  // One serialized node, copied; its children are copied by the walk.
  function node(n) {
    if (n.type === 2 && isObject(n.attributes)) {
      return withKey(n, "attributes", attributes(n.attributes));
    }
    if (TEXT_NODE_TYPES.has(n.type) && typeof n.textContent === "string" && n.textContent) {
      return withKey(n, "textContent", n.isStyle ? css(n.textContent) : redactText(n.textContent));
    }
    return n;
  }

  // A serialized subtree, copied only along the paths to what changed. Depth-first without
  // recursion (a full snapshot can be deep): each frame maps one node's children, and a
  // finished frame hands its (possibly new) node to its parent's frame.
  function tree(root) {
    if (!isObject(root)) return root;
    const stack = [{ node: node(root), source: root, i: 0, kids: null }];
    let done = null;
    while (stack.length) {
      const frame = stack[stack.length - 1];
      const children = frame.source.childNodes;
      if (done !== null) {
        const child = children[frame.i];
        if (frame.kids) frame.kids.push(done);
        else if (done !== child) frame.kids = children.slice(0, frame.i).concat([done]);
        frame.i += 1;
        done = null;
      }
      if (Array.isArray(children) && frame.i < children.length) {
        const child = children[frame.i];
        if (isObject(child)) {
          stack.push({ node: node(child), source: child, i: 0, kids: null });
        } else {
          done = child;
        }
        continue;
      }
      stack.pop();
      done = frame.kids ? withKey(frame.node === frame.source ? Object.assign({}, frame.node)
        : frame.node, "childNodes", frame.kids) : frame.node;
    }
    return done;
  }

  function incremental(data) {
    let out = data;
    switch (data.source) {
      case 0:
        if (Array.isArray(data.texts)) {
          out = withKey(out, "texts", mapSame(data.texts, (t) =>
            isObject(t) && typeof t.value === "string" ? withKey(t, "value", redactText(t.value))
              : t));
        }
        if (Array.isArray(data.attributes)) {
          out = withKey(out, "attributes", mapSame(data.attributes, (a) =>
            isObject(a) ? withKey(a, "attributes", attributes(a.attributes)) : a));
        }
        if (Array.isArray(data.adds)) {
          out = withKey(out, "adds", mapSame(data.adds, (a) =>
            isObject(a) ? withKey(a, "node", tree(a.node)) : a));
        }
        break;
      case 5:
        if (typeof data.text === "string" && data.text) {
          out = withKey(out, "text", redactText(data.text));
        }
        break;
      case 8:
        if (Array.isArray(data.adds)) {
          out = withKey(out, "adds", mapSame(data.adds, (r) =>
            isObject(r) && typeof r.rule === "string" ? withKey(r, "rule", css(r.rule)) : r));
        }
        break;
      case 13:
        if (isObject(data.set) && typeof data.set.value === "string") {
          out = withKey(out, "set", withKey(data.set, "value", css(data.set.value)));
        }
        break;
      default:
        return data;
    }
    return out;
  }

  function redactEvent(event) {
    if (!isObject(event.data)) return event;
    if (event.type === 2) {
      const data = withKey(event.data, "node", tree(event.data.node));
      return data === event.data ? event : { ...event, data };
    }
    if (event.type === 3) {
      const data = incremental(event.data);
      return data === event.data ? event : { ...event, data };
    }
    return event;
  }

  return { url, css, srcset, attribute, redactEvent };
}
