// What rrweb holds back and a page leaving would lose, emitted by us when the page is hidden or
// left (recorder.js calls flush() just before the transport's own hide handling).
//
// * Text inputs under sampling.input "last" (our default): rrweb records a text field only on
//   its `change` event, which fires when the field loses focus. Leaving the page (or the tab)
//   with the field still focused fires no `change`, so everything typed into it was lost. We
//   note fields that got `input` events since the last flush and, on flush, emit rrweb's own
//   Input event for them, masked exactly like rrweb masks it (same options, same maskInputFn),
//   skipping blocked and ignored fields like rrweb does.
// * Scroll: rrweb throttles scroll events (sampling.scroll), so the final position of a scroll
//   that ended less than one throttle window before the page was left sits in a timer that never
//   fires. On flush we emit the current position of every target scrolled since the last flush.
//
// A value rrweb records anyway later (the page lives on) is a harmless duplicate: the replayer
// just sets the same value or position again.

export const INCREMENTAL_SNAPSHOT = 3;
export const SOURCE_SCROLL = 3;
export const SOURCE_INPUT = 5;

/** rrweb's maskInputOptions for maskAllInputs: true (record/index.ts). */
const MASK_ALL_INPUT_OPTIONS = Object.freeze({
  color: true, date: true, "datetime-local": true, email: true, month: true, number: true,
  range: true, search: true, tel: true, text: true, time: true, url: true, week: true,
  textarea: true, select: true, password: true,
});

/** Input types whose value is not typed text: rrweb records those on `change`/`click` anyway. */
const NOT_TYPED = new Set(["checkbox", "radio", "file", "button", "submit", "reset", "image",
  "hidden"]);

/** The maskInputOptions rrweb derives from its record options. */
export function effectiveMaskInputOptions(options) {
  if (options.maskAllInputs === true) return MASK_ALL_INPUT_OPTIONS;
  return options.maskInputOptions || { password: true };
}

function eventTarget(event) {
  try {
    if (event && typeof event.composedPath === "function") {
      const path = event.composedPath();
      if (path && path.length) return path[0];
    }
  } catch (_err) {
    // fall back to target
  }
  return event ? event.target : null;
}

/** rrweb's getInputType: data-rr-is-password makes a revealed password stay a password. */
function inputType(el) {
  if (typeof el.hasAttribute === "function" && el.hasAttribute("data-rr-is-password")) {
    return "password";
  }
  return el.type ? String(el.type).toLowerCase() : "";
}

function isTypedField(el) {
  if (!el || typeof el.tagName !== "string") return false;
  const tag = el.tagName.toUpperCase();
  if (tag === "TEXTAREA") return true;
  return tag === "INPUT" && !NOT_TYPED.has(inputType(el));
}

/** rrweb's isBlocked(node, blockClass, blockSelector, checkAncestors = true). */
export function isBlocked(el, options) {
  const blockClass = options.blockClass === undefined ? "rr-block" : options.blockClass;
  try {
    if (typeof blockClass === "string") {
      if (blockClass && el.closest("." + blockClass) !== null) return true;
    } else if (blockClass) {
      return true; // a RegExp (not expressible in our JSON config): fail closed
    }
    if (options.blockSelector && el.closest(options.blockSelector) !== null) return true;
  } catch (_err) {
    return true; // an invalid selector: never emit what rrweb might have blocked
  }
  return false;
}

/** rrweb's input observer skips elements with ignoreClass or matching ignoreSelector. */
function isIgnored(el, options) {
  const ignoreClass = options.ignoreClass === undefined ? "rr-ignore" : options.ignoreClass;
  try {
    if (typeof ignoreClass === "string" && ignoreClass && el.classList &&
        el.classList.contains(ignoreClass)) return true;
    if (options.ignoreSelector && el.matches(options.ignoreSelector)) return true;
  } catch (_err) {
    return true;
  }
  return false;
}

/** The text rrweb's input observer records for a field (masking included). */
export function inputText(el, options) {
  const value = el.value == null ? "" : String(el.value);
  const maskOptions = effectiveMaskInputOptions(options);
  const tag = String(el.tagName).toLowerCase();
  const type = inputType(el);
  if (maskOptions[tag] || (type && maskOptions[type])) {
    return typeof options.maskInputFn === "function"
      ? options.maskInputFn(value, el)
      : "*".repeat(value.length);
  }
  return value;
}

/**
 * @param {object} o document, recordOptions (from buildRecordOptions), mirror (rrweb's
 *   record.mirror), emit(event), now()
 * @returns {{flush(): number, stop(): void}} flush returns how many events it emitted.
 */
export function trackPending(o) {
  const doc = o.document;
  const options = o.recordOptions || {};
  const sampling = options.sampling || {};
  const typedOnChangeOnly = sampling.input === "last";
  const dirty = new Set(); // fields typed into since the last flush
  const scrolled = new Set(); // scroll targets since the last flush

  const mirrorId = (node) => {
    try {
      const id = o.mirror && typeof o.mirror.getId === "function" ? o.mirror.getId(node) : -1;
      return typeof id === "number" && id > 0 ? id : -1;
    } catch (_err) {
      return -1;
    }
  };

  const onInput = (event) => {
    const el = eventTarget(event);
    if (isTypedField(el)) dirty.add(el);
  };
  const onScroll = (event) => {
    const target = eventTarget(event);
    if (target) scrolled.add(target);
  };

  const listen = { capture: true, passive: true };
  if (typedOnChangeOnly) doc.addEventListener("input", onInput, listen);
  doc.addEventListener("scroll", onScroll, listen);

  function emitIncremental(data) {
    o.emit({ type: INCREMENTAL_SNAPSHOT, data, timestamp: o.now() });
  }

  function flushInput(el) {
    if (el.isConnected === false || isBlocked(el, options) || isIgnored(el, options)) return 0;
    const id = mirrorId(el);
    if (id < 0) return 0;
    const data = { source: SOURCE_INPUT, text: inputText(el, options), isChecked: false };
    if (options.userTriggeredOnInput) data.userTriggered = true;
    data.id = id;
    emitIncremental(data);
    return 1;
  }

  function flushScroll(target) {
    if (target === doc) {
      const id = mirrorId(doc);
      if (id < 0) return 0;
      const win = doc.defaultView || {};
      const root = doc.scrollingElement || doc.documentElement || {};
      const x = doc.scrollingElement ? root.scrollLeft : win.pageXOffset || 0;
      const y = doc.scrollingElement ? root.scrollTop : win.pageYOffset || 0;
      emitIncremental({ source: SOURCE_SCROLL, id, x, y });
      return 1;
    }
    if (target.isConnected === false || isBlocked(target, options)) return 0;
    const id = mirrorId(target);
    if (id < 0) return 0;
    emitIncremental({ source: SOURCE_SCROLL, id, x: target.scrollLeft, y: target.scrollTop });
    return 1;
  }

  return {
    flush() {
      let emitted = 0;
      const fields = [...dirty];
      const targets = [...scrolled];
      dirty.clear();
      scrolled.clear();
      for (const target of targets) {
        try {
          emitted += flushScroll(target);
        } catch (_err) {
          // a node that went away: nothing to record
        }
      }
      for (const el of fields) {
        try {
          emitted += flushInput(el);
        } catch (_err) {
          // never let one field stop the page-hide delivery
        }
      }
      return emitted;
    },
    stop() {
      dirty.clear();
      scrolled.clear();
      doc.removeEventListener("input", onInput, listen);
      doc.removeEventListener("scroll", onScroll, listen);
    },
  };
}
