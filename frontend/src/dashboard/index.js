// Dashboard bundle entry: styles (rrweb's replayer CSS, the player's, the dashboard's) and the
// page behaviours, wired from data attributes and JSON islands only (no inline script).

import "rrweb/dist/style.css";
import "./player.css";
import "./dashboard.css";
import "./analytics.css";

import { Replayer } from "rrweb";
import { Player } from "./player.js";
import { initSessionsList } from "./sessions_list.js";

const DATA_ELEMENT_ID = "sentiero-replay-data";
const PLAYER_ELEMENT_ID = "sentiero-player";

function readJsonIsland(doc, id) {
  const node = doc.getElementById(id);
  if (!node) return null;
  try {
    return JSON.parse(node.textContent || "null");
  } catch (_err) {
    return null;
  }
}

function initReplayPage(win, doc) {
  const root = doc.getElementById(PLAYER_ELEMENT_ID);
  if (!root) return;
  const data = readJsonIsland(doc, DATA_ELEMENT_ID);
  const player = new Player({
    root,
    data: data || {},
    Replayer,
    fetch: (url, init) => win.fetch(url, init),
    win,
    doc,
  });
  if (!data) {
    player.fail(new Error("the page has no replay data"));
    return;
  }
  player.load();
}

function init() {
  initSessionsList(document, window);
  initReplayPage(window, document);
}

if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", init, { once: true });
} else {
  init();
}
