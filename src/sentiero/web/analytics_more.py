"""The analytics pages of part 2 (inventory §5.3–§5.9): frustration, scroll depth, funnels,
conversions. Handlers only translate HTTP to calls of ``sentiero.analytics``; a bad parameter
is a message on the page, never a 500."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlencode

from werkzeug.utils import redirect
from werkzeug.wrappers import Request, Response

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
    snapshots,
)
from sentiero.ingest.facts import MOVE_COLUMNS, MOVE_ROW_PX
from sentiero.stores import saved_funnels
from sentiero.stores.base import StoreError
from sentiero.stores.saved_funnels import SavedFunnel
from sentiero.web import security
from sentiero.web.analytics import _render
from sentiero.web.analytics_params import MAX_URL_PARAM, parse_goal, parse_range
from sentiero.web.routing import Route, Web, json_response, text_response


def _url_param(request: Request) -> str:
    return (request.args.get("url") or "").strip()[:MAX_URL_PARAM]


def frustration_page(web: Web, request: Request) -> Response:
    rng = parse_range(request.args)
    url = _url_param(request) or None
    shown = frustration.INCIDENTS_ON_PAGE if url else frustration.INCIDENTS_SHOWN
    pages = frustration.frustration(web.store, rng.period, url=url, shown=shown)
    return _render(web, request, "analytics_frustration.html", "frustration", rng,
                   title="Frustration", pages=pages[:frustration.MAX_PAGES], total=len(pages),
                   url=url, rules=web.settings.frustration_rules(), shown=shown)


def scroll_page(web: Web, request: Request) -> Response:
    rng = parse_range(request.args)
    url = _url_param(request) or None
    pages = scroll.scroll_depth(web.store, rng.period, url=url)
    return _render(web, request, "analytics_scroll.html", "scroll", rng, title="Scroll depth",
                   pages=pages[:scroll.MAX_PAGES], total=len(pages), url=url)


def forms_page(web: Web, request: Request) -> Response:
    rng = parse_range(request.args)
    url = _url_param(request)
    pages = forms.form_pages(web.store, rng.period)
    urls = [p.url for p in pages]
    if not url and urls:
        url = urls[0]
    detail = forms.form_pages(web.store, rng.period, url=url) if url in urls else []
    return _render(web, request, "analytics_forms.html", "forms", rng, title="Forms",
                   pages=pages[:forms.MAX_PAGES], total=len(pages), url=url,
                   page=detail[0] if detail else None, unknown=bool(url) and url not in urls)


def engagement_page(web: Web, request: Request) -> Response:
    rng = parse_range(request.args)
    sort = "duration" if request.args.get("sort") == "duration" else "score"
    data = engagement.engagement(web.store, rng.period, sort=sort)
    web.audit(request, "list_sessions", dataset="engagement", detail={"sort": sort})
    return _render(web, request, "analytics_engagement.html", "engagement", rng,
                   title="Engagement", data=data, sort=sort, weights=engagement.WEIGHTS,
                   signal_labels=engagement.LABELS, max_rows=engagement.MAX_ROWS)


def scroll_json(web: Web, request: Request) -> Response:
    """One page's fold lines in page pixels over its deepest-scrolling page view's snapshot
    (the shape heatmap.js draws)."""
    rng = parse_range(request.args)
    url = _url_param(request)
    found = scroll.scroll_depth(web.store, rng.period, url=url) if url else []
    if not found or found[0].deepest is None:
        return json_response({"snapshot": None, "folds": [], "spots": []})
    page = found[0]
    deepest = page.deepest
    assert deepest is not None
    events = snapshots.page_events(web.store, deepest.session_id, deepest.window_id,
                                   deepest.pv) if isinstance(deepest.pv, int) else None
    width = next((e["data"].get("width") for e in events or [] if e.get("type") == 4), None)
    height = page.page_height_px
    merged: dict[float, list[int]] = {}  # equal folds: one line, one label
    for p in (50, 75, 90):
        merged.setdefault(page.fold(p) or 0.0, []).append(p)
    folds = [{"p": ps[0], "y": round(height * depth / 100, 1),
              "label": "/".join(f"p{p}" for p in ps) + f" ({depth}%): "
                       + " / ".join(f"{p}%" for p in ps) + " of page views stopped at or above"}
             for depth, ps in sorted(merged.items())]
    return json_response({"snapshot": events, "width": width, "viewport_height": deepest.vh,
                          "page_height": height, "folds": folds, "spots": []})


def _heatmap_args(web: Web, request: Request) -> tuple[Any, str, list[str], str | None]:
    rng = parse_range(request.args)
    urls = pages.page_urls(web.store, rng.period)
    url = _url_param(request) or (urls[0] if urls else "")
    viewport = request.args.get("viewport")
    return rng, url, urls, viewport if viewport in heatmap.BUCKET_KEYS else None


def _moves_asked(request: Request) -> bool:
    return request.args.get("mode") == "moves"


def moves_page(web: Web, request: Request) -> Response:
    """The heatmap page's ``mode=moves``: the mouse-move attention map."""
    rng, url, urls, viewport = _heatmap_args(web, request)
    data = attention.move_map(web.store, rng.period, url, viewport) if url in urls else None
    return _render(web, request, "analytics_moves.html", "heatmap", rng, title="Heatmap",
                   url=url, urls=urls, data=data, buckets=heatmap.BUCKETS,
                   unknown=bool(url) and url not in urls,
                   links_base={**rng.params(), "url": url, "mode": "moves"},
                   asked_viewport=viewport, columns=MOVE_COLUMNS, row_px=MOVE_ROW_PX)


def moves_json(web: Web, request: Request) -> Response:
    """What heatmap.js draws for ``mode=moves``: the busiest cells as spots (no listing)."""
    rng, url, urls, viewport = _heatmap_args(web, request)
    if url not in urls:
        return json_response({"mode": "moves", "total_samples": 0, "spots": [],
                              "snapshot": None})
    data = attention.move_map(web.store, rng.period, url, viewport)
    rep = data.representative
    snapshot = snapshots.page_events(web.store, rep.session_id, rep.window_id, rep.pv) \
        if rep is not None else None
    spots = []
    for cell in data.cells:
        x, y = data.centre(cell)
        spots.append({"x": round(x, 1), "y": round(y, 1), "count": cell.count,
                      "sessions": cell.sessions})
    return json_response({
        "mode": "moves", "unit": "mouse-move sample", "viewport": data.bucket,
        "counts": data.counts, "total_samples": data.total, "page_views": data.views,
        "width": rep.width if rep is not None else None,
        "viewport_height": rep.height if rep is not None else None,
        "page_height": data.page_height, "peak": data.peak, "snapshot": snapshot,
        "spots": spots,
    })


def heatmap_page(web: Web, request: Request) -> Response:
    if _moves_asked(request):
        return moves_page(web, request)
    rng, url, urls, viewport = _heatmap_args(web, request)
    spot_key = (request.args.get("spot") or "")[:40]
    data = heatmap.heatmap(web.store, rng.period, url, viewport, spot=spot_key or None) \
        if url in urls else None
    spot = data.spot(spot_key) if data is not None else None
    links_base = {**rng.params(), "url": url}
    return _render(web, request, "analytics_heatmap.html", "heatmap", rng, title="Heatmap",
                   url=url, urls=urls, data=data, spot=spot, buckets=heatmap.BUCKETS,
                   unknown=bool(url) and url not in urls, links_base=links_base,
                   asked_viewport=viewport, spot_clicks=heatmap.SPOT_CLICKS)


def heatmap_json(web: Web, request: Request) -> Response:
    """The original's shape (grid_size, total_clicks, clicks_by_bucket, top_elements,
    representative_window, was_truncated) plus what the overlay draws: the viewport bucket,
    the representative layout's width, the page's snapshot (its Meta and full snapshot: one
    fetch, whatever the number of sessions) and every hot spot with its listing link."""
    if _moves_asked(request):
        return moves_json(web, request)
    rng, url, urls, viewport = _heatmap_args(web, request)
    if url not in urls:
        return json_response({"grid_size": heatmap.CELL_PX, "total_clicks": 0,
                              "clicks_by_bucket": [], "top_elements": [],
                              "representative_window": None, "was_truncated": False,
                              "spots": [], "snapshot": None})
    data = heatmap.heatmap(web.store, rng.period, url, viewport)
    rep = data.representative
    snapshot = snapshots.page_events(web.store, rep.session_id, rep.window_id, rep.pv) \
        if rep is not None else None
    root = web.root(request)
    base = {**rng.params(), "url": url, "viewport": data.bucket}
    return json_response({
        "grid_size": heatmap.CELL_PX, "total_clicks": data.total,
        "clicks_by_bucket": [{"x": s.gx, "y": s.gy, "count": s.count} for s in data.spots],
        "top_elements": [{"selector": k, "count": n} for k, n in data.top_elements],
        "representative_window": {"session_id": rep.session_id, "window_id": rep.window_id}
        if rep is not None else None,
        "was_truncated": False, "viewport": data.bucket, "counts": data.counts,
        "width": rep.width if rep is not None else None,
        "viewport_height": rep.height if rep is not None else None,
        "page_height": data.page_height, "peak": data.peak, "snapshot": snapshot,
        "spots": [{"x": round(s.centre[0], 1), "y": round(s.centre[1], 1), "count": s.count,
                   "sessions": s.sessions,
                   "href": f"{root}/analytics/heatmap?{urlencode({**base, 'spot': s.key})}"
                           "#spot"} for s in data.spots],
    })


MAX_STEP_PARAMS = 60  # step1..step60 are read, so "fifty steps" gets its message


def parse_steps(args: Mapping[str, str]) -> list[tuple[str, str]]:
    """``step1``…``stepN`` with ``type1``…``typeN`` (``tag``, the default, or ``url``)."""
    pairs = []
    for n in range(1, MAX_STEP_PARAMS + 1):
        value = (args.get(f"step{n}") or "").strip()
        if value:
            pairs.append(((args.get(f"type{n}") or "tag").strip()[:20], value[:1000]))
    return pairs


def parse_within(args: Mapping[str, str]) -> int | None:
    """``within``: minutes (a whole number), None when absent or not a positive number."""
    raw = (args.get("within") or "").strip()
    if not raw.isdigit() or int(raw) <= 0:
        return None
    return min(int(raw) * 60_000, funnel.MAX_WITHIN_MS)


def _saved(web: Web) -> list[SavedFunnel] | None:
    """The saved funnels, or None when the store keeps none."""
    try:
        return web.store.list_funnels()
    except NotImplementedError:
        return None


def funnel_query(steps: Sequence[tuple[str, str]], within_ms: int | None) -> dict[str, str]:
    """The query string of a funnel (what a saved funnel links to)."""
    out: dict[str, str] = {}
    for n, (kind, value) in enumerate(steps, 1):
        out[f"step{n}"] = value
        if kind != "tag":
            out[f"type{n}"] = kind
    if within_ms:
        out["within"] = str(within_ms // 60_000)
    return out


def funnel_page(web: Web, request: Request) -> Response:
    rng = parse_range(request.args)
    pairs = parse_steps(request.args)
    within_ms = parse_within(request.args)
    error = result = None
    steps: list[funnel.Step] = []
    if pairs:
        try:
            steps = funnel.make_steps(pairs)
            result = funnel.funnel(web.store, rng.period, steps, within_ms)
        except funnel.FunnelError as exc:
            error = str(exc)
    notice = {"saved": "Funnel saved.", "deleted": "Funnel deleted.",
              "full": f"At most {saved_funnels.MAX_SAVED} saved funnels: delete one first.",
              "unnamed": "Give the funnel a name to save it."}.get(request.args.get("done", ""))
    shown = pairs[:funnel.MAX_STEPS]  # the form: the steps asked and one more empty row
    blank = min(funnel.MAX_STEPS, max(3, len(shown) + 1)) - len(shown)
    rows = [*shown, *[("tag", "")] * blank]
    return _render(web, request, "analytics_funnel.html", "funnel", rng, title="Funnel",
                   result=result, error=error, rows=rows, within_min=(within_ms or 0) // 60_000,
                   tags=funnel.tag_vocabulary(web.store, rng.period),
                   max_steps=funnel.MAX_STEPS, saved=_saved(web), notice=notice,
                   funnel_query=funnel_query, steps=[(s.kind, s.value) for s in steps])


def save_funnel(web: Web, request: Request) -> Response:
    if not security.csrf_ok(request):
        return security.csrf_refusal()
    root = web.root(request) + "/analytics/funnel"
    name = " ".join((request.form.get("name") or "").split())[:saved_funnels.MAX_NAME]
    within_ms = parse_within(request.form)
    try:
        steps = funnel.make_steps(parse_steps(request.form))
    except funnel.FunnelError:
        return text_response("Bad Request: not a funnel", 400)
    query = {**parse_range(request.form).params(),
             **funnel_query([(s.kind, s.value) for s in steps], within_ms)}
    if not name:
        return redirect(f"{root}?{urlencode({**query, 'done': 'unnamed'})}", 303)
    saved = SavedFunnel(saved_funnels.new_funnel_id(), name,
                        tuple((s.kind, s.value) for s in steps), within_ms,
                        datetime.now(timezone.utc))
    try:
        web.store.save_funnel(saved)
    except NotImplementedError:
        return text_response("This store keeps no saved funnels", 404)
    except StoreError:
        return redirect(f"{root}?{urlencode({**query, 'done': 'full'})}", 303)
    web.audit(request, "save_funnel", detail={"funnel_id": saved.funnel_id})
    return redirect(f"{root}?{urlencode({**query, 'done': 'saved'})}", 303)


def delete_funnel(web: Web, request: Request, funnel_id: str) -> Response:
    if not saved_funnels.valid_funnel_id(funnel_id):
        return text_response("Not Found", 404)
    if not security.csrf_ok(request):
        return security.csrf_refusal()
    try:
        deleted = web.store.delete_funnel(funnel_id)
    except NotImplementedError:
        return text_response("Not Found", 404)
    web.audit(request, "delete_funnel", detail={"funnel_id": funnel_id, "deleted": deleted})
    return redirect(f"{web.root(request)}/analytics/funnel?done=deleted", 303)


def conversions_page(web: Web, request: Request) -> Response:
    rng = parse_range(request.args)
    kind, value = parse_goal(request.args)
    error = result = None
    if value:
        try:
            goal = funnel.make_step(kind, value)
            result = conversions.conversions(web.store, rng.period, goal)
            if not result.conversions and result.sessions:
                error = (f"No session in this range reached {goal.label}: "
                         "check the tag or the URL pattern.")
        except funnel.FunnelError as exc:
            error = str(exc)
    return _render(web, request, "analytics_conversions.html", "conversions", rng,
                   title="Conversions", result=result, error=error, goal_kind=kind,
                   goal_value=value if len(value) <= funnel.MAX_STEP_TEXT else "",
                   tags=funnel.tag_vocabulary(web.store, rng.period),
                   low_volume=conversions.LOW_VOLUME)


ROUTES = [
    Route("/analytics/heatmap", "analytics_heatmap", heatmap_page),
    Route("/analytics/heatmap.json", "analytics_heatmap_json", heatmap_json),
    Route("/analytics/engagement", "analytics_engagement", engagement_page),
    Route("/analytics/forms", "analytics_forms", forms_page),
    Route("/analytics/funnel", "analytics_funnel", funnel_page),
    Route("/analytics/funnel/save", "analytics_funnel_save", save_funnel, ("POST",)),
    Route("/analytics/funnel/<funnel_id>/delete", "analytics_funnel_delete", delete_funnel,
          ("POST",)),
    Route("/analytics/conversions", "analytics_conversions", conversions_page),
    Route("/analytics/frustration", "analytics_frustration", frustration_page),
    Route("/analytics/scroll", "analytics_scroll", scroll_page),
    Route("/analytics/scroll.json", "analytics_scroll_json", scroll_json),
]
