// rrweb record options with Sentiero's privacy rules enforced (inventory §2.8):
// all inputs masked unless the server explicitly sends maskAllInputs: false, passwords masked
// always (even inside data-sentiero-unmask), and data-sentiero-unmask as the only way to show
// an input's or a masked text's real value. While inputs are masked, text typed into
// contenteditable elements is masked too (rrweb records it as DOM text, not as input).
//
// A masked input value becomes INPUT_MASK, eight `*` whatever its length, so no length leaves
// the browser; an empty field stays empty, so the replay still shows whether something was
// typed. `preserveInputLength: true` (Settings.mask_preserve_length) keeps one `*` per
// character instead, for non-password fields only. `maskAllText: true` (Settings.mask_all_text)
// masks every text node of the page (rrweb's maskTextSelector "*"), except inside
// data-sentiero-unmask. Both are Sentiero keys of recorderOptions, removed before rrweb sees them.

export const UNMASK_ATTRIBUTE = "data-sentiero-unmask";
const UNMASK_SELECTOR = "[" + UNMASK_ATTRIBUTE + "]";

const DEFAULT_OPTIONS = {
  blockSelector: "[data-rr-block]",
  maskTextSelector: "[data-rr-mask]",
  ignoreSelector: "[data-rr-ignore]",
};
/** Editable regions: their text is user input, masked like inputs while maskAllInputs is on. */
export const CONTENTEDITABLE_SELECTOR = '[contenteditable]:not([contenteditable="false"])';
const DEFAULT_SAMPLING = { scroll: 150, input: "last" };

function attr(el, name) {
  try {
    return el && typeof el.getAttribute === "function" ? el.getAttribute(name) : null;
  } catch (_err) {
    return null;
  }
}

/** Whether el or an ancestor matches selector; false for a missing or invalid selector. */
function closestMatch(el, selector) {
  if (!selector || typeof selector !== "string") return false;
  try {
    return !!(el && typeof el.closest === "function" && el.closest(selector));
  } catch (_err) {
    return false; // an invalid selector from the server
  }
}

/**
 * True for password fields, including ones a "show password" toggle switched to type=text
 * (rrweb marks those with data-rr-is-password) and fields whose autocomplete says password.
 */
export function isPasswordField(el) {
  if (!el) return false;
  const type = String(el.type || attr(el, "type") || "").toLowerCase();
  if (type === "password") return true;
  if (attr(el, "data-rr-is-password") != null) return true;
  const autocomplete = String(attr(el, "autocomplete") || "").toLowerCase();
  return autocomplete === "current-password" || autocomplete === "new-password";
}

export function isInsideUnmask(el) {
  return closestMatch(el, UNMASK_SELECTOR);
}

/** What every masked non-empty input value becomes (twin of scrub.py's INPUT_MASK). */
export const INPUT_MASK = "********";

/**
 * rrweb maskInputFn, called for every masked input: the fixed mask, or with `keepLength` one
 * `*` per character (never for passwords); data-sentiero-unmask shows the value, except a
 * password's.
 */
function inputMasker(keepLength) {
  return (text, element) => {
    const value = text == null ? "" : String(text);
    if (!isPasswordField(element) && isInsideUnmask(element)) return value;
    if (keepLength && !isPasswordField(element)) return "*".repeat(value.length);
    return value ? INPUT_MASK : "";
  };
}

/**
 * rrweb maskTextFn, called for text under maskTextSelector: page text keeps its whitespace for
 * layout. Without `keepLength`, text typed into a contenteditable region is input: it gets the
 * fixed mask.
 */
function textMasker(keepLength) {
  return (text, element) => {
    const value = text == null ? "" : String(text);
    if (isInsideUnmask(element)) return value;
    if (!keepLength && closestMatch(element, CONTENTEDITABLE_SELECTOR)) {
      return /\S/.test(value) ? INPUT_MASK : value;
    }
    return value.replace(/\S/g, "*");
  };
}

export const maskInput = inputMasker(false);
export const maskInputKeepingLength = inputMasker(true);
export const maskText = textMasker(false);
const maskTextKeepingLength = textMasker(true);

/** Merge the server's recorderOptions over our defaults, then enforce the privacy rules. */
export function buildRecordOptions(userOptions) {
  const user = userOptions && typeof userOptions === "object" ? userOptions : {};
  const options = Object.assign({}, DEFAULT_OPTIONS, user);
  const keepLength = user.preserveInputLength === true;
  const maskAllText = user.maskAllText === true;
  delete options.preserveInputLength;
  delete options.maskAllText;
  // Canvas pixels are page content Sentiero never copies (docs/privacy.md); the recorder chunk
  // is built without rrweb's canvas recording (build.mjs), so the option is forced off here.
  options.recordCanvas = false;
  options.sampling = Object.assign(
    {},
    DEFAULT_SAMPLING,
    user.sampling && typeof user.sampling === "object" ? user.sampling : {},
  );
  options.maskAllInputs = user.maskAllInputs !== false;
  const maskInputOptions =
    user.maskInputOptions && typeof user.maskInputOptions === "object"
      ? Object.assign({}, user.maskInputOptions)
      : {};
  maskInputOptions.password = true;
  options.maskInputOptions = maskInputOptions;
  options.maskInputFn = keepLength ? maskInputKeepingLength : maskInput;
  options.maskTextFn = keepLength ? maskTextKeepingLength : maskText;
  if (maskAllText) {
    options.maskTextSelector = "*"; // every text node; data-sentiero-unmask reveals a region
  } else if (options.maskAllInputs) {
    const selector = typeof options.maskTextSelector === "string" ? options.maskTextSelector : "";
    options.maskTextSelector = selector
      ? selector + ", " + CONTENTEDITABLE_SELECTOR
      : CONTENTEDITABLE_SELECTOR;
  }
  return options;
}


/**
 * Whether the replay shows this element's text as stars or not at all (blocked), given the
 * options from buildRecordOptions. Features that copy page text into events (a link's text)
 * drop it in that case, so they never reveal what the recording hides.
 */
export function isTextHidden(el, options) {
  const opts = options || {};
  if (closestMatch(el, opts.blockSelector) || closestMatch(el, ".rr-block")) return true;
  const masked = closestMatch(el, opts.maskTextSelector) || closestMatch(el, ".rr-mask");
  return masked && !isInsideUnmask(el);
}
