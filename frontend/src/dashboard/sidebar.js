// The activity sidebar: the window's items as a readable list (time, kind, label, page, and
// expandable detail), "N inactive" separators, a kind filter and a text search. The entry at the
// playhead is highlighted and kept in view; clicking an entry seeks there.

import {
  CATEGORIES,
  IDLE_GAP_MS,
  categoryOf,
  currentIndex,
  filterItems,
  formatDuration,
  formInteraction,
  kindLabel,
  pagePath,
} from "./activity_model.js";
import { clear, el } from "./dom.js";
import { formatTime } from "./time.js";

const DETAIL_LABELS = {
  url: "URL",
  viewport: "Viewport",
  referrer: "Referrer",
  x: "x",
  y: "y",
  page_y: "Page y",
  vw: "Viewport width",
  vh: "Viewport height",
  selector: "Selector",
  element: "Element",
  depth_px: "Depth (px)",
  inputs: "Inputs",
  name: "Form name",
  id: "Form id",
  message: "Message",
  kind: "Type",
  tag: "Tag",
  keys: "Payload keys",
  numbers: "Numbers",
  payload: "Payload",
  target: "Target",
  text: "Link text",
  external: "External link",
  metric: "Metric",
  value: "Value",
  rating: "Rating",
  clicks: "Clicks",
  rule: "Detected because",
  error: "An error followed",
  exception: "Exception",
  level: "Level",
};
const HIDDEN_DETAIL = new Set(["first_ms", "last_ms", "field", "line", "column", "source",
  "stack", "problem_url"]);
const MAX_RENDERED = 2000;

function valueText(value) {
  if (value === true) return "yes";
  if (value === false) return "no";
  if (value && typeof value === "object") return JSON.stringify(value, null, 2);
  return String(value);
}

export class Sidebar {
  /** @param {object} o root, doc, onSeek(offsetMs) */
  constructor(o) {
    this.doc = o.doc;
    this.root = o.root;
    this.onSeek = o.onSeek;
    this.items = [];
    this.shown = [];
    this.rows = [];
    this.current = -1;
    this.category = "";
    this.query = "";
    this.fieldLabel = o.fieldLabel || (() => null);
    this.build();
  }

  build() {
    const doc = this.doc;
    clear(this.root);
    this.root.classList.add("activity");
    const head = el(doc, "div", { className: "activity__head" });
    this.title = el(doc, "h2", { className: "activity__title", id: "activity-title" }, "Activity");
    this.count = el(doc, "span", { className: "activity__count" });
    this.title.appendChild(this.count);
    const filters = el(doc, "div", { className: "activity__filters" });
    this.kindSelect = el(doc, "select", { "aria-label": "Filter activity by kind",
      className: "activity__kind" });
    this.search = el(doc, "input", { type: "search", placeholder: "Search activity",
      "aria-label": "Search activity", className: "activity__search" });
    filters.append(this.kindSelect, this.search);
    head.append(this.title, filters);
    this.list = el(doc, "ol", { className: "activity__list", "aria-labelledby": "activity-title" });
    this.empty = el(doc, "p", { className: "activity__empty muted", hidden: true });
    this.root.append(head, this.list, this.empty);
    this.kindSelect.addEventListener("change", () => {
      this.category = this.kindSelect.value;
      this.renderList();
    });
    this.search.addEventListener("input", () => {
      this.query = this.search.value;
      this.renderList();
    });
    this.list.addEventListener("pointerenter", () => { this.hovered = true; });
    this.list.addEventListener("pointerleave", () => { this.hovered = false; });
  }

  update(items) {
    this.items = items;
    this.forms = formInteraction(items);
    this.renderKinds();
    this.renderList();
  }

  renderKinds() {
    const present = new Set(this.items.map((item) => categoryOf(item.kind).id));
    const selected = this.category;
    clear(this.kindSelect);
    this.kindSelect.appendChild(el(this.doc, "option", { value: "" }, "All kinds"));
    for (const category of CATEGORIES) {
      if (!present.has(category.id) && category.id !== selected) continue;
      const option = el(this.doc, "option", { value: category.id }, category.label);
      if (category.id === selected) option.selected = true;
      this.kindSelect.appendChild(option);
    }
  }

  renderList() {
    clear(this.list);
    this.shown = filterItems(this.items, this.category, this.query);
    this.rows = [];
    this.current = -1;
    const total = this.items.length;
    this.count.textContent = " " + (this.shown.length === total ? String(total)
      : this.shown.length + " of " + total);
    let previous = null;
    this.previousPage = null;
    for (const item of this.shown.slice(0, MAX_RENDERED)) {
      if (previous && item.offset_ms - previous.offset_ms > IDLE_GAP_MS && !this.query &&
          !this.category) {
        this.list.appendChild(el(this.doc, "li", { className: "activity__gap" },
          formatDuration(item.offset_ms - previous.offset_ms) + " inactive"));
      }
      const row = this.renderItem(item);
      this.rows.push(row);
      this.list.appendChild(row);
      previous = item;
    }
    if (this.shown.length > MAX_RENDERED) {
      this.list.appendChild(el(this.doc, "li", { className: "activity__more muted" },
        "Showing the first " + MAX_RENDERED + " of " + this.shown.length +
        " entries; narrow them with the filter or the search."));
    }
    this.empty.hidden = this.shown.length > 0;
    this.empty.textContent = total ? "Nothing matches the filter." : "No activity recorded.";
    if (this.lastOffset != null) this.setTime(this.lastOffset, true);
  }

  renderItem(item) {
    const doc = this.doc;
    const category = categoryOf(item.kind);
    const row = el(doc, "li", { className: "activity__item", "data-kind": item.kind,
      "data-offset": Math.round(item.offset_ms), style: "--marker:" + category.color });
    const seek = el(doc, "button", { type: "button", className: "activity__seek",
      "aria-label": "Go to " + formatTime(item.offset_ms) + ": " + kindLabel(item.kind) + ", " +
        item.label });
    seek.append(
      el(doc, "span", { className: "activity__time" }, formatTime(item.offset_ms)),
      el(doc, "span", { className: "activity__kind-chip" }, kindLabel(item.kind)),
      el(doc, "span", { className: "activity__label" }, item.label),
    );
    seek.addEventListener("click", () => this.onSeek(item.offset_ms));
    row.appendChild(seek);
    // the page is shown where it changes, not repeated on every entry
    const page = pagePath(item.url);
    if (page && item.kind !== "page_view" && page !== this.previousPage) {
      row.appendChild(el(doc, "span", { className: "activity__page", title: item.url },
        "on " + page));
    }
    if (page) this.previousPage = page;
    const lines = this.detailLines(item);
    if (lines.length) {
      const details = el(doc, "details", { className: "activity__details" });
      details.appendChild(el(doc, "summary", {}, "Details"));
      const dl = el(doc, "dl");
      for (const [name, value, pre] of lines) {
        dl.appendChild(el(doc, "dt", {}, name));
        const dd = el(doc, "dd");
        if (pre) dd.appendChild(el(doc, "pre", {}, value));
        else dd.textContent = value;
        dl.appendChild(dd);
      }
      details.appendChild(dl);
      row.appendChild(details);
    }
    return row;
  }

  /** [label, text, preformatted?] lines for an item's detail; recorded strings stay text. */
  detailLines(item) {
    const detail = item.detail && typeof item.detail === "object" ? item.detail : {};
    const lines = [];
    if (item.kind === "error" || item.kind === "server_error") {
      if (detail.source) {
        let where = String(detail.source);
        if (detail.line != null) where += ":" + detail.line;
        if (detail.column != null) where += ":" + detail.column;
        lines.push(["Source", where]);
      }
    }
    if (item.kind === "form_field") {
      const field = this.forms && this.forms.get(String(detail.field));
      const label = this.fieldLabel(detail.field);
      lines.push(["Field", label ? label + " (#" + detail.field + ")" : "#" + detail.field]);
      if (field) {
        lines.push(["Order", "Field " + field.position + " of " + field.total]);
        if (field.refills > 0) lines.push(["Re-filled", field.refills + " times"]);
        if (field.timeMs > 0) lines.push(["Time in field", formatDuration(field.timeMs)]);
        if (field.toNextMs != null && field.toNextMs > 0 && field.toNextMs <= IDLE_GAP_MS) {
          lines.push(["Time to next field", formatDuration(field.toNextMs)]);
        }
      }
      lines.push(["Values", "never recorded"]);
    }
    const coordinatesInLabel = /\(\d+, \d+\)/.test(item.label);
    for (const [key, value] of Object.entries(detail)) {
      if (HIDDEN_DETAIL.has(key) || value == null || value === "") continue;
      if (coordinatesInLabel && (key === "x" || key === "y")) continue;
      if (item.kind === "click" && ["id", "vw", "vh", "page_y"].includes(key)) continue;
      if (item.kind === "form_field" && key === "inputs") {
        lines.push(["Inputs in this run", String(value)]);
        continue;
      }
      const multiline = value && typeof value === "object";
      lines.push([DETAIL_LABELS[key] || key, valueText(value), multiline]);
    }
    if (typeof detail.stack === "string" && detail.stack) {
      lines.push(["Stack", detail.stack, true]);
    }
    if (item.payload !== undefined) lines.push(["Payload", valueText(item.payload), true]);
    if (detail.problem_url) lines.push(["Details", String(detail.problem_url)]);
    return lines;
  }

  /** Highlight the entry at the playhead and keep it in view (unless the pointer is on the list). */
  setTime(offset, force) {
    this.lastOffset = offset;
    const index = currentIndex(this.shown.slice(0, this.rows.length), offset);
    if (index === this.current && !force) return;
    const before = this.rows[this.current];
    if (before) {
      before.classList.remove("is-current");
      before.removeAttribute("aria-current");
    }
    this.current = index;
    const row = this.rows[index];
    if (!row) return;
    row.classList.add("is-current");
    row.setAttribute("aria-current", "true");
    if (this.hovered) return;
    const list = this.list;
    const top = row.offsetTop - list.offsetTop;
    if (top < list.scrollTop || top + row.offsetHeight > list.scrollTop + list.clientHeight) {
      list.scrollTop = Math.max(0, top - list.clientHeight / 3);
    }
  }

  /** The entry after/before the playhead (keyboard n / p). */
  neighbour(offset, direction) {
    const items = this.shown;
    if (direction > 0) return items.find((i) => i.offset_ms > offset + 1) || null;
    for (let i = items.length - 1; i >= 0; i--) if (items[i].offset_ms < offset - 1) return items[i];
    return null;
  }

  focusSearch() {
    this.search.focus();
  }
}
