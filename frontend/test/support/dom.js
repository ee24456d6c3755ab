// A tiny DOM double for the capture features: elements with attributes, parents, text and a
// closest()/matches() that understands the simple selectors the recorder uses
// (tag, [attr], [attr="v"], .class, :not(...), comma lists).

export const SVG_NS = "http://www.w3.org/2000/svg";
const HTML_NS = "http://www.w3.org/1999/xhtml";

function matchesSimple(el, selector) {
  let rest = selector.trim();
  const nots = [];
  rest = rest.replace(/:not\(([^()]*)\)/g, (_m, inner) => {
    nots.push(inner);
    return "";
  });
  const tag = /^[a-zA-Z][a-zA-Z0-9-]*/.exec(rest);
  if (tag) {
    if (el.localName !== tag[0].toLowerCase()) return false;
    rest = rest.slice(tag[0].length);
  }
  const parts = rest.match(/\[[^\]]+\]|\.[A-Za-z0-9_-]+/g) || [];
  for (const part of parts) {
    if (part[0] === ".") {
      if (!(el.getAttribute("class") || "").split(/\s+/).includes(part.slice(1))) return false;
      continue;
    }
    const m = /^\[([^=\]]+)(?:="([^"]*)")?\]$/.exec(part);
    if (!m) throw new Error("SyntaxError: " + part);
    const value = el.getAttribute(m[1]);
    if (value == null) return false;
    if (m[2] !== undefined && value !== m[2]) return false;
  }
  return !nots.some((inner) => matchesSimple(el, inner));
}

export class FakeElement {
  constructor(tag, attrs = {}, children = [], { ns = HTML_NS } = {}) {
    this.nodeType = 1;
    this.localName = tag.toLowerCase();
    this.tagName = tag.toUpperCase();
    this.namespaceURI = ns;
    this.attrs = Object.assign({}, attrs);
    this.parentNode = null;
    this.children = [];
    for (const child of children) this.append(child);
  }
  get parentElement() {
    return this.parentNode && this.parentNode.nodeType === 1 ? this.parentNode : null;
  }
  append(child) {
    const node = typeof child === "string" ? new FakeText(child) : child;
    node.parentNode = this;
    this.children.push(node);
    return node;
  }
  getAttribute(name) {
    return Object.prototype.hasOwnProperty.call(this.attrs, name) ? this.attrs[name] : null;
  }
  hasAttribute(name) {
    return this.getAttribute(name) !== null;
  }
  get classList() {
    const names = (this.getAttribute("class") || "").split(/\s+/).filter(Boolean);
    return { contains: (name) => names.includes(name) };
  }
  get textContent() {
    return this.children.map((c) => c.textContent).join("");
  }
  matches(selector) {
    return selector.split(",").some((s) => matchesSimple(this, s));
  }
  closest(selector) {
    for (let node = this; node && node.nodeType === 1; node = node.parentNode) {
      if (node.matches(selector)) return node;
    }
    return null;
  }
}

export class FakeText {
  constructor(text) {
    this.nodeType = 3;
    this.data = text;
    this.parentNode = null;
  }
  get parentElement() {
    return this.parentNode && this.parentNode.nodeType === 1 ? this.parentNode : null;
  }
  get textContent() {
    return this.data;
  }
}

/** h("a", {href: "/x"}, "text", h(...)) */
export function h(tag, attrs = {}, ...children) {
  return new FakeElement(tag, attrs, children);
}

export function svg(tag, attrs = {}, ...children) {
  return new FakeElement(tag, attrs, children, { ns: SVG_NS });
}
