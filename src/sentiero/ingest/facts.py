"""Facts derived from rrweb events at ingest (DESIGN.md decision 4), in one walk per batch.

Every analysis reads these compact records, never raw events; docs/CONTRACTS.md ("Facts")
lists each kind with its ``key``, ``value`` and ``data``. A window's batches arrive one at a
time, so what a walk must remember about the window (its current page view, scroll offset,
clicks still waiting for a response) travels in :class:`FactState`, saved with the batch as
part of the window's ingest state.

rrweb numbers used here: event type 3 IncrementalSnapshot, 4 Meta, 5 Custom; incremental
sources 0 Mutation, 2 MouseInteraction (type 2 Click), 3 Scroll, 4 ViewportResize, 5 Input.
Both recorders on the wire are read: ours and the original's custom tags are the same
(``__click``, ``__perf``, ``__form_submit``, ``navigation``, ``error``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sentiero.ingest.rules import FrustrationRules
from sentiero.stores.base import Fact

EVENT_INCREMENTAL = 3
EVENT_META = 4
EVENT_CUSTOM = 5
SOURCE_MUTATION = 0
SOURCE_MOUSE_MOVE = 1
SOURCE_MOUSE_INTERACTION = 2
SOURCE_SCROLL = 3
SOURCE_VIEWPORT_RESIZE = 4
SOURCE_INPUT = 5
SOURCE_TOUCH_MOVE = 6  # same ``positions`` shape as a mouse move
MOUSE_CLICK = 2
ERROR_TAG = "error"
CLICK_TAG = "__click"
PERF_TAG = "__perf"
FORM_SUBMIT_TAG = "__form_submit"
IDLE_GAP_MS = 10_000  # a pause longer than this between a window's events is idle time
THRASH_PX = 100
THRASH_MS = 1_000
NAVIGATION_TAG = "navigation"
MAX_ERROR_MESSAGE = 4_000
MAX_ERROR_SOURCE = 2_048
MAX_GROUP_KEY = 200
MAX_KEY = 200
MAX_PAYLOAD_KEYS = 50
MAX_TEXT = 200
CLICK_LABEL_WINDOW_MS = 200
MOVE_COLUMNS = 40
"""A ``move`` fact's grid: this many columns across the viewport width..."""
MOVE_ROW_PX = 32
"""...and rows of this many CSS pixels down the page (scroll included)."""
MOVE_MAX_ROWS = 1_000
MOVE_MAX_CELLS = 400
"""Cells kept per ``move`` fact (the busiest), so one stays small whatever the batch."""
"""A ``__click`` selector is attached to the rrweb click within this many ms of it."""


def is_internal_tag(tag: str) -> bool:
    """Tags the recorder uses for its own features (inventory §5): left out of tag analytics."""
    return tag.startswith("__") or tag == ERROR_TAG


def _ts_ms(event: dict[str, Any]) -> int:
    value = event.get("timestamp")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value)
    return 0


def _data(event: dict[str, Any]) -> dict[str, Any]:
    data = event.get("data")
    return data if isinstance(data, dict) else {}


MAX_NUMBER = 2**53
"""Numbers in fact data beyond +-2**53 are left out: no browser sends them, and one that
cannot be stored must not cost the whole batch."""


def _number(value: object) -> int | float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if value != value:  # NaN
        return None
    return value if -MAX_NUMBER < value < MAX_NUMBER else None


def _text(value: object, limit: int = MAX_TEXT) -> str | None:
    if isinstance(value, str):
        value = value.strip()
        return value[:limit] if value else None
    return None


def meta_href(event: dict[str, Any]) -> str | None:
    """The page URL of a Meta event, or None when the event is not one / has none."""
    if event.get("type") != EVENT_META:
        return None
    href = _data(event).get("href")
    return href if isinstance(href, str) and href else None


def is_click(event: dict[str, Any]) -> bool:
    if event.get("type") != EVENT_INCREMENTAL:
        return False
    data = _data(event)
    return data.get("source") == SOURCE_MOUSE_INTERACTION and data.get("type") == MOUSE_CLICK


def is_error(event: dict[str, Any]) -> bool:
    return event.get("type") == EVENT_CUSTOM and _data(event).get("tag") == ERROR_TAG


def latest_page_url(events: Iterable[dict[str, Any]]) -> str | None:
    """The href of the last Meta event carrying one."""
    url = None
    for event in events:
        href = meta_href(event)
        if href is not None:
            url = href
    return url


def has_errors(events: Iterable[dict[str, Any]]) -> bool:
    return any(is_error(e) for e in events)


_DIGITS = re.compile(r"\d+")


def error_group_key(message: str | None) -> str:
    """The original's client error grouping (inventory §5.12): first line, trimmed, digit runs
    replaced by ``#``, cut to 200 characters; "Unknown error" when there is no message."""
    first = (message or "").strip().splitlines()[0].strip() if (message or "").strip() else ""
    if not first:
        return "Unknown error"
    return _DIGITS.sub("#", first)[:MAX_GROUP_KEY]


def _error_data(payload: dict[str, Any]) -> dict[str, Any]:
    message = payload.get("message")
    if not isinstance(message, str):
        message = "" if message is None else str(message)
    data: dict[str, Any] = {"message": message[:MAX_ERROR_MESSAGE]}
    source = payload.get("source")
    if isinstance(source, str) and source:
        data["source"] = source[:MAX_ERROR_SOURCE]
    # the recorder sends rrweb's window.onerror names: lineno, colno, and type for rejections
    for key, wire in (("line", "lineno"), ("column", "colno")):
        number = _number(payload.get(wire, payload.get(key)))
        if number is not None:
            data[key] = int(number)
    kind = payload.get("type", payload.get("kind"))
    if isinstance(kind, str) and kind:
        data["kind"] = kind[:64]
    stack = payload.get("stack")
    if isinstance(stack, str) and stack:
        data["stack"] = stack[:MAX_ERROR_MESSAGE]
    return data


@dataclass
class FactState:
    """What a window's next batch needs from the previous ones (saved as ``window_state
    ["facts"]``). Anything malformed reads as a fresh window."""

    url: str | None = None
    pv: int | None = None  # ts_ms of the current page view
    pv_last_ms: int | None = None  # the latest event seen on the current page view
    width: int | float | None = None
    height: int | float | None = None
    scroll_y: int | float = 0
    pages: int = 0  # page views seen in the window
    rage: list[list[Any]] = field(default_factory=list)  # [ts, x, y, selector] of a cluster
    pending: list[dict[str, Any]] = field(default_factory=list)  # clicks awaiting a response
    last_click_ms: int | None = None  # the latest click of the current page view
    label_wait: str | None = None  # a __click selector that came before its rrweb click
    label_wait_ms: int | None = None
    last_ms: int | None = None  # the window's latest event (idle gaps)
    scroll_prev: list[float] = field(default_factory=list)  # [y, ts, dy] of the last scroll

    def to_dict(self) -> dict[str, Any]:
        return {
            "url": self.url, "pv": self.pv, "pv_last_ms": self.pv_last_ms,
            "width": self.width, "height": self.height, "scroll_y": self.scroll_y,
            "pages": self.pages, "rage": self.rage, "pending": self.pending,
            "last_click_ms": self.last_click_ms, "label_wait": self.label_wait,
            "label_wait_ms": self.label_wait_ms, "last_ms": self.last_ms,
            "scroll_prev": self.scroll_prev,
        }

    @classmethod
    def from_dict(cls, data: Any) -> FactState:
        state = cls()
        if not isinstance(data, dict):
            return state
        try:
            state.url = data.get("url") if isinstance(data.get("url"), str) else None
            for name in ("pv", "pv_last_ms", "label_wait_ms", "last_click_ms", "last_ms"):
                value = _number(data.get(name))
                setattr(state, name, int(value) if value is not None else None)
            state.width = _number(data.get("width"))
            state.height = _number(data.get("height"))
            state.scroll_y = _number(data.get("scroll_y")) or 0
            state.pages = int(_number(data.get("pages")) or 0)
            rage = data.get("rage")
            state.rage = [r for r in rage if isinstance(r, list) and len(r) == 4][:50] \
                if isinstance(rage, list) else []
            pending = data.get("pending")
            state.pending = [p for p in pending if isinstance(p, dict) and "ts" in p][:50] \
                if isinstance(pending, list) else []
            prev = data.get("scroll_prev")
            state.scroll_prev = [float(v) for v in prev][:3] if isinstance(prev, list) and \
                len(prev) == 3 and all(_number(v) is not None for v in prev) else []
            state.label_wait = data.get("label_wait") \
                if isinstance(data.get("label_wait"), str) else None
        except (TypeError, ValueError):
            return cls()
        return state


class _Walk:
    """One pass over a batch; ``facts`` grows in event order."""

    def __init__(self, session_id: str, window_id: str, state: FactState,
                 rules: FrustrationRules, referrer: str | None) -> None:
        self.sid = session_id
        self.wid = window_id
        self.s = state
        self.rules = rules
        self.referrer = referrer
        self.facts: list[Fact] = []
        self.scroll_max: dict[int, tuple[int, float]] = {}  # pv -> (ts, max y) this batch
        self.fields: dict[tuple[int, int], dict[str, Any]] = {}  # (pv, node) -> first/last/n
        self.vitals: dict[tuple[int, str], Fact] = {}  # last report per metric per page view
        self.last_click: Fact | None = None
        self.last_dead: Fact | None = None
        self.idle_ms = 0  # gaps over IDLE_GAP_MS between this window's events, this batch
        self.idle_at: int | None = None
        self.reversals = 0  # scroll direction reversals (thrashing), this batch
        self.moves: dict[int, dict[str, Any]] = {}  # pv -> mouse-move grid, this batch
        self.reversal_at: int | None = None

    def add(self, kind: str, ts: int, data: dict[str, Any], key: str | None = None,
            value: float | None = None) -> Fact:
        if self.s.pv is not None:
            data["pv"] = self.s.pv
        fact = Fact(kind, self.sid, self.wid, ts, self.s.url, data, key, value)
        self.facts.append(fact)
        return fact

    # --- page views ------------------------------------------------------------------

    def page_time(self) -> None:
        """The current page view's time so far (the longest wins on read)."""
        s = self.s
        if s.pv is not None and s.pv_last_ms is not None:
            self.facts.append(Fact("page_time", self.sid, self.wid, s.pv, s.url, {},
                                   str(s.pv), float(max(0, s.pv_last_ms - s.pv))))

    def meta(self, ts: int, href: str, data: dict[str, Any]) -> None:
        s = self.s
        width, height = _number(data.get("width")), _number(data.get("height"))
        if href == s.url and s.pv is not None:  # same page again (a re-snapshot): one view
            s.scroll_y = 0
            s.width, s.height = width or s.width, height or s.height
            return
        self.page_time()
        if s.pv is not None:  # the previous page was left for this one: not an exit
            self.facts.append(Fact("page_leave", self.sid, self.wid, ts, s.url, {"pv": s.pv},
                                   "entry" if s.pages == 1 else None, float(max(0, ts - s.pv))))
        self.settle_clicks(ts + self.rules.dead_click_timeout_ms + 1, leaving=True)
        last = self.last_dead
        if last is not None and last.ts_ms == s.last_click_ms and last in self.facts:
            # the page's last click led away from it (a slow navigation): not a dead click
            self.facts.remove(last)
        self.last_dead = None
        s.last_click_ms = None
        s.url, s.pv, s.pv_last_ms = href, ts, ts
        s.width, s.height, s.scroll_y = width, height, 0
        view: dict[str, Any] = {k: v for k, v in (("width", width), ("height", height))
                                if v is not None}
        if s.pages == 0 and self.referrer:
            view["referrer"] = self.referrer
        key = "entry" if s.pages == 0 else None
        s.pages += 1
        self.facts.append(Fact("page_view", self.sid, self.wid, ts, href, view, key))

    # --- clicks and frustration ------------------------------------------------------

    def click(self, ts: int, data: dict[str, Any]) -> None:
        s = self.s
        x, y, node = _number(data.get("x")), _number(data.get("y")), _number(data.get("id"))
        click: dict[str, Any] = {}
        if x is not None:
            click["x"] = x
        if y is not None:
            click["y"] = y
            click["page_y"] = y + s.scroll_y
        if s.width:
            click["vw"] = s.width
        if s.height:
            click["vh"] = s.height
        if node is not None:
            click["id"] = int(node)
        selector = None
        if s.label_wait and s.label_wait_ms is not None \
                and abs(ts - s.label_wait_ms) <= CLICK_LABEL_WINDOW_MS:
            selector = s.label_wait
        s.label_wait = s.label_wait_ms = None
        fact = self.add("click", ts, click, selector)
        self.last_click = fact
        self.rage_click(ts, x, y, selector)
        s.last_click_ms = ts
        s.pending.append({"ts": ts, "x": x, "y": y, "sel": selector, "err": False,
                          "url": s.url, "pv": s.pv})

    def click_label(self, ts: int, payload: dict[str, Any]) -> None:
        selector = _text(payload.get("selector"), MAX_KEY)
        if not selector:
            return
        last = self.last_click
        if last is not None and last.key is None and abs(ts - last.ts_ms) <= CLICK_LABEL_WINDOW_MS:
            labelled = Fact(last.kind, last.session_id, last.window_id, last.ts_ms, last.url,
                            last.data, selector, last.value)
            self.facts[self.facts.index(last)] = labelled
            self.last_click = labelled
            for pending in self.s.pending:
                if pending["ts"] == last.ts_ms and pending["sel"] is None:
                    pending["sel"] = selector
            for cluster_click in self.s.rage:
                if cluster_click[0] == last.ts_ms and cluster_click[3] is None:
                    cluster_click[3] = selector
        else:
            self.s.label_wait, self.s.label_wait_ms = selector, ts

    def rage_click(self, ts: int, x: Any, y: Any, selector: str | None) -> None:
        rules, cluster = self.rules, self.s.rage
        if cluster:
            first = cluster[0]
            near = (x is not None and y is not None and first[1] is not None
                    and first[2] is not None
                    and abs(x - first[1]) <= rules.rage_radius_px
                    and abs(y - first[2]) <= rules.rage_radius_px)
            in_time = ts - first[0] <= rules.rage_window_ms and ts - cluster[-1][0] <= \
                rules.rage_window_ms
            if near and in_time:
                cluster.append([ts, x, y, selector])
                return
            self.close_rage()
        self.s.rage = [[ts, x, y, selector]]

    def close_rage(self) -> None:
        cluster = self.s.rage
        if len(cluster) >= self.rules.rage_min_clicks:
            first = cluster[0]
            selector = next((c[3] for c in cluster if c[3]), None)
            data = {k: v for k, v in (("x", first[1]), ("y", first[2])) if v is not None}
            self.add("rage_click", int(first[0]), data, selector, float(len(cluster)))
            # clicks of a rage cluster are not also dead clicks (inventory §4.2)
            times = {c[0] for c in cluster}
            self.s.pending = [p for p in self.s.pending if p["ts"] not in times]
            self.facts = [f for f in self.facts
                          if not (f.kind == "dead_click" and f.ts_ms in times)]
        self.s.rage = []

    def settle_clicks(self, ts: int, leaving: bool = False) -> None:
        """Clicks whose response window ended before ``ts`` without a response are dead.
        ``leaving``: the page changes at ``ts``, which answers every click still waiting."""
        s, timeout = self.s, self.rules.dead_click_timeout_ms
        if s.rage and (leaving or ts - s.rage[-1][0] > self.rules.rage_window_ms):
            self.close_rage()
        if leaving:
            s.pending = []
        while s.pending and ts - s.pending[0]["ts"] > timeout:
            self.emit_dead(s.pending.pop(0))

    def emit_dead(self, click: dict[str, Any]) -> None:
        data: dict[str, Any] = {k: click[k] for k in ("x", "y") if click.get(k) is not None}
        data["error"] = bool(click.get("err"))
        if click.get("pv") is not None:
            data["pv"] = click["pv"]
        fact = Fact("dead_click", self.sid, self.wid, int(click["ts"]), click.get("url"),
                    data, click.get("sel"), 1.0 if data["error"] else 0.0)
        self.facts.append(fact)
        self.last_dead = fact

    def move(self, ts: int, data: dict[str, Any]) -> None:
        """Pointer samples (rrweb MouseMove and TouchMove ``positions``, the recorder samples
        both alike) counted into the page view's coarse grid: x as a share of the viewport
        width, y in page pixels."""
        s = self.s
        positions = data.get("positions")
        if s.pv is None or not s.width or not isinstance(positions, list):
            return
        entry = self.moves.get(s.pv)
        if entry is None:
            entry = self.moves[s.pv] = {"ts": ts, "url": s.url, "n": 0, "cells": {}}
        entry["vw"], entry["vh"] = s.width, s.height
        cells: dict[tuple[int, int], int] = entry["cells"]
        for position in positions:
            if not isinstance(position, dict):
                continue
            x, y = _number(position.get("x")), _number(position.get("y"))
            if x is None or y is None or x < 0 or y < 0:
                continue
            gx = min(MOVE_COLUMNS - 1, int(x / s.width * MOVE_COLUMNS))
            gy = min(MOVE_MAX_ROWS - 1, int((y + s.scroll_y) // MOVE_ROW_PX))
            cells[(gx, gy)] = cells.get((gx, gy), 0) + 1
            entry["n"] += 1

    def responded(self, ts: int) -> None:
        self.s.pending = [c for c in self.s.pending if c["ts"] >= ts]

    # --- the rest --------------------------------------------------------------------

    def scroll(self, ts: int, data: dict[str, Any]) -> None:
        node = data.get("id")
        if node not in (None, 1):  # element scrolls are not the document's
            return
        y = _number(data.get("y"))
        if y is None or self.s.pv is None:
            return
        self.s.scroll_y = max(0, y)
        self.thrash(ts, float(y))
        best = self.scroll_max.get(self.s.pv)
        if best is None or y > best[1]:
            self.scroll_max[self.s.pv] = (ts, y)

    def thrash(self, ts: int, y: float) -> None:
        """A reversal: the scroll turns direction, both moves over THRASH_PX, within
        THRASH_MS of the previous scroll (inventory §5.8)."""
        prev = self.s.scroll_prev
        if prev:
            prev_y, prev_ts, prev_dy = prev
            dy = y - prev_y
            if dy and prev_dy and (dy > 0) != (prev_dy > 0) and abs(dy) > THRASH_PX \
                    and abs(prev_dy) > THRASH_PX and ts - prev_ts <= THRASH_MS:
                self.reversals += 1
                self.reversal_at = self.reversal_at or ts
            self.s.scroll_prev = [y, float(ts), dy or prev_dy]
        else:
            self.s.scroll_prev = [y, float(ts), 0.0]

    def gap(self, ts: int) -> None:
        last = self.s.last_ms
        if last is not None and ts - last > IDLE_GAP_MS:
            self.idle_ms += ts - last
            self.idle_at = self.idle_at or last
        if last is None or ts > last:
            self.s.last_ms = ts

    def input(self, ts: int, data: dict[str, Any]) -> None:
        node = data.get("id")
        if not isinstance(node, int) or isinstance(node, bool) or self.s.pv is None:
            return
        entry = self.fields.get((self.s.pv, node))
        if entry is None:
            self.fields[(self.s.pv, node)] = {"first": ts, "last": ts, "n": 1,
                                              "url": self.s.url}
        else:
            entry["last"] = max(entry["last"], ts)
            entry["n"] += 1

    def custom(self, ts: int, data: dict[str, Any]) -> None:
        tag = data.get("tag")
        if not isinstance(tag, str) or not tag:
            return
        payload = data.get("payload")
        payload = payload if isinstance(payload, dict) else {}
        if tag == ERROR_TAG:
            error = _error_data(payload)
            self.add("error", ts, error, error_group_key(error["message"]))
            for click in self.s.pending:
                click["err"] = True
            return
        if tag == CLICK_TAG:
            self.click_label(ts, payload)
            return
        if tag == PERF_TAG:
            metric = _text(payload.get("metric") or payload.get("name"), 16)
            value = _number(payload.get("value"))
            if metric and value is not None:
                vital: dict[str, Any] = {}
                rating = _text(payload.get("rating"), 32)
                if rating:
                    vital["rating"] = rating
                if self.s.pv is not None:
                    vital["pv"] = self.s.pv
                self.vitals[(self.s.pv or 0, metric.upper())] = Fact(
                    "vital", self.sid, self.wid, ts, self.s.url, vital, metric.upper(),
                    float(value))
            return
        if tag == FORM_SUBMIT_TAG:
            form = {k: v for k in ("name", "id") if (v := _text(payload.get(k)))}
            self.add("form_submit", ts, form, form.get("name") or form.get("id"))
            return
        if tag == NAVIGATION_TAG:
            target = _text(payload.get("url"), 2_048)
            if target:
                nav: dict[str, Any] = {"target": target}
                text = _text(payload.get("text"))
                if text:
                    nav["text"] = text
                external = payload.get("external") is True
                self.add("navigation", ts, nav, "external" if external else "internal")
            return
        keys = sorted(k for k in payload if isinstance(k, str))[:MAX_PAYLOAD_KEYS]
        numbers = {k: n for k in keys if (n := _number(payload.get(k))) is not None}
        self.add("custom", ts, {"keys": keys, "numbers": numbers}, tag[:MAX_KEY])

    def finish(self) -> list[Fact]:
        for fact in self.vitals.values():
            self.facts.append(fact)
        for pv, (ts, y) in self.scroll_max.items():
            self.facts.append(Fact("scroll", self.sid, self.wid, ts, self._url_of(pv),
                                   {"vh": self.s.height, "pv": pv} if self.s.height
                                   else {"pv": pv}, None, float(y)))
        for (pv, node), entry in self.fields.items():
            self.facts.append(Fact("form_field", self.sid, self.wid, entry["first"],
                                   entry["url"], {"first_ms": entry["first"],
                                                  "last_ms": entry["last"], "pv": pv},
                                   str(node), float(entry["n"])))
        for pv, entry in self.moves.items():
            if not entry["n"]:
                continue
            busiest = sorted(entry["cells"].items(), key=lambda kv: (-kv[1], kv[0]))
            grid = [[gx, gy, n] for (gx, gy), n in sorted(busiest[:MOVE_MAX_CELLS])]
            data = {"pv": pv, "vw": entry["vw"], "cells": grid}
            if entry["vh"]:
                data["vh"] = entry["vh"]
            self.facts.append(Fact("move", self.sid, self.wid, entry["ts"], entry["url"], data,
                                   None, float(entry["n"])))
        if self.idle_ms:
            self.facts.append(Fact("idle", self.sid, self.wid, self.idle_at or 0, self.s.url,
                                   {}, None, float(self.idle_ms)))
        if self.reversals:
            self.facts.append(Fact("scroll_reversal", self.sid, self.wid, self.reversal_at or 0,
                                   self.s.url, {}, None, float(self.reversals)))
        self.page_time()
        return self.facts

    def _url_of(self, pv: int) -> str | None:
        for fact in reversed(self.facts):
            if fact.kind == "page_view" and fact.ts_ms == pv:
                return fact.url
        return self.s.url


def click_response(event: dict[str, Any]) -> tuple[str, bool] | None:
    """Whether ``event`` answers a click waiting for a response (a click with none within
    ``dead_click_timeout_ms`` is dead), as what it is and whether it also answers a click of
    its own millisecond: a page change (yes), a DOM change or an input (only strictly after),
    an app-level custom event (yes). The replay page's incident explanation reads the same."""
    kind = event.get("type")
    if kind == EVENT_META:
        return ("page change", True) if meta_href(event) is not None else None
    data = _data(event)
    if kind == EVENT_INCREMENTAL:
        source = data.get("source")
        if source == SOURCE_MUTATION:
            return "DOM change", False
        if source == SOURCE_INPUT:
            return "input", False
    elif kind == EVENT_CUSTOM:
        tag = data.get("tag")
        # the recorder's own tags (errors, __click, __perf, __form_submit) and navigation
        # are not the app answering
        if isinstance(tag, str) and tag and tag != NAVIGATION_TAG and not is_internal_tag(tag):
            return f"app event “{tag[:60]}”", True
    return None


def derive_facts(
    session_id: str,
    window_id: str,
    events: Iterable[dict[str, Any]],
    initial_url: str | None = None,
    state: FactState | None = None,
    rules: FrustrationRules | None = None,
    referrer: str | None = None,
) -> list[Fact]:
    """Every fact of a batch. ``state`` (updated in place) carries the window across batches;
    without it the batch is taken as the window's first, on ``initial_url``."""
    if state is None:
        state = FactState(url=initial_url)
    walk = _Walk(session_id, window_id, state, rules or FrustrationRules(), referrer)
    for event in events:
        ts = _ts_ms(event)
        kind = event.get("type")
        data = _data(event)
        walk.settle_clicks(ts)
        if state.pending:
            answer = click_response(event)
            if answer is not None:  # inclusive of the click's own moment, or strictly after
                walk.responded(ts + 1 if answer[1] else ts)
        walk.gap(ts)
        if state.pv is not None and (state.pv_last_ms is None or ts > state.pv_last_ms):
            state.pv_last_ms = ts
        if kind == EVENT_META:
            href = meta_href(event)
            if href is not None:
                walk.meta(ts, href, data)
        elif kind == EVENT_INCREMENTAL:
            source = data.get("source")
            if source == SOURCE_MOUSE_INTERACTION and data.get("type") == MOUSE_CLICK:
                walk.click(ts, data)
            elif source in (SOURCE_MOUSE_MOVE, SOURCE_TOUCH_MOVE):
                walk.move(ts, data)
            elif source == SOURCE_INPUT:
                walk.input(ts, data)
            elif source == SOURCE_SCROLL:
                walk.scroll(ts, data)
            elif source == SOURCE_VIEWPORT_RESIZE:
                state.width = _number(data.get("width")) or state.width
                state.height = _number(data.get("height")) or state.height
        elif kind == EVENT_CUSTOM:
            walk.custom(ts, data)
    facts = walk.finish()
    facts.sort(key=lambda f: f.ts_ms)
    return facts
