// trackForms: form submits as `__form_submit` {name?, id?, url} (inventory §2.10). Only the
// form's own name and id attributes are read (never a field, never a value); the url is the
// page's, redacted by the transport like every URL.

import { attr, currentHref, elementOf, listen } from "./dom.js";

const MAX_ATTR = 200;

function attribute(form, name) {
  const value = attr(form, name);
  return typeof value === "string" && value.trim() ? value.trim().slice(0, MAX_ATTR) : null;
}

/**
 * Attributes are read with getAttribute: `form.name` / `form.id` would return an input named
 * "name" or "id" (form controls shadow those properties), which could leak its value.
 */
export function formSubmitPayload(form, pageHref) {
  const payload = {};
  const name = attribute(form, "name");
  const id = attribute(form, "id");
  if (name) payload.name = name;
  if (id) payload.id = id;
  payload.url = pageHref || "";
  return payload;
}

export function trackForms(ctx) {
  const doc = ctx.document;
  return listen(doc, "submit", (event) => {
    const form = elementOf(event.target);
    if (!form) return;
    ctx.addCustomEvent("__form_submit", formSubmitPayload(form, currentHref(ctx.window, doc)));
  });
}
