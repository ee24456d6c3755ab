// Heatmap over the recorded page: the page's full snapshot rebuilt by rrweb's Replayer (its
// iframe is sandboxed without scripts, and the dashboard's CSP lets it load nothing from the
// recorded site), sized to the whole page, with the hot spots drawn on top in page
// coordinates. Each hot spot is a link to the list of its clicks. Also draws fold lines
// (the scroll page) when the data has `folds`.

const SVG_NS = "http://www.w3.org/2000/svg";

function colour(intensity) {
  // blue -> pink -> orange-red, as the original's canvas
  const stops = [[47, 91, 211], [219, 39, 119], [234, 88, 12]];
  const t = Math.max(0, Math.min(1, intensity)) * 2;
  const [a, b] = t <= 1 ? [stops[0], stops[1]] : [stops[1], stops[2]];
  const f = t <= 1 ? t : t - 1;
  return `rgb(${a.map((v, i) => Math.round(v + (b[i] - v) * f)).join(",")})`;
}

function withMeta(data) {
  const events = (data.snapshot || []).slice();
  if (events.length === 1) {
    const snap = events[0];
    events.unshift({ type: 4, timestamp: snap.timestamp - 1,
      data: { href: "", width: data.width, height: data.viewport_height || 800 } });
  }
  return events;
}

function overlay(doc, data, height) {
  const svg = doc.createElementNS(SVG_NS, "svg");
  svg.setAttribute("class", "heatmap-overlay");
  svg.setAttribute("width", String(data.width));
  svg.setAttribute("height", String(height));
  svg.setAttribute("viewBox", `0 0 ${data.width} ${height}`);
  const peak = data.peak || 1;
  for (const spot of data.spots || []) {
    const intensity = spot.count / peak;
    // a click spot links to its clicks; a mouse-move cell (mode=moves) has nothing to list
    const link = doc.createElementNS(SVG_NS, spot.href ? "a" : "g");
    if (spot.href) link.setAttribute("href", spot.href);
    link.setAttribute("class", spot.href ? "heatmap-spot-link" : "heatmap-cell");
    const dot = doc.createElementNS(SVG_NS, "circle");
    dot.setAttribute("cx", String(spot.x));
    dot.setAttribute("cy", String(spot.y));
    dot.setAttribute("r", String(10 + 10 * intensity));
    dot.setAttribute("fill", colour(intensity));
    dot.setAttribute("fill-opacity", String(0.25 + 0.55 * intensity));
    dot.setAttribute("class", "heatmap-spot");
    dot.setAttribute("data-count", String(spot.count));
    const title = doc.createElementNS(SVG_NS, "title");
    const unit = data.unit || "click";
    title.textContent = `${spot.count} ${unit}${spot.count === 1 ? "" : "s"} (${spot.sessions} session${spot.sessions === 1 ? "" : "s"})${spot.href ? ": list them" : ""}`;
    dot.appendChild(title);
    link.appendChild(dot);
    svg.appendChild(link);
  }
  for (const fold of data.folds || []) {
    const y = fold.y;
    const line = doc.createElementNS(SVG_NS, "line");
    line.setAttribute("x1", "0");
    line.setAttribute("x2", String(data.width));
    line.setAttribute("y1", String(y));
    line.setAttribute("y2", String(y));
    line.setAttribute("class", "fold-line");
    svg.appendChild(line);
    const label = doc.createElementNS(SVG_NS, "text");
    label.setAttribute("x", "8");
    label.setAttribute("y", String(Math.max(14, y - 6)));
    label.setAttribute("class", "fold-label");
    label.textContent = fold.label;
    svg.appendChild(label);
  }
  return svg;
}

export function drawHeatmap(root, data, Replayer, doc, win) {
  const stage = root.querySelector(".heatmap-stage");
  const status = root.querySelector(".heatmap-status");
  if (!data.width || !data.snapshot) {
    if (status) status.textContent = "The recorded page is not available; the tables below have the numbers.";
    return null;
  }
  const page = doc.createElement("div");
  page.className = "heatmap-page";
  page.style.width = `${data.width}px`;
  stage.appendChild(page);
  const replayer = new Replayer(withMeta(data), {
    root: page,
    mouseTail: false,
    UNSAFE_replayCanvas: false,
    showWarning: false,
    triggerFocus: false,
    skipInactive: false,
  });
  let svg = null;
  const fit = () => {
    const iframe = page.querySelector("iframe");
    let height = Math.max(data.page_height || 0, data.viewport_height || 0);
    try {
      const d = iframe && iframe.contentDocument;
      if (d && d.documentElement) height = Math.max(height, d.documentElement.scrollHeight);
    } catch (_err) { /* not readable: keep the data's height */ }
    if (iframe) {
      iframe.style.height = `${height}px`;
      iframe.setAttribute("height", String(height));
    }
    const wrapper = page.querySelector(".replayer-wrapper");
    if (wrapper) wrapper.style.height = `${height}px`;
    page.style.height = `${height}px`;
    if (svg) svg.remove();
    svg = overlay(doc, data, height);
    page.appendChild(svg);
    const scale = Math.min(1, (stage.clientWidth || data.width) / data.width);
    page.style.transform = `scale(${scale})`;
    stage.style.height = `${height * scale}px`;
    if (status) status.textContent = "";
    root.setAttribute("data-ready", "true");
  };
  replayer.on("fullsnapshot-rebuilded", () => win.setTimeout(fit, 0));
  replayer.pause(0);
  win.setTimeout(fit, 50);
  win.addEventListener("resize", fit);
  return replayer;
}

export function initHeatmap(doc, win, Replayer) {
  const root = doc.getElementById("sentiero-heatmap");
  if (!root || !root.dataset.src) return;
  const status = root.querySelector(".heatmap-status");
  win.fetch(root.dataset.src, { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then((r) => (r.ok ? r.json() : Promise.reject(new Error(`HTTP ${r.status}`))))
    .then((data) => drawHeatmap(root, data, Replayer, doc, win))
    .catch(() => { if (status) status.textContent = "Could not load the recorded page."; });
}
