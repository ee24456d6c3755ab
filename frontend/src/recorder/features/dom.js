// Small DOM helpers shared by the capture features; they never throw into the host page.

export const ELEMENT_NODE = 1;
export const SVG_NS = "http://www.w3.org/2000/svg";

export function attr(el, name) {
  try {
    return el && typeof el.getAttribute === "function" ? el.getAttribute(name) : null;
  } catch (_err) {
    return null;
  }
}

/** The element an event target stands for: itself, or the parent of a text node. */
export function elementOf(node) {
  if (!node) return null;
  if (node.nodeType === ELEMENT_NODE) return node;
  return node.parentElement || null;
}

export function closest(node, selector) {
  const el = elementOf(node);
  try {
    return el && typeof el.closest === "function" ? el.closest(selector) : null;
  } catch (_err) {
    return null;
  }
}

/**
 * Listen on `target` in the capture phase (so a page's stopPropagation cannot hide the event)
 * and return the function that removes the listener. Errors in `fn` never reach the page.
 */
export function listen(target, type, fn) {
  const handler = (event) => {
    try {
      fn(event);
    } catch (_err) {
      // a capture feature must never break the host page
    }
  };
  target.addEventListener(type, handler, true);
  return () => target.removeEventListener(type, handler, true);
}

/** `location.href` without throwing (sandboxed or detached documents). */
export function currentHref(win, doc) {
  try {
    const loc = (win && win.location) || (doc && doc.location);
    return loc && typeof loc.href === "string" ? loc.href : "";
  } catch (_err) {
    return "";
  }
}
