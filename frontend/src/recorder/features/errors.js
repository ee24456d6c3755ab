// captureErrors: uncaught errors and unhandled promise rejections as `error` custom events
// (payload shape per inventory §2.10).

const MAX_ERRORS_PER_PAGE = 100;
const MAX_TEXT = 2000;
const MAX_STACK = 8000;

function text(value, max) {
  const s = value == null ? "" : String(value);
  return s.length > max ? s.slice(0, max) : s;
}

export function errorPayload(event) {
  const error = event && event.error;
  return {
    message: text((event && event.message) || (error && error.message) || "Unknown error", MAX_TEXT),
    source: text((event && event.filename) || "", MAX_TEXT),
    lineno: (event && Number(event.lineno)) || 0,
    colno: (event && Number(event.colno)) || 0,
    stack: text((error && error.stack) || "", MAX_STACK),
  };
}

export function rejectionPayload(event) {
  const reason = event ? event.reason : undefined;
  let message = "Unhandled Promise rejection";
  if (reason && typeof reason === "object" && reason.message) message = String(reason.message);
  else if (typeof reason === "string" && reason) message = reason;
  return {
    message: text(message, MAX_TEXT),
    type: "unhandledrejection",
    stack: text((reason && typeof reason === "object" && reason.stack) || "", MAX_STACK),
  };
}

/** Feature plug: `(ctx) => teardown`. ctx.addCustomEvent records into the session. */
export function captureErrors(ctx) {
  const win = ctx.window;
  let count = 0;
  let busy = false;
  const emit = (payload) => {
    if (busy || count >= MAX_ERRORS_PER_PAGE) return;
    busy = true; // an error thrown while reporting must not loop
    try {
      count++;
      ctx.addCustomEvent("error", payload);
    } catch (_err) {
      // never throw into the host page
    } finally {
      busy = false;
    }
  };
  const onError = (event) => emit(errorPayload(event));
  const onRejection = (event) => emit(rejectionPayload(event));
  win.addEventListener("error", onError);
  win.addEventListener("unhandledrejection", onRejection);
  return () => {
    win.removeEventListener("error", onError);
    win.removeEventListener("unhandledrejection", onRejection);
  };
}
