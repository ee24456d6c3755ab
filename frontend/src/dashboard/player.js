// Replay player: rrweb's Replayer plus our own controls, fed by window_loader.js from the
// chunked events API (docs/CONTRACTS.md). Playback starts as soon as the first chunk is in;
// later pages are downloaded off the main thread and held unparsed, and handed to rrweb one
// page per task while it plays: a short window all of it, a long one what lies ahead of the
// playhead, a seek the chunks it needs. The seek bar spans the whole window from the start
// because the chunk index already knows first_ms/last_ms.

import { el } from "./dom.js";
import { loadedUntil, planSeek } from "./chunk_plan.js";
import {
  SPEEDS,
  computeScale,
  firstViewport,
  formatTime,
  isTypingTarget,
  resolveStartOffset,
  stepSpeed,
} from "./time.js";
import { WindowLoader, fetchJson } from "./window_loader.js";

const SEEK_STEP_MS = 5000;
const UI_TICK_MS = 200;
const STALL_MARGIN_MS = 50;

export const MESSAGES = {
  loading: "Loading…",
  empty: "No events recorded for this window.",
  single: "Only one event was recorded for this window; there is nothing to replay.",
  failed: "Failed to load session events: ",
  more: "Loading more events…",
  seeking: "Loading the events of this moment…",
};

export { fetchJson };

export class Player {
  /**
   * @param {object} o root (#sentiero-player), data (the replay-data island), Replayer (rrweb),
   *   fetch (window.fetch), win, doc, pageWorkerUrl (page_worker.js as built: events pages are
   *   downloaded off the main thread; none: with `fetch`).
   */
  constructor(o) {
    this.root = o.root;
    this.data = o.data || {};
    this.Replayer = o.Replayer;
    this.loader = new WindowLoader({ data: this.data, fetch: o.fetch, win: o.win,
      pageWorkerUrl: o.pageWorkerUrl, onEvents: (events) => this.addEvents(events) });
    this.win = o.win;
    this.doc = o.doc;
    this.replayer = null;
    this.firstMs = 0;
    this.totalMs = 0;
    this.snapshotTimes = []; // timestamps of loaded Meta events (where rrweb can rebuild from)
    this.listeners = {};
    this.pendingSeek = null; // {offset, play}
    this.stalled = false; // playback reached the end of what is loaded while more is coming
    this.wantPlay = false; // the last play/pause/seek asked to play
    this.viewport = null;
    this.speed = 1;
    this.seeking = false;
    this.tick = null;
    this.buildDom();
    this.exposeForTests();
  }

  // ---- DOM ----------------------------------------------------------------------------------

  buildDom() {
    const doc = this.doc;
    this.root.textContent = "";
    this.root.classList.add("sentiero-player");
    this.statusEl = el(doc, "div", { className: "sentiero-player__status", role: "status",
      "aria-live": "polite" });
    this.viewportEl = el(doc, "div", { className: "sentiero-player__viewport" });
    this.stageEl = el(doc, "div", { className: "sentiero-player__stage" });
    this.viewportEl.appendChild(this.stageEl);

    this.controlsEl = el(doc, "div", { className: "sentiero-player__controls" });
    this.controlsEl.hidden = true;
    this.playButton = el(doc, "button", { type: "button", className: "sentiero-player__play",
      "aria-label": "Play" }, "Play");
    this.seekInput = el(doc, "input", { type: "range", className: "sentiero-player__seek",
      min: "0", max: "0", step: "100", value: "0", "aria-label": "Seek" });
    this.timeEl = el(doc, "span", { className: "sentiero-player__time" }, "0:00 / 0:00");

    const speedLabel = el(doc, "label", { className: "sentiero-player__speed" }, "Speed ");
    this.speedSelect = el(doc, "select", { "aria-label": "Playback speed" });
    for (const speed of SPEEDS) {
      this.speedSelect.appendChild(el(doc, "option", { value: String(speed) }, speed + "x"));
    }
    speedLabel.appendChild(this.speedSelect);

    const skipLabel = el(doc, "label", { className: "sentiero-player__skip" });
    this.skipInput = el(doc, "input", { type: "checkbox" });
    this.skipInput.checked = this.data.skipInactive !== false;
    skipLabel.appendChild(this.skipInput);
    skipLabel.appendChild(doc.createTextNode(" Skip inactivity"));

    this.copyButton = el(doc, "button", { type: "button", className: "sentiero-player__copy" },
      "Copy link");

    for (const node of [this.playButton, this.seekInput, this.timeEl, speedLabel, skipLabel,
      this.copyButton]) {
      this.controlsEl.appendChild(node);
    }
    this.root.appendChild(this.statusEl);
    this.root.appendChild(this.viewportEl);
    this.root.appendChild(this.controlsEl);
  }

  setState(state) {
    this.state = state;
    if (this.doc.body) this.doc.body.dataset.replayState = state;
  }

  setStatus(text) {
    this.statusEl.textContent = text || "";
    this.statusEl.hidden = !text;
  }

  exposeForTests() {
    const player = this;
    this.win.__sentieroPlayer = {
      player,
      get replayer() {
        return player.replayer;
      },
      get totalMs() {
        return player.totalMs;
      },
      get loadedEvents() {
        return player.loadedEvents;
      },
      get loadingDone() {
        return player.loadingDone;
      },
      get downloaded() {
        return player.downloaded();
      },
      get decoded() {
        return player.loader.decoded();
      },
      get loadedChunks() {
        return Array.from(player.loaded).sort((a, b) => a - b);
      },
      currentTime() {
        return player.currentTime();
      },
    };
  }

  // ---- loading ------------------------------------------------------------------------------

  /** Listen to "events" (a list of newly loaded events), "time" (the playhead, ms) or "ready". */
  on(name, fn) {
    (this.listeners[name] = this.listeners[name] || []).push(fn);
  }

  emit(name, value) {
    for (const fn of this.listeners[name] || []) {
      try {
        fn(value);
      } catch (err) {
        if (this.win.console) this.win.console.error(err);
      }
    }
  }

  // what the loader knows, read by the replay view and the seek planning
  get chunks() {
    return this.loader.chunks;
  }

  get loaded() {
    return this.loader.loaded;
  }

  get loadingDone() {
    return this.loader.loadingDone;
  }

  get loadedEvents() {
    return this.loader.loadedEvents;
  }

  downloaded() {
    return this.loader.downloaded();
  }

  /** A parsed page's events: into rrweb, then to the listeners. */
  addEvents(events) {
    for (const event of events) this.replayer.addEvent(event);
    this.noteEvents(events);
  }

  noteEvents(events) {
    for (const event of events) {
      if (event && event.type === 4) this.snapshotTimes.push(event.timestamp);
    }
    this.emit("events", events);
  }

  async load() {
    this.setState("loading");
    this.setStatus(MESSAGES.loading);
    let events;
    try {
      events = await this.loader.first();
    } catch (err) {
      this.fail(err);
      return;
    }
    const index = this.loader.index;
    if (events.length === 0) {
      this.setState("empty");
      this.setStatus(MESSAGES.empty);
      return;
    }
    if (events.length < 2) {
      this.setState("empty");
      this.setStatus(MESSAGES.single);
      return;
    }
    // Stable sort: the replay baseline is the earliest event, as rrweb assumes.
    events.sort((a, b) => a.timestamp - b.timestamp);
    this.firstMs = Math.min(events[0].timestamp,
      Number.isFinite(index.first_ms) ? index.first_ms : Infinity);
    const lastLoaded = events[events.length - 1].timestamp;
    const lastMs = Math.max(Number(index.last_ms) || 0, lastLoaded);
    this.totalMs = Math.max(0, lastMs - this.firstMs);
    this.viewport = firstViewport(events);
    // the worker downloads what comes next while this thread builds the first frame
    const start = resolveStartOffset(this.data.startAt, this.firstMs, this.totalMs) || 0;
    if (!this.loader.loadingDone) {
      this.loader.readAhead(this.firstMs + start, this.totalMs, this.speed, () => this.maintain(),
        (err) => this.loadFailure(err));
    }

    try {
      this.startReplayer(events);
    } catch (err) {
      this.fail(err);
      return;
    }
    this.noteEvents(events);
    this.emit("ready", this);
  }

  fail(err) {
    this.setState("error");
    this.setStatus(MESSAGES.failed + ((err && err.message) || String(err)));
    this.controlsEl.hidden = true;
  }

  /**
   * Keep PAGES_IN_FLIGHT pages of what comes next downloading (the rest of a short window, else
   * AHEAD_MS ahead of the playhead), and hand rrweb the downloaded pages after the playhead, one
   * page per task, nearest first: at once those within AHEAD_MS, the others once nothing is
   * downloading (parsing is the main thread's largest cost; it must not hold up the
   * downloads). Stall at a stretch that is not here yet. Pages before the playhead stay held
   * until a seek needs them: rrweb would apply their events on top of what it shows.
   */
  maintain() {
    if (!this.replayer || this.loadingDone || this.loadFailed) return;
    if (this.pendingSeek) return;
    const now = this.firstMs + this.currentTime();
    const loader = this.loader;
    if (this.isPlaying() && loadedUntil(this.chunks, loader.here(), now) <= now + STALL_MARGIN_MS) {
      this.stalled = true;
      this.replayer.pause();
      this.setStatus(MESSAGES.more);
    }
    loader.readAhead(now, this.totalMs, this.speed, () => this.maintain(),
      (err) => this.loadFailure(err));
    const record = loader.nextHeld(now);
    if (!record) return;
    if (loader.inflight.size && !loader.soon(record, now, this.speed)) return;
    if (!loader.ready(record)) {
      // the worker is decoding it: come back when it is done
      if (!record.waited) {
        record.waited = true;
        record.held.whenReady().then(() => this.maintain());
      }
      return;
    }
    try {
      loader.materialize(record);
    } catch (err) {
      this.loadFailure(err);
      return;
    }
    // rrweb applies addEvent on a microtask: look again after it, in a task of its own
    Promise.resolve().then(() => this.afterMaterialize());
  }

  /** A page is in rrweb: resume a stalled playback, hand it the next one. */
  afterMaterialize() {
    if (!this.replayer) return;
    const at = this.firstMs + this.currentTime();
    if (this.stalled && loadedUntil(this.chunks, this.loaded, at) > at + STALL_MARGIN_MS) {
      this.stalled = false;
      this.replayer.play(this.currentTime());
      this.onPlayState(true);
    }
    if (!this.stalled && !this.pendingSeek && !this.loadError) this.setStatus("");
    this.render();
    const next = this.loader.nextHeld(at);
    if (!next) return;
    // what playback needs soon in the next task; the rest when the page is idle (a parse takes
    // tens of ms: frames first)
    const idle = this.win.requestIdleCallback;
    if (this.loader.soon(next, at, this.speed) || typeof idle !== "function") {
      this.win.setTimeout(() => this.maintain(), 0);
    } else {
      idle.call(this.win, () => this.maintain(), { timeout: 250 });
    }
  }

  loadFailure(err) {
    // Keep what is loaded playable; say what is missing.
    this.loadError = err;
    this.loadFailed = true;
    this.stalled = false;
    this.pendingSeek = null;
    this.setStatus(MESSAGES.failed + ((err && err.message) || String(err)) +
      " (showing the " + this.loadedEvents + " events loaded)");
    this.onPlayState(false);
  }

  // ---- replayer -----------------------------------------------------------------------------

  startReplayer(events) {
    this.replayer = new this.Replayer(events, {
      root: this.stageEl,
      skipInactive: this.skipInput.checked,
      mouseTail: false,
      UNSAFE_replayCanvas: false,
      liveMode: false,
      showWarning: false,
      // Replayed focus would move keyboard focus into the iframe and kill our shortcuts.
      triggerFocus: false,
    });
    const replayer = this.replayer;
    replayer.on("start", () => this.onPlayState(true));
    replayer.on("pause", () => this.onPlayState(false));
    replayer.on("finish", () => {
      // rrweb says "finish" 50 ms after casting the last event it has, also when a paused seek
      // cast it: only a playback that was meant to go on waits for more (else a replay opened
      // paused would start playing once the next page is in)
      const now = this.firstMs + this.currentTime();
      if (this.wantPlay && !this.loadingDone && !this.loadFailed &&
          loadedUntil(this.chunks, this.loaded, now) !== Infinity) {
        this.stalled = true;
        this.setStatus(MESSAGES.more);
      }
      this.onPlayState(false);
    });
    replayer.on("resize", (dimension) => {
      if (dimension && dimension.width > 0 && dimension.height > 0) {
        this.viewport = { width: dimension.width, height: dimension.height };
        this.rescale();
      }
    });

    this.setStatus(this.loadingDone ? "" : MESSAGES.more);
    this.controlsEl.hidden = false;
    this.seekInput.max = String(Math.round(this.totalMs));
    this.bindControls();
    this.rescale();

    const start = resolveStartOffset(this.data.startAt, this.firstMs, this.totalMs);
    if (start != null) {
      replayer.pause(0);
      this.onPlayState(false);
      this.seek(start, false);
    } else {
      this.wantPlay = true;
      replayer.play(0);
      this.onPlayState(true);
    }
    this.tick = this.win.setInterval(() => {
      this.render();
      this.maintain();
    }, UI_TICK_MS);
    this.maintain(); // reading ahead starts with the first frame
  }

  isPlaying() {
    const replayer = this.replayer;
    return !!(replayer && replayer.service && replayer.service.state &&
      replayer.service.state.matches("playing"));
  }

  currentTime() {
    if (!this.replayer) return 0;
    const t = this.replayer.getCurrentTime();
    return Number.isFinite(t) ? Math.max(0, Math.min(t, this.totalMs)) : 0;
  }

  onPlayState(playing) {
    if (!this.replayer) return;
    const state = playing || this.stalled ? "playing" : "paused";
    this.setState(state);
    this.playButton.textContent = state === "playing" ? "Pause" : "Play";
    this.playButton.setAttribute("aria-label", state === "playing" ? "Pause" : "Play");
    this.render();
  }

  play() {
    if (!this.replayer) return;
    let offset = this.currentTime();
    if (offset >= this.totalMs - 100) offset = 0; // replay from the start
    this.stalled = false;
    this.seek(offset, true);
  }

  pause() {
    if (!this.replayer) return;
    this.wantPlay = false;
    this.stalled = false;
    if (this.pendingSeek) this.pendingSeek.play = false;
    this.replayer.pause();
    this.onPlayState(false);
  }

  toggle() {
    if (this.isPlaying() || this.stalled || (this.pendingSeek && this.pendingSeek.play)) {
      this.pause();
    } else {
      this.play();
    }
  }

  /** Jump to `offset` ms from the start; downloads the chunks that moment needs first. */
  seek(offset, play) {
    if (!this.replayer) return;
    this.wantPlay = !!play;
    const target = Math.max(0, Math.min(offset, this.totalMs));
    const plan = this.loadingDone || this.loadFailed ? { ready: true } :
      planSeek(this.chunks, this.loaded, this.snapshotTimes, this.firstMs + target);
    if (!plan.ready) {
      const request = { offset: target, play };
      this.pendingSeek = request;
      this.setStatus(MESSAGES.seeking);
      this.setState("loading");
      this.replayer.pause();
      this.renderAt(target);
      this.loader.fetchChunks(plan.fetch).then(() => {
        if (this.pendingSeek !== request) return; // a newer seek took over
        this.pendingSeek = null;
        this.seek(request.offset, request.play);
      }, (err) => {
        this.loadFailure(err);
        this.seek(request.offset, false);
      });
      return;
    }
    this.pendingSeek = null;
    this.stalled = false;
    if (!this.loadError) this.setStatus("");
    if (play) this.replayer.play(target);
    else this.replayer.pause(target);
    this.onPlayState(play);
    this.renderAt(target);
    this.emit("seeked", target);
  }

  setSpeed(speed) {
    if (!SPEEDS.includes(speed)) return;
    this.speed = speed;
    this.speedSelect.value = String(speed);
    if (this.replayer) this.replayer.setConfig({ speed });
  }

  setSkipInactive(on) {
    this.skipInput.checked = !!on;
    if (this.replayer) this.replayer.setConfig({ skipInactive: !!on });
  }

  // ---- controls -----------------------------------------------------------------------------

  bindControls() {
    this.playButton.addEventListener("click", () => this.toggle());
    this.seekInput.addEventListener("input", () => {
      this.seeking = true;
      this.renderAt(Number(this.seekInput.value));
    });
    this.seekInput.addEventListener("change", () => {
      this.seeking = false;
      const wasPlaying = this.isPlaying() || this.stalled;
      this.seek(Number(this.seekInput.value), wasPlaying);
    });
    this.speedSelect.addEventListener("change", () => this.setSpeed(Number(this.speedSelect.value)));
    this.skipInput.addEventListener("change", () => this.setSkipInactive(this.skipInput.checked));
    this.copyButton.addEventListener("click", () => this.copyLink());
    this.onKeyBound = (event) => this.onKey(event);
    this.onResizeBound = () => this.rescale();
    this.doc.addEventListener("keydown", this.onKeyBound);
    this.win.addEventListener("resize", this.onResizeBound);
    if (typeof this.win.ResizeObserver === "function") {
      this.resizeObserver = new this.win.ResizeObserver(this.onResizeBound);
      this.resizeObserver.observe(this.viewportEl);
    }
  }

  onKey(event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    if (isTypingTarget(event.target)) return;
    const key = event.key;
    if (key === " " || key === "Spacebar") {
      // A focused button already turns Space into a click.
      if (event.target && String(event.target.tagName).toUpperCase() === "BUTTON") return;
      event.preventDefault();
      this.toggle();
    } else if (key === "ArrowLeft" || key === "ArrowRight") {
      event.preventDefault();
      const delta = key === "ArrowLeft" ? -SEEK_STEP_MS : SEEK_STEP_MS;
      const base = this.pendingSeek ? this.pendingSeek.offset : this.currentTime();
      this.stalled = false;
      this.seek(base + delta, false);
    } else if (key === "ArrowUp" || key === "ArrowDown") {
      event.preventDefault();
      this.setSpeed(stepSpeed(this.speed, key === "ArrowUp" ? 1 : -1));
    }
  }

  shareUrl() {
    const url = new URL(this.win.location.href);
    url.searchParams.set("t", String(Math.round(this.currentTime())));
    return url.toString();
  }

  copyLink() {
    const link = this.shareUrl();
    const done = () => {
      this.copyButton.textContent = "Copied!";
      this.win.setTimeout(() => {
        this.copyButton.textContent = "Copy link";
      }, 2000);
    };
    const fallback = () => {
      if (typeof this.win.prompt === "function") this.win.prompt("Copy this link:", link);
    };
    const clipboard = this.win.navigator && this.win.navigator.clipboard;
    if (clipboard && typeof clipboard.writeText === "function") {
      clipboard.writeText(link).then(done, fallback);
    } else {
      fallback();
    }
  }

  /** Stop playback and every listener (switching tabs in a shared or imported replay). */
  destroy() {
    if (this.tick) this.win.clearInterval(this.tick);
    this.loader.close();
    if (this.onKeyBound) this.doc.removeEventListener("keydown", this.onKeyBound);
    if (this.onResizeBound) this.win.removeEventListener("resize", this.onResizeBound);
    if (this.resizeObserver) this.resizeObserver.disconnect();
    if (this.replayer) {
      try {
        this.replayer.pause();
        this.replayer.destroy();
      } catch (_err) {
        // already gone
      }
    }
    this.replayer = null;
    this.listeners = {};
    this.root.textContent = "";
  }

  rescale() {
    if (!this.replayer || !this.replayer.wrapper) return;
    const viewport = this.viewport;
    if (!viewport) return;
    const width = this.viewportEl.clientWidth;
    const maxHeight = Math.max(240, (this.win.innerHeight || 800) * 0.75);
    const scale = computeScale(width, maxHeight, viewport.width, viewport.height);
    const wrapper = this.replayer.wrapper;
    wrapper.style.transform = "scale(" + scale + ")";
    wrapper.style.transformOrigin = "0 0";
    this.stageEl.style.width = Math.round(viewport.width * scale) + "px";
    this.stageEl.style.height = Math.round(viewport.height * scale) + "px";
    this.scale = scale;
  }

  render() {
    if (!this.replayer) return;
    if (this.pendingSeek) this.renderAt(this.pendingSeek.offset);
    else this.renderAt(this.currentTime());
  }

  renderAt(offset) {
    const max = Math.round(this.totalMs);
    if (this.seekInput.max !== String(max)) this.seekInput.max = String(max);
    if (!this.seeking) this.seekInput.value = String(Math.round(offset));
    const shown = this.seeking ? Number(this.seekInput.value) : offset;
    this.timeEl.textContent = formatTime(shown) + " / " + formatTime(this.totalMs);
    this.emit("time", shown);
  }
}
