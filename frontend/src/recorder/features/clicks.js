// captureClicks: every click as `__click` {selector} (inventory §2.10). The selector names
// the clicked element only by tag, id and classes: `tag#id`, else `tag.c1.c2` (two classes at
// most), else `tag`; a click on text or inside an SVG icon is attributed to the nearest HTML
// element within three levels up.

import { ELEMENT_NODE, SVG_NS, attr, listen } from "./dom.js";

export const MAX_WALK_UP = 3;
export const MAX_CLASSES = 2;

function isSvgPart(node) {
  return node.nodeType === ELEMENT_NODE && node.namespaceURI === SVG_NS;
}

/** The element a click is attributed to, or null. */
export function clickedElement(target) {
  let node = target;
  for (let i = 0; node && i < MAX_WALK_UP; i++) {
    if (node.nodeType === ELEMENT_NODE && !isSvgPart(node)) return node;
    if (!node.parentNode || node.parentNode.nodeType !== ELEMENT_NODE) break;
    node = node.parentNode;
  }
  return node && node.nodeType === ELEMENT_NODE ? node : null;
}

function escapeIdent(value, cssEscape) {
  if (cssEscape) {
    try {
      return cssEscape(value);
    } catch (_err) {
      // fall through to the plain-ASCII rule
    }
  }
  return value.replace(/[^a-zA-Z0-9_-]/g, (c) => "\\" + c);
}

/** `tag#id`, `tag.class1.class2` or `tag`; cssEscape is the browser's CSS.escape when present. */
export function selectorFor(el, cssEscape) {
  if (!el || el.nodeType !== ELEMENT_NODE) return null;
  const tag = String(el.localName || el.tagName || "").toLowerCase();
  if (!tag) return null;
  const id = attr(el, "id");
  if (id) return tag + "#" + escapeIdent(id, cssEscape);
  const classes = String(attr(el, "class") || "").split(/\s+/).filter(Boolean).slice(0, MAX_CLASSES);
  if (classes.length) return tag + classes.map((c) => "." + escapeIdent(c, cssEscape)).join("");
  return tag;
}

export function captureClicks(ctx) {
  const win = ctx.window;
  const cssEscape =
    win && win.CSS && typeof win.CSS.escape === "function" ? (v) => win.CSS.escape(v) : null;
  return listen(ctx.document, "click", (event) => {
    const selector = selectorFor(clickedElement(event.target), cssEscape);
    if (selector) ctx.addCustomEvent("__click", { selector });
  });
}
