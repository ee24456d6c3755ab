import assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
  CONTENTEDITABLE_SELECTOR,
  INPUT_MASK,
  buildRecordOptions,
  isTextHidden,
  maskInput,
  maskInputKeepingLength,
  maskText,
} from "../src/recorder/masking.js";

function element({ type = "text", attrs = {}, unmasked = false } = {}) {
  return {
    type,
    getAttribute: (name) => (name in attrs ? attrs[name] : null),
    closest: (selector) => (selector === "[data-sentiero-unmask]" && unmasked ? {} : null),
  };
}

describe("record options", () => {
  it("never records canvas pixels, even when the server options ask for it", () => {
    assert.equal(buildRecordOptions({ recordCanvas: true }).recordCanvas, false);
  });

  it("masks all inputs and passwords by default", () => {
    const options = buildRecordOptions({});
    assert.equal(options.maskAllInputs, true);
    assert.equal(options.maskInputOptions.password, true);
    assert.equal(options.maskInputFn, maskInput);
    assert.equal(options.blockSelector, "[data-rr-block]");
    assert.equal(options.maskTextSelector, "[data-rr-mask], " + CONTENTEDITABLE_SELECTOR);
    assert.equal(options.ignoreSelector, "[data-rr-ignore]");
    assert.deepEqual(options.sampling, { scroll: 150, input: "last" });
  });

  it("lets the server turn maskAllInputs off explicitly, never password masking", () => {
    const options = buildRecordOptions({
      maskAllInputs: false,
      maskInputOptions: { password: false, email: true },
      sampling: { scroll: 50 },
      blockSelector: ".secret",
    });
    assert.equal(options.maskAllInputs, false);
    assert.deepEqual(options.maskInputOptions, { password: true, email: true });
    assert.deepEqual(options.sampling, { scroll: 50, input: "last" });
    assert.equal(options.blockSelector, ".secret");
    assert.equal(options.maskTextSelector, "[data-rr-mask]", "contenteditable follows maskAllInputs");
  });

  it("masks contenteditable text while inputs are masked, whatever the text selector", () => {
    assert.equal(buildRecordOptions({ maskTextSelector: ".pii" }).maskTextSelector,
      ".pii, " + CONTENTEDITABLE_SELECTOR);
    assert.equal(buildRecordOptions({ maskTextSelector: null }).maskTextSelector,
      CONTENTEDITABLE_SELECTOR);
  });

  it("treats anything but an explicit false as maskAllInputs: true", () => {
    for (const value of [undefined, null, 0, "false", true]) {
      assert.equal(buildRecordOptions({ maskAllInputs: value }).maskAllInputs, true, String(value));
    }
  });
});

describe("maskInputFn", () => {
  it("masks passwords always with the fixed mask, whatever their length, even when unmasked", () => {
    for (const typed of ["hunter2", "correct-horse-batt19", "a"]) {
      assert.equal(maskInput(typed, element({ type: "password" })), INPUT_MASK);
      assert.equal(maskInputKeepingLength(typed, element({ type: "password" })), INPUT_MASK);
    }
    assert.equal(maskInput("hunter2", element({ type: "password", unmasked: true })), INPUT_MASK);
    assert.equal(maskInput("hunter2", element({ type: "text", unmasked: true,
      attrs: { "data-rr-is-password": "true" } })), INPUT_MASK, "shown-password toggle");
    assert.equal(maskInput("abc", element({ unmasked: true,
      attrs: { autocomplete: "current-password" } })), INPUT_MASK);
    assert.equal(INPUT_MASK, "********");
  });

  it("gives every masked value the same mask, an empty field stays empty", () => {
    assert.equal(maskInput("Berlin", element()), INPUT_MASK);
    assert.equal(maskInput("a.much.longer.address@example.org", element()), INPUT_MASK);
    assert.equal(maskInput("", element()), "");
    assert.equal(maskInput(null, null), "");
  });

  it("unmasks only inside data-sentiero-unmask", () => {
    assert.equal(maskInput("Berlin", element({ unmasked: true })), "Berlin");
  });

  it("keeps the length only when asked, and never for passwords", () => {
    assert.equal(maskInputKeepingLength("Berlin", element()), "******");
    const options = buildRecordOptions({ preserveInputLength: true });
    assert.equal(options.maskInputFn, maskInputKeepingLength);
    assert.equal("preserveInputLength" in options, false, "not an rrweb option");
    assert.equal(buildRecordOptions({ preserveInputLength: "yes" }).maskInputFn, maskInput);
  });

  it("maskTextFn keeps whitespace and unmasked subtrees; editable text gets the fixed mask", () => {
    assert.equal(maskText("Jane Doe\n42", element()), "**** ***\n**");
    assert.equal(maskText("Jane Doe", element({ unmasked: true })), "Jane Doe");
    const editable = { closest: (sel) => (sel === CONTENTEDITABLE_SELECTOR ? {} : null) };
    assert.equal(maskText("typed into a rich text box", editable), INPUT_MASK);
    assert.equal(maskText("  ", editable), "  ");
  });
});

describe("maskAllText", () => {
  it("masks every text node, and only Sentiero sees the option", () => {
    const options = buildRecordOptions({ maskAllText: true, maskTextSelector: ".pii" });
    assert.equal(options.maskTextSelector, "*");
    assert.equal("maskAllText" in options, false);
    assert.equal(isTextHidden({ closest: (sel) => (sel === "*" ? {} : null) }, options), true);
    const unmasked = { closest: (sel) => (sel === "*" || sel === "[data-sentiero-unmask]" ? {} : null) };
    assert.equal(isTextHidden(unmasked, options), false);
    assert.equal(options.maskTextFn("Jane Doe", unmasked), "Jane Doe");
  });
});

describe("isTextHidden", () => {
  // closest() answers from a set of selectors the element "is inside".
  const el = (inside) => ({ closest: (sel) => (sel.split(", ").some((s) => inside.includes(s)) ? {} : null) });
  const options = buildRecordOptions({});

  it("is true for blocked and masked text, false elsewhere and inside data-sentiero-unmask", () => {
    assert.equal(isTextHidden(el([]), options), false);
    assert.equal(isTextHidden(el(["[data-rr-block]"]), options), true);
    assert.equal(isTextHidden(el([".rr-block"]), options), true);
    assert.equal(isTextHidden(el(["[data-rr-mask]"]), options), true);
    assert.equal(isTextHidden(el([CONTENTEDITABLE_SELECTOR]), options), true);
    assert.equal(isTextHidden(el(["[data-rr-mask]", "[data-sentiero-unmask]"]), options), false);
    assert.equal(isTextHidden(el(["[data-rr-block]", "[data-sentiero-unmask]"]), options), true);
  });

  it("survives invalid selectors and missing elements", () => {
    const throwing = { closest: () => { throw new Error("SyntaxError"); } };
    assert.equal(isTextHidden(throwing, { maskTextSelector: "[[" }), false);
    assert.equal(isTextHidden(null, options), false);
  });
});
