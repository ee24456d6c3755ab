// The timeline under the player: colour-coded markers on a compressed time axis (idle gaps drawn
// narrow and hatched), dense markers grouped into a numbered dot with a list, a playhead, and a
// legend whose checkboxes hide categories. Clicking a marker or the bar seeks there.

import {
  CATEGORIES,
  buildAxis,
  categoryOf,
  formatDuration,
  groupMarkers,
  kindLabel,
} from "./activity_model.js";
import { clear, el } from "./dom.js";
import { formatTime } from "./time.js";

export class Timeline {
  /** @param {object} o root, doc, onSeek(offsetMs) */
  constructor(o) {
    this.doc = o.doc;
    this.root = o.root;
    this.onSeek = o.onSeek;
    this.items = [];
    this.gaps = [];
    this.totalMs = 0;
    this.hidden = new Set();
    this.axis = buildAxis(0, []);
    this.build();
  }

  build() {
    const doc = this.doc;
    clear(this.root);
    this.root.classList.add("timeline");
    this.bar = el(doc, "div", { className: "timeline__bar", "data-testid": "timeline-bar" });
    this.gapLayer = el(doc, "div", { className: "timeline__gaps", "aria-hidden": "true" });
    this.markerLayer = el(doc, "div", { className: "timeline__markers", role: "list",
      "aria-label": "Activity markers" });
    this.playhead = el(doc, "div", { className: "timeline__playhead", "aria-hidden": "true" });
    this.popover = el(doc, "div", { className: "timeline__popover", role: "dialog",
      "aria-label": "Markers here", hidden: true });
    this.bar.append(this.gapLayer, this.markerLayer, this.playhead, this.popover);
    this.legend = el(doc, "div", { className: "timeline__legend", role: "group",
      "aria-label": "Show on the timeline" });
    this.root.append(this.bar, this.legend);

    this.bar.addEventListener("click", (event) => {
      const target = event.target;
      if (target !== this.bar && target !== this.gapLayer && target !== this.markerLayer &&
          !(target && target.classList && target.classList.contains("timeline__gap"))) return;
      const rect = this.bar.getBoundingClientRect();
      if (!(rect.width > 0)) return;
      this.closePopover();
      this.onSeek(this.axis.fromFraction((event.clientX - rect.left) / rect.width));
    });
    this.doc.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && !this.popover.hidden) this.closePopover(true);
    });
    this.doc.addEventListener("click", (event) => {
      if (this.popover.hidden) return;
      if (!this.root.contains(event.target)) this.closePopover();
    });
  }

  /** New data: items (sorted by offset_ms), idle gaps [{start, end}] and the window length. */
  update(items, gaps, totalMs) {
    this.items = items;
    this.gaps = gaps;
    this.totalMs = totalMs;
    this.axis = buildAxis(totalMs, gaps);
    this.renderGaps();
    this.renderMarkers();
    this.renderLegend();
  }

  renderGaps() {
    clear(this.gapLayer);
    for (const segment of this.axis.segments) {
      if (!segment.gap) continue;
      const text = "Inactive: " + formatDuration(segment.to - segment.from);
      this.gapLayer.appendChild(el(this.doc, "div", {
        className: "timeline__gap",
        style: "left:" + pct(segment.x0) + ";width:" + pct(segment.x1 - segment.x0),
        title: text,
      }));
    }
  }

  describe(item) {
    return kindLabel(item.kind) + ": " + item.label + " at " + formatTime(item.offset_ms);
  }

  renderMarkers() {
    clear(this.markerLayer);
    const groups = groupMarkers(this.items, this.axis, this.hidden);
    for (const group of groups) {
      const wrap = el(this.doc, "div", { className: "timeline__slot", role: "listitem",
        style: "left:" + pct(group.x) });
      if (group.items.length === 1) {
        const item = group.items[0];
        const text = this.describe(item);
        const marker = el(this.doc, "button", {
          type: "button",
          className: "timeline__marker",
          "data-kind": item.kind,
          "data-offset": Math.round(item.offset_ms),
          style: "--marker:" + categoryOf(item.kind).color,
          title: text,
          "aria-label": text,
        });
        marker.addEventListener("click", () => this.onSeek(item.offset_ms));
        wrap.appendChild(marker);
      } else {
        const hasError = group.items.some((i) => i.kind === "error" || i.kind === "server_error");
        const categories = new Set(group.items.map((i) => categoryOf(i.kind)));
        const single = categories.size === 1 ? categories.values().next().value : null;
        const text = group.items.length + " events from " +
          formatTime(group.items[0].offset_ms) + ": " +
          group.items.slice(0, 3).map((i) => kindLabel(i.kind)).join(", ") +
          (group.items.length > 3 ? "…" : "");
        const button = el(this.doc, "button", {
          type: "button",
          className: "timeline__group" + (hasError ? " timeline__group--error" : ""),
          "data-offset": Math.round(group.items[0].offset_ms),
          style: single && !hasError ? "background:" + single.color : null,
          title: text,
          "aria-label": text,
          "aria-haspopup": "dialog",
        }, group.items.length > 99 ? "99+" : String(group.items.length));
        button.addEventListener("click", (event) => {
          event.stopPropagation();
          this.openPopover(group, button);
        });
        wrap.appendChild(button);
      }
      this.markerLayer.appendChild(wrap);
    }
  }

  openPopover(group, opener) {
    const popover = this.popover;
    clear(popover);
    this.opener = opener;
    const list = el(this.doc, "ul", { className: "timeline__popover-list" });
    for (const item of group.items.slice(0, 200)) {
      const li = el(this.doc, "li");
      const button = el(this.doc, "button", { type: "button", className: "timeline__popover-item",
        style: "--marker:" + categoryOf(item.kind).color });
      button.append(
        el(this.doc, "span", { className: "timeline__popover-time" }, formatTime(item.offset_ms)),
        el(this.doc, "span", { className: "timeline__popover-kind" }, kindLabel(item.kind)),
        el(this.doc, "span", { className: "timeline__popover-label" }, item.label),
      );
      button.addEventListener("click", (event) => {
        event.stopPropagation();
        this.closePopover();
        this.onSeek(item.offset_ms);
      });
      li.appendChild(button);
      list.appendChild(li);
    }
    popover.appendChild(list);
    popover.style.left = pct(Math.min(Math.max(group.x, 0.15), 0.85));
    popover.hidden = false;
    const first = popover.querySelector("button");
    if (first) first.focus();
  }

  closePopover(restoreFocus) {
    this.popover.hidden = true;
    if (restoreFocus && this.opener) this.opener.focus();
  }

  renderLegend() {
    clear(this.legend);
    const counts = {};
    for (const item of this.items) {
      const id = categoryOf(item.kind).id;
      counts[id] = (counts[id] || 0) + 1;
    }
    for (const category of CATEGORIES) {
      if (!counts[category.id]) continue;
      const label = el(this.doc, "label", { className: "timeline__legend-item" });
      const box = el(this.doc, "input", { type: "checkbox", "data-category": category.id });
      box.checked = !this.hidden.has(category.id);
      box.addEventListener("change", () => {
        if (box.checked) this.hidden.delete(category.id);
        else this.hidden.add(category.id);
        this.renderMarkers();
      });
      label.append(
        box,
        el(this.doc, "span", { className: "timeline__swatch",
          style: "--marker:" + category.color, "aria-hidden": "true" }),
        this.doc.createTextNode(category.label + " (" + counts[category.id] + ")"),
      );
      this.legend.appendChild(label);
    }
    const idle = this.gaps.length;
    if (idle) {
      const note = el(this.doc, "span", { className: "timeline__legend-item timeline__legend-idle" });
      note.append(el(this.doc, "span", { className: "timeline__swatch timeline__swatch--idle",
        "aria-hidden": "true" }), this.doc.createTextNode("Idle (compressed)"));
      this.legend.appendChild(note);
    }
  }

  setTime(offset) {
    this.playhead.style.left = pct(this.axis.toFraction(offset));
  }
}

function pct(fraction) {
  return (Math.round(fraction * 100000) / 1000) + "%";
}
