// The one way the dashboard builds DOM: elements with attributes and text content only. Strings
// that came from a recording are only ever set as text or attribute values, never parsed as HTML.

export function el(doc, tag, attrs, text) {
  const node = doc.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value == null || value === false) continue;
    if (key === "className") node.className = value;
    else if (key === "hidden") node.hidden = true;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  if (text != null) node.textContent = String(text);
  return node;
}

export function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
}
