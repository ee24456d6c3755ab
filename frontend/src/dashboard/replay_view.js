// One window's replay with everything around it: the player, the timeline, the activity
// sidebar, the URL bar, badges and the click overlay. Used by the replay page, the shareable
// HTML file and the import page (the last two hand it a fetch that answers from memory).

import {
  activeTime,
  bursts,
  derivedEventItems,
  derivedFrustrationItems,
  derivedInputItems,
  derivedPageItems,
  deriveFromEvents,
  enrichItems,
  findGaps,
  latestVitals,
  mergeItems,
  newDerivation,
  pageAtOffset,
} from "./activity_model.js";
import { Badges, ClickOverlay, IncidentMarkers, UrlBar } from "./overlays.js";
import { Player, fetchJson } from "./player.js";
import { Sidebar } from "./sidebar.js";
import { Timeline } from "./timeline.js";

const REFRESH_MS = 250;
const FIELD_LABEL_MAX = 60;

export class ReplayView {
  /**
   * @param {object} o doc, win, data (the replay-data island), fetch, Replayer, and elements:
   *   playerRoot, timelineRoot, sidebarRoot, urlRoot, badgesRoot, clicksButton (optional).
   */
  constructor(o) {
    this.o = o;
    this.doc = o.doc;
    this.win = o.win;
    this.data = o.data || {};
    this.facts = [];
    this.items = [];
    this.acc = newDerivation();
    this.activeIntervals = [];
    this.activityError = null;
  }

  start() {
    const o = this.o;
    const player = new Player({ root: o.playerRoot, data: this.data, Replayer: o.Replayer,
      fetch: o.fetch, win: o.win, doc: o.doc, pageWorkerUrl: o.pageWorkerUrl });
    this.player = player;
    const seek = (offset) => this.seekTo(offset);
    this.timeline = o.timelineRoot ? new Timeline({ root: o.timelineRoot, doc: o.doc,
      onSeek: seek }) : null;
    this.sidebar = o.sidebarRoot ? new Sidebar({ root: o.sidebarRoot, doc: o.doc, onSeek: seek,
      fieldLabel: (id) => this.fieldLabel(id) }) : null;
    this.urlBar = o.urlRoot ? new UrlBar(o.doc, o.urlRoot) : null;
    this.badges = o.badgesRoot ? new Badges(o.doc, o.badgesRoot) : null;

    player.on("ready", () => {
      this.clickOverlay = new ClickOverlay(o.doc, player.stageEl, o.clicksButton || null);
      if (o.clicksButton) o.clicksButton.hidden = false;
      if (this.data.incident) {
        this.incidentMarkers = new IncidentMarkers(o.doc, player.stageEl, this.data.incident,
          player.viewport);
      }
      this.refresh();
    });
    player.on("events", (events) => {
      deriveFromEvents(this.acc, events);
      for (const run of bursts(events.map((e) => e && e.timestamp))) this.activeIntervals.push(run);
      this.scheduleRefresh();
    });
    player.on("time", (offset) => this.onTime(offset));
    this.win.__sentieroReplay = this;

    if (this.data.activityUrl) {
      fetchJson(o.fetch, this.data.activityUrl).then((activity) => {
        this.facts = Array.isArray(activity && activity.items) ? activity.items : [];
        this.scheduleRefresh();
      }, (err) => {
        this.activityError = err;
        this.scheduleRefresh();
      });
    }
    return player.load();
  }

  destroy() {
    if (this.refreshTimer) this.win.clearTimeout(this.refreshTimer);
    if (this.player) this.player.destroy();
  }

  seekTo(offset) {
    const player = this.player;
    if (!player || !player.replayer) return;
    const playing = player.isPlaying() || player.stalled;
    player.seek(offset, playing);
  }

  scheduleRefresh() {
    if (this.refreshTimer) return;
    this.refreshTimer = this.win.setTimeout(() => {
      this.refreshTimer = null;
      this.refresh();
    }, REFRESH_MS);
  }

  /** Rebuild items, gaps and badges from the facts and what the loaded events add. */
  refresh() {
    const player = this.player;
    if (!player || !player.replayer) return;
    const firstMs = player.firstMs;
    const facts = enrichItems(this.facts, this.acc);
    const factPages = facts.filter((i) => i.kind === "page_view");
    const pages = factPages.length ? factPages : derivedPageItems(this.acc, firstMs);
    const pageAt = (ts) => pageAtOffset(pages, ts - firstMs);
    const derived = derivedPageItems(this.acc, firstMs)
      .concat(derivedInputItems(this.acc, firstMs, pageAt))
      .concat(derivedEventItems(this.acc, firstMs, pageAt))
      // judged only over the whole recording: a click at the edge of a loaded stretch is not dead
      .concat(player.loadingDone ? derivedFrustrationItems(this.acc, firstMs, pageAt) : []);
    this.items = mergeItems(facts, derived);
    this.pages = this.items.filter((i) => i.kind === "page_view");

    const totalMs = player.totalMs;
    const intervals = this.activeIntervals.map(([a, b]) => [a - firstMs, b - firstMs]);
    for (const chunk of player.chunks) {
      if (!player.loaded.has(chunk.index)) {
        intervals.push([chunk.first_ms - firstMs, chunk.last_ms - firstMs]);
      }
    }
    for (const item of this.items) intervals.push([item.offset_ms, item.offset_ms]);
    this.gaps = findGaps(intervals, totalMs);
    if (this.timeline) this.timeline.update(this.items, this.gaps, totalMs);
    if (this.sidebar) {
      this.sidebar.update(this.items);
      if (this.activityError && !this.items.length) {
        this.sidebar.empty.hidden = false;
        this.sidebar.empty.textContent = "Could not load the activity: " +
          ((this.activityError && this.activityError.message) || String(this.activityError));
      }
    }
    const viewport = this.viewport();
    if (this.badges) {
      let maxY = this.acc.maxScrollY;
      let vh = viewport ? viewport.height : 0;
      for (const item of this.items) {
        if (item.kind !== "scroll" || !item.detail) continue;
        if (item.detail.depth_px > maxY) maxY = item.detail.depth_px;
        if (item.detail.vh > 0) vh = item.detail.vh;
      }
      this.badges.update({
        viewport,
        scroll: { maxY, viewportHeight: vh },
        vitals: latestVitals(this.items, this.acc),
        time: { activeMs: activeTime(totalMs, this.gaps), totalMs, complete: player.loadingDone },
      });
    }
    if (this.clickOverlay) {
      const clicks = this.items
        .filter((i) => i.kind === "click" && i.detail && Number.isFinite(i.detail.x) &&
          Number.isFinite(i.detail.y))
        .map((i) => ({ x: i.detail.x, y: i.detail.y, vw: i.detail.vw, vh: i.detail.vh }));
      this.clickOverlay.update(clicks, viewport);
    }
    this.onTime(player.currentTime(), true);
  }

  viewport() {
    const first = this.items.find((i) => i.kind === "page_view" && i.detail &&
      typeof i.detail.viewport === "string");
    if (first) {
      const [w, h] = first.detail.viewport.split("x").map(Number);
      if (w > 0 && h > 0) return { width: w, height: h };
    }
    if (this.acc.viewport) return { width: this.acc.viewport.width,
      height: this.acc.viewport.height };
    return this.player && this.player.viewport;
  }

  onTime(offset) {
    if (this.timeline) this.timeline.setTime(offset);
    if (this.sidebar) this.sidebar.setTime(offset);
    if (this.urlBar) this.urlBar.set(pageAtOffset(this.pages || [], offset));
  }

  /** A form field's name from the replayed DOM (attributes only, never its value). */
  fieldLabel(id) {
    const replayer = this.player && this.player.replayer;
    if (!replayer || typeof replayer.getMirror !== "function") return null;
    let node = null;
    try {
      node = replayer.getMirror().getNode(Number(id));
    } catch (_err) {
      return null;
    }
    if (!node || typeof node.getAttribute !== "function") return null;
    for (const name of ["aria-label", "name", "id", "placeholder"]) {
      const value = node.getAttribute(name);
      if (value) return value.length > FIELD_LABEL_MAX ? value.slice(0, FIELD_LABEL_MAX) : value;
    }
    return null;
  }

  /** Jump to the next/previous entry of the sidebar (keyboard n / p). */
  step(direction) {
    if (!this.sidebar || !this.player) return;
    const item = this.sidebar.neighbour(this.player.currentTime(), direction);
    if (item) this.seekTo(item.offset_ms);
  }
}
