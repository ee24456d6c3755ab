// The modules the lazy chunks take from the loader instead of carrying copies (build.mjs
// SHARED_MODULES), by file name; the loader registers this as window.__sentieroChunks.shared.
// Run from source (tests) it holds every export; the build replaces this file in the loader
// with one holding only the names the chunks import (build.mjs sharedNames).

import * as chunks from "./chunks.js";
import * as config from "./config.js";
import * as cookies from "./cookies.js";
import * as gate from "./gate.js";
import * as ids from "./ids.js";
import * as optOut from "./opt_out.js";
import * as session from "./session.js";
import * as storage from "./storage.js";

export const SHARED = {
  "chunks.js": chunks,
  "config.js": config,
  "cookies.js": cookies,
  "gate.js": gate,
  "ids.js": ids,
  "opt_out.js": optOut,
  "session.js": session,
  "storage.js": storage,
};
