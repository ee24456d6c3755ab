import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { initConfirmForms, initSelectAll } from "../src/dashboard/sessions_list.js";

function fakeDoc(all, boxes) {
  const listeners = {};
  return {
    listeners,
    querySelector: (sel) => (sel.includes("select-all") ? all : null),
    querySelectorAll: () => boxes,
    addEventListener: (type, fn) => (listeners[type] ||= []).push(fn),
    fire(type, event) {
      for (const fn of listeners[type] || []) fn(event);
    },
  };
}

function checkbox(name) {
  const listeners = {};
  return {
    name,
    checked: false,
    indeterminate: false,
    addEventListener: (type, fn) => (listeners[type] ||= []).push(fn),
    fire(type) {
      for (const fn of listeners[type] || []) fn({ target: this });
    },
  };
}

describe("sessions list", () => {
  it("select-all toggles every session checkbox and reflects partial selections", () => {
    const all = checkbox("");
    const boxes = [checkbox("session_ids"), checkbox("session_ids[]")];
    const doc = fakeDoc(all, boxes);
    initSelectAll(doc);
    all.checked = true;
    all.fire("change");
    assert.deepEqual(boxes.map((b) => b.checked), [true, true]);
    boxes[0].checked = false;
    doc.fire("change", { target: boxes[0] });
    assert.equal(all.checked, false);
    assert.equal(all.indeterminate, true);
  });

  it("forms with data-confirm submit only when confirmed", () => {
    const doc = fakeDoc(null, []);
    let answer = false;
    const asked = [];
    initConfirmForms(doc, { confirm: (m) => (asked.push(m), answer) });
    const form = { getAttribute: (n) => (n === "data-confirm" ? "Delete this session?" : null) };
    let prevented = 0;
    const submit = () => ({ target: form, preventDefault: () => prevented++, stopImmediatePropagation() {} });
    doc.fire("submit", submit());
    answer = true;
    doc.fire("submit", submit());
    doc.fire("submit", { target: { getAttribute: () => null }, preventDefault: () => prevented++ });
    assert.deepEqual(asked, ["Delete this session?", "Delete this session?"]);
    assert.equal(prevented, 1);
  });
});

describe("bulk delete bar", () => {
  it("shows the selection count and hides while nothing is selected", async () => {
    const { updateBulkBar } = await import("../src/dashboard/sessions_list.js");
    const count = { textContent: "" };
    const attrs = {};
    const form = { hidden: false, querySelector: () => count,
      setAttribute: (k, v) => { attrs[k] = v; } };
    const boxes = [checkbox("session_ids[]"), checkbox("session_ids[]"), checkbox("session_ids[]")];
    const doc = { getElementById: () => form, querySelectorAll: () => boxes };
    updateBulkBar(doc);
    assert.equal(form.hidden, true);
    boxes[0].checked = true;
    boxes[2].checked = true;
    updateBulkBar(doc);
    assert.equal(form.hidden, false);
    assert.equal(count.textContent, "2 selected");
    assert.equal(attrs["data-confirm"], "Delete the 2 selected sessions?");
  });
});
