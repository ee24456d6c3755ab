"""The export datasets of the part-2 analyses (frustration, scroll, forms, engagement, saved
funnels, conversions to a goal, click heatmaps, mouse-move attention), registered with
:func:`sentiero.analytics.export.register` when :mod:`sentiero.analytics.export` loads."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from sentiero.analytics import (
    attention,
    conversions,
    engagement,
    forms,
    frustration,
    funnel,
    heatmap,
    pages,
    scroll,
)
from sentiero.analytics.export import Dataset, register
from sentiero.analytics.periods import Period

if TYPE_CHECKING:
    from sentiero.stores.base import Store


def _frustration(store: Store, period: Period) -> Iterator[list[Any]]:
    for f in frustration.incidents(store, period):  # every one, streamed
        i = frustration.Incident(f)
        yield [f.url or "", i.subtype, f.session_id, f.window_id, f.ts_ms, i.clicks, f.key,
               i.with_error, f.data.get("x"), f.data.get("y")]


def _scroll(store: Store, period: Period) -> Iterator[list[Any]]:
    for page in scroll.scroll_depth(store, period):
        hist = dict(page.histogram)
        yield [page.url, page.sessions, round(page.avg_depth_px or 0, 1), page.avg_depth_pct,
               page.page_height_px, page.fold(50), page.fold(75), page.fold(90), page.views,
               *(hist[b] for b in scroll.BINS)]


def _funnels(store: Store, period: Period) -> Iterator[list[Any]]:
    """Every saved funnel's steps (a store without saved funnels has none)."""
    try:
        saved = store.list_funnels()
    except NotImplementedError:
        return
    for f in saved:
        steps = [funnel.Step(kind, value) for kind, value in f.steps]
        result = funnel.funnel(store, period, steps, f.within_ms)
        for n, r in enumerate(result.steps, 1):
            yield [f.name, n, r.step.kind, r.step.value, r.sessions, r.from_first_pct,
                   r.from_previous_pct, r.median_ms_from_previous, r.drop_offs]


def _forms(store: Store, period: Period) -> Iterator[list[Any]]:
    """Per field of every page (labels need one snapshot per page: left to the page)."""
    for page in forms.form_pages(store, period):
        for f in page.fields:
            yield [page.url, f.node, f.sessions, f.rate_pct, f.avg_fill_ms, f.refills,
                   f.drop_offs]


def _conversions(store: Store, period: Period, goal: funnel.Step) -> Iterator[list[Any]]:
    """The goal's totals, then every row of every facet (the page shows the top 15), each with
    its example sessions."""
    data = conversions.conversions(store, period, goal, top=None)
    yield ["all", None, data.sessions, data.conversions, data.rate_pct,
           data.sessions < conversions.LOW_VOLUME, None, None]
    for name, rows in data.facets.items():
        for r in rows:
            yield [name.lower().replace(" ", "_"), r.value, r.sessions, r.conversions,
                   r.rate_pct, r.low_volume, r.converting and r.converting.session_id,
                   r.not_converting and r.not_converting.session_id]


def _engagement(store: Store, period: Period) -> Iterator[list[Any]]:
    data = engagement.engagement(store, period)
    for item in data.rows:
        sig = item.signals
        yield [item.row.session_id, item.score, item.row.traits.entry_url,
               item.row.duration_ms, sig.rage, sig.dead, sig.churn, round(sig.idle_ratio, 3),
               sig.thrash, sig.bounce, sig.refills, sig.error_exit]


def _per_bucket(build: Callable[..., Any], store: Store, period: Period
                ) -> Iterator[tuple[str, Any]]:
    """``build(store, period, url[, bucket])`` (a heatmap or a move map) for every page in
    each viewport bucket that has data: the default bucket's from the first call."""
    for url in pages.page_urls(store, period):
        first = build(store, period, url)
        for bucket, count in first.counts.items():
            if count:
                yield url, first if bucket == first.bucket else \
                    build(store, period, url, bucket)


def _heatmap(store: Store, period: Period) -> Iterator[list[Any]]:
    """Hot spots: where their clicks were on average, in the bucket's representative layout
    (x scaled to its width, y in page pixels), hottest first."""
    for url, h in _per_bucket(heatmap.heatmap, store, period):
        width = h.representative.width if h.representative else None
        for s in h.spots:
            yield [url, h.bucket, width, round(s.centre[0], 1), round(s.centre[1], 1),
                   s.count, s.sessions]


def _clicked_elements(store: Store, period: Period) -> Iterator[list[Any]]:
    for url, h in _per_bucket(heatmap.heatmap, store, period):
        for selector, count in h.top_elements:
            yield [url, h.bucket, selector, count,
                   round(count * 100 / h.total, 1) if h.total else None]


def _attention(store: Store, period: Period) -> Iterator[list[Any]]:
    """Every page's move cells per viewport bucket; x as a share of the visitor's viewport
    width (the cell's centre), y in page pixels (the cell's centre)."""
    for url, moves in _per_bucket(attention.move_map, store, period):
        for c in moves.cells:
            yield [url, moves.bucket, round((c.gx + 0.5) * 100 / attention.MOVE_COLUMNS, 2),
                   (c.gy + 0.5) * attention.MOVE_ROW_PX, c.count, c.sessions]


for dataset in (
    Dataset("frustration", "Frustration incidents",
            ("url", "subtype", "session_id", "window_id", "timestamp_ms", "clicks", "selector",
             "with_js_error", "x", "y"), _frustration),
    Dataset("scroll", "Scroll depth",
            ("url", "session_count", "avg_depth_px", "avg_depth_pct", "page_height_px",
             "p50_pct", "p75_pct", "p90_pct", "page_views", "bin_0_25", "bin_25_50",
             "bin_50_75", "bin_75_100"), _scroll),
    Dataset("forms", "Form analytics",
            ("url", "field_id", "sessions", "completion_rate", "avg_time_to_fill_ms",
             "total_refills", "drop_offs"), _forms),
    Dataset("engagement", "Engagement scores (top 500)",
            ("session_id", "score", "entry_url", "duration_ms", "rage_clicks", "dead_clicks",
             "revisits", "idle_ratio", "scroll_reversals", "quick_bounce", "form_refills",
             "error_exit"), _engagement),
    Dataset("funnel", "Saved funnels",
            ("funnel", "step", "kind", "value", "sessions", "from_first_pct",
             "from_previous_pct", "median_ms_from_previous", "stopped_here"), _funnels),
    Dataset("conversions", "Conversions",
            ("facet", "value", "sessions", "conversions", "rate_pct", "low_volume",
             "converting_session_id", "not_converting_session_id"), _conversions,
            needs_goal=True),
    Dataset("heatmap", "Click heatmaps (hot spots)",
            ("url", "viewport", "layout_width_px", "x_px", "y_px", "clicks", "sessions"),
            _heatmap),
    Dataset("clicked_elements", "Most clicked elements",
            ("url", "viewport", "selector", "clicks", "share_pct"), _clicked_elements),
    Dataset("attention", "Pointer-move attention (mouse and touch)",
            ("url", "viewport", "x_pct", "y_px", "samples", "sessions"), _attention),
):
    register(dataset)
