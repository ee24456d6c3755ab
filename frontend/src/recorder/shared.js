// What the lazy chunks take from the loader instead of carrying copies of the modules (build.mjs
// SHARED_MODULES; no two of them export the same name); the loader registers it as
// window.__sentieroChunks.shared. Run from source (tests) it holds every export of those
// modules; the build replaces this file in the loader with one holding only the names the
// chunks import (build.mjs sharedNames).

import * as chunks from "./chunks.js";
import * as config from "./config.js";
import * as cookies from "./cookies.js";
import * as gate from "./gate.js";
import * as ids from "./ids.js";
import * as optOut from "./opt_out.js";
import * as session from "./session.js";
import * as storage from "./storage.js";

export const SHARED = Object.assign({}, chunks, config, cookies, gate, ids, optOut, session,
  storage);
