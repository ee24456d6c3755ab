// What sits around and on the replay: the current page URL above the player, the badges
// (viewport, scroll depth, Web Vitals with ratings, active vs total time) and the click overlay
// (where this window's clicks landed, drawn over the replayed page).

import { formatDuration, scrollDepthText, vitalText } from "./activity_model.js";
import { clear, el } from "./dom.js";

const MAX_DOTS = 1000;
const RATING_CLASS = { good: "good", "needs-improvement": "warn", poor: "poor" };
const RATING_TEXT = { good: "good", "needs-improvement": "needs improvement", poor: "poor" };

export class UrlBar {
  constructor(doc, root) {
    this.root = root;
    clear(root);
    root.classList.add("replay-url");
    root.append(el(doc, "span", { className: "replay-url__label" }, "Page"));
    this.value = el(doc, "span", { className: "replay-url__value", "data-testid": "current-url" });
    root.appendChild(this.value);
    this.url = null;
  }

  set(url) {
    if (url === this.url) return;
    this.url = url;
    this.value.textContent = url || "—";
    this.value.title = url || "";
  }
}

export class Badges {
  constructor(doc, root) {
    this.doc = doc;
    this.root = root;
  }

  /** viewport {width,height}|null, scroll {maxY, viewportHeight}, vitals [{metric,value,rating}],
   * time {activeMs, totalMs, complete} */
  update({ viewport, scroll, vitals, time }) {
    const doc = this.doc;
    clear(this.root);
    const badge = (text, attrs) => {
      this.root.appendChild(el(doc, "li", { className: "badge", ...(attrs || {}) }, text));
    };
    if (time && time.totalMs > 0) {
      const pct = Math.round((time.activeMs / time.totalMs) * 100);
      badge("Active " + formatDuration(time.activeMs) + " of " + formatDuration(time.totalMs) +
        " (" + pct + "%)", {
        "data-testid": "active-time",
        title: "Time with activity in this tab; stretches of more than 5 s without any " +
          "recorded event count as idle" + (time.complete ? "" : " (estimate until the whole " +
          "recording is loaded)"),
      });
    }
    if (viewport) {
      badge("Viewport " + viewport.width + "x" + viewport.height, { "data-testid": "viewport" });
    }
    const scrollText = scroll && scrollDepthText(scroll.maxY, scroll.viewportHeight);
    if (scrollText) badge(scrollText, { "data-testid": "scroll-depth" });
    for (const vital of vitals || []) {
      const rating = RATING_CLASS[vital.rating] || "none";
      badge(vitalText(vital.metric, vital.value), {
        className: "badge badge-vital badge-vital--" + rating,
        "data-testid": "vital-" + vital.metric,
        title: vital.metric + ": " + (RATING_TEXT[vital.rating] || "no rating reported"),
      });
    }
  }
}

export class ClickOverlay {
  /** `stage` is the player's stage element (the scaled replay). */
  constructor(doc, stage, button) {
    this.doc = doc;
    this.stage = stage;
    this.button = button;
    this.layer = el(doc, "div", { className: "click-overlay", hidden: true,
      "aria-hidden": "true", "data-testid": "click-overlay" });
    stage.appendChild(this.layer);
    this.on = false;
    this.clicks = [];
    this.viewport = null;
    // a property, not a listener: the overlay of a newly shown tab replaces the previous one's
    if (button) button.onclick = () => this.toggle();
  }

  toggle(force) {
    this.on = force == null ? !this.on : !!force;
    this.layer.hidden = !this.on;
    if (this.button) this.button.setAttribute("aria-pressed", this.on ? "true" : "false");
    if (this.on) this.render();
  }

  /** clicks [{x, y, vw?, vh?}] in viewport pixels; viewport the recorded {width, height}. */
  update(clicks, viewport) {
    this.clicks = clicks;
    this.viewport = viewport;
    if (this.on) this.render();
  }

  render() {
    clear(this.layer);
    const vp = this.viewport;
    let clicks = this.clicks;
    if (clicks.length > MAX_DOTS) {
      const step = clicks.length / MAX_DOTS;
      clicks = Array.from({ length: MAX_DOTS }, (_, i) => this.clicks[Math.floor(i * step)]);
    }
    for (const click of clicks) {
      const width = click.vw || (vp && vp.width);
      const height = click.vh || (vp && vp.height);
      if (!(width > 0) || !(height > 0)) continue;
      const left = Math.min(100, Math.max(0, (click.x / width) * 100));
      const top = Math.min(100, Math.max(0, (click.y / height) * 100));
      this.layer.appendChild(el(this.doc, "span", { className: "click-overlay__dot",
        style: "left:" + left.toFixed(2) + "%;top:" + top.toFixed(2) + "%" }));
    }
  }
}

/** Where the clicks of the incident named by the page (`?incident=`) landed: a dot per click
 * and a label ("4 clicks" / "no response") by the first, over the replayed page. */
export class IncidentMarkers {
  constructor(doc, stage, incident, viewport) {
    this.layer = el(doc, "div", { className: "incident-overlay", "aria-hidden": "true",
      "data-testid": "incident-overlay" });
    stage.appendChild(this.layer);
    const clicks = (incident && Array.isArray(incident.clicks)) ? incident.clicks : [];
    let labelled = false;
    for (const click of clicks) {
      const width = click.vw || (viewport && viewport.width);
      const height = click.vh || (viewport && viewport.height);
      if (!(width > 0) || !(height > 0) || !Number.isFinite(click.x) ||
        !Number.isFinite(click.y)) continue;
      const left = Math.min(100, Math.max(0, (click.x / width) * 100)).toFixed(2);
      const top = Math.min(100, Math.max(0, (click.y / height) * 100)).toFixed(2);
      const position = "left:" + left + "%;top:" + top + "%";
      this.layer.appendChild(el(doc, "span", { className: "incident-overlay__dot",
        style: position }));
      if (!labelled) {
        labelled = true;
        const text = incident.subtype === "rage" ? clicks.length + " clicks" : "no response";
        this.layer.appendChild(el(doc, "span", { className: "incident-overlay__label",
          style: position }, text));
      }
    }
    this.count = this.layer.querySelectorAll(".incident-overlay__dot").length;
  }
}
