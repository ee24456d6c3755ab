// The shareable HTML file: every window of a session embedded in the page, replayed with the
// tab switcher, timeline and sidebar, with no server and no network (the file's CSP forbids
// every fetch; the player reads the embedded events through embeddedFetch).

import { embeddedData, embeddedFetch } from "./embedded.js";
import { bindReplayKeys, mountReplay, readJsonIsland } from "./replay_page.js";

export function switchableReplay(win, doc, Replayer, windows, tabsRoot, firstId) {
  const store = new Map(windows.map((w) => [w.id, w]));
  const fetchFn = embeddedFetch(store);
  let view = null;
  const buttons = new Map();
  const show = (id) => {
    if (view) view.destroy();
    for (const [wid, button] of buttons) {
      button.setAttribute("aria-pressed", wid === id ? "true" : "false");
      button.classList.toggle("active", wid === id);
    }
    view = mountReplay(win, doc, embeddedData(id, null), fetchFn, Replayer);
    view.start();
  };
  if (tabsRoot) {
    tabsRoot.textContent = "";
    tabsRoot.hidden = windows.length < 2;
    for (const w of windows) {
      const button = doc.createElement("button");
      button.type = "button";
      button.className = "tab";
      button.textContent = w.label + " · " + w.events.length + " events";
      button.title = w.id;
      button.addEventListener("click", () => show(w.id));
      buttons.set(w.id, button);
      tabsRoot.appendChild(button);
    }
  }
  bindReplayKeys(win, doc, () => view);
  show(store.has(firstId) ? firstId : windows[0].id);
  return () => view;
}

export function initSharePage(win, doc, Replayer) {
  const data = readJsonIsland(doc, "sentiero-share-data");
  if (!data || !Array.isArray(data.windows) || !data.windows.length) return;
  const windows = data.windows.map((w) => ({
    id: String(w.id),
    label: String(w.label || w.id),
    events: Array.isArray(data.events && data.events[w.id]) ? data.events[w.id] : [],
    items: Array.isArray(data.activity && data.activity[w.id]) ? data.activity[w.id] : [],
  }));
  // rrweb keeps its iframe's document open; created before the page's load event it would
  // hold that event back for good, so the replay starts once the file has loaded.
  const start = () => switchableReplay(win, doc, Replayer, windows,
    doc.getElementById("share-tabs"), data.mainWindow);
  if (doc.readyState === "complete") start();
  else win.addEventListener("load", start, { once: true });
}
