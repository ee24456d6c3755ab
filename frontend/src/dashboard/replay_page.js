// The replay page (`/sessions/<sid>/windows/<wid>`): one ReplayView fed by the dashboard's API,
// plus the page's keyboard shortcuts and help overlay.

import { KeyboardHelp, bindPageKeys } from "./keyboard_help.js";
import { ReplayView } from "./replay_view.js";

export function readJsonIsland(doc, id) {
  const node = doc.getElementById(id);
  if (!node) return null;
  try {
    return JSON.parse(node.textContent || "null");
  } catch (_err) {
    return null;
  }
}

/**
 * Build a ReplayView from the page's standard element ids; `pageWorkerUrl` (the built
 * page_worker.js) downloads events pages off the main thread.
 */
export function mountReplay(win, doc, data, fetchFn, Replayer, pageWorkerUrl) {
  const byId = (id) => doc.getElementById(id);
  const view = new ReplayView({
    doc, win, data, Replayer,
    fetch: fetchFn,
    pageWorkerUrl,
    playerRoot: byId("sentiero-player"),
    timelineRoot: byId("replay-timeline"),
    sidebarRoot: byId("replay-activity"),
    urlRoot: byId("replay-url"),
    badgesRoot: byId("replay-live-badges"),
    clicksButton: byId("replay-clicks"),
  });
  return view;
}

/** Keyboard shortcuts of a page showing `current()` (a ReplayView, or null between tabs). */
export function bindReplayKeys(win, doc, current) {
  if (doc.__sentieroKeys) { // bound once per page; a new replay (import, tab) takes over
    doc.__sentieroKeys.current = current;
    return doc.__sentieroKeys.help;
  }
  const help = new KeyboardHelp(doc, win);
  const keys = { help, current };
  doc.__sentieroKeys = keys;
  current = () => keys.current();
  const helpButton = doc.getElementById("replay-help");
  if (helpButton) helpButton.addEventListener("click", () => help.toggle());
  bindPageKeys(doc, {
    help,
    toggleHelp: () => help.toggle(),
    next: () => current() && current().step(1),
    previous: () => current() && current().step(-1),
    toggleClicks: () => {
      const view = current();
      if (view && view.clickOverlay) view.clickOverlay.toggle();
    },
    search: () => current() && current().sidebar && current().sidebar.focusSearch(),
  });
  return help;
}

export function initReplayPage(win, doc, Replayer, pageWorkerUrl) {
  const root = doc.getElementById("sentiero-player");
  if (!root || !doc.getElementById("sentiero-replay-data")) return;
  const data = readJsonIsland(doc, "sentiero-replay-data");
  const view = mountReplay(win, doc, data || {}, (url, init) => win.fetch(url, init), Replayer,
    pageWorkerUrl);
  bindReplayKeys(win, doc, () => view);
  if (!data) {
    view.start = () => null;
    root.textContent = "Failed to load session events: the page has no replay data";
    return;
  }
  view.start();
  // the incident panel's moments (?incident=): seek without leaving the page
  for (const button of doc.querySelectorAll("[data-seek-ms]")) {
    button.addEventListener("click", () => view.seekTo(Number(button.dataset.seekMs)));
  }
}
