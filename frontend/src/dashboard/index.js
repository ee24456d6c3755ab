// Dashboard bundle entry: styles (rrweb's replayer CSS, the player's, the dashboard's) and the
// page behaviours, wired from data attributes and JSON islands only (no inline script).

import "rrweb/dist/style.css";
import "./player.css";
import "./dashboard.css";
import "./analytics.css";
import "./replay.css";
import "./issues.css";

import { Replayer } from "rrweb";
import { initImportPage } from "./import_page.js";
import { initReplayPage } from "./replay_page.js";
import { initSessionsList } from "./sessions_list.js";
import { initSharePage } from "./share_page.js";
import { initHeatmap } from "./heatmap.js";

/* global __SENTIERO_PAGE_WORKER_FILE__ */
// page_worker.js as built (build.mjs), next to this bundle: currentScript is only set while
// this script runs synchronously, so resolve it now.
const PAGE_WORKER_URL = (() => {
  const script = document.currentScript;
  if (typeof __SENTIERO_PAGE_WORKER_FILE__ !== "string" || !script || !script.src) return null;
  try {
    return new URL(__SENTIERO_PAGE_WORKER_FILE__, script.src).href;
  } catch (_err) {
    return null;
  }
})();

function init() {
  initSessionsList(document, window);
  initReplayPage(window, document, Replayer, PAGE_WORKER_URL);
  initSharePage(window, document, Replayer);
  initImportPage(window, document, Replayer);
  initHeatmap(document, window, Replayer);
}

if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", init, { once: true });
} else {
  init();
}
