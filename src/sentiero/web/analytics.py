"""The analytics pages (inventory §3.4, §5): overview, segments, pages and the page report,
Web Vitals and export. Handlers only translate HTTP to calls of ``sentiero.analytics``."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from werkzeug.wrappers import Request, Response

from sentiero.analytics import export, funnel, overview, pages, vitals
from sentiero.analytics.query import DURATION_BUCKETS_MS, DURATION_LABELS, Scope, Segment
from sentiero.analytics.traits import BROWSERS, DEVICES, OPERATING_SYSTEMS
from sentiero.stores.base import Fact
from sentiero.web import charts, security
from sentiero.web.analytics_params import (
    MAX_URL_PARAM,
    RangeParams,
    parse_goal,
    parse_range,
    parse_segment,
    segment_params,
)
from sentiero.web.dashboard import MAX_PAGE, format_duration, parse_int, url_path
from sentiero.web.routing import Route, Web, text_response

DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 100
TABS = (("overview", "Overview", "/analytics"),
        ("heatmap", "Heatmap", "/analytics/heatmap"), ("scroll", "Scroll", "/analytics/scroll"),
        ("forms", "Forms", "/analytics/forms"),
        ("pages", "Pages", "/analytics/pages"),
        ("segments", "Segments", "/analytics/segments"),
        ("vitals", "Web Vitals", "/analytics/vitals"),
        ("frustration", "Frustration", "/analytics/frustration"),
        ("funnel", "Funnel", "/analytics/funnel"),
        ("engagement", "Engagement", "/analytics/engagement"),
        ("conversions", "Conversions", "/analytics/conversions"),
        ("errors", "Client errors", "/issues?source=client"),
        ("export", "Export", "/analytics/export"))
_EXPORT_NAME = re.compile(r"^([a-z_]{1,40})\.(csv|json)\Z")


class Links:
    """URLs between analytics pages and to the sessions behind a number, carrying the range."""

    def __init__(self, web: Web, request: Request, rng: RangeParams) -> None:
        self.root = web.root(request)
        self.rng = rng

    def _url(self, path: str, params: dict[str, Any]) -> str:
        clean = {k: str(v) for k, v in params.items() if v not in (None, "")}
        sep = "&" if "?" in path else "?"
        return self.root + path + (sep + urlencode(clean) if clean else "")

    def tab(self, path: str) -> str:
        return self._url(path, self.rng.params())

    def segment(self, **filters: Any) -> str:
        """The segments page listing the sessions a number counts."""
        base = segment_params(Segment(**{k: v for k, v in filters.items()
                                         if k in Segment.__dataclass_fields__}))
        return self._url("/analytics/segments", {**self.rng.period_params(), **base})

    def duration(self, label: str) -> str:
        """The sessions of one duration bucket of the overview."""
        index = DURATION_LABELS.index(label)
        edges = (0, *(ms // 1000 for ms in DURATION_BUCKETS_MS), None)
        low, high = edges[index], edges[index + 1]
        return self.segment(min_duration_s=low or None,
                            max_duration_s=high - 1 if high is not None else None)

    def page(self, url: str) -> str:
        return self._url("/analytics/page", {**self.rng.params(), "url": url})

    def replay(self, session_id: str, window_id: str, ts_ms: int | None = None) -> str:
        path = f"/sessions/{session_id}/windows/{window_id}"
        return self._url(path, {"t": ts_ms} if ts_ms is not None else {})

    def incident(self, fact: Fact) -> str:
        """A rage or dead click's replay, at it, with the replay page's "why it counted"."""
        subtype = "rage" if fact.kind == "rage_click" else "dead"
        return self._url(f"/sessions/{fact.session_id}/windows/{fact.window_id}",
                         {"t": fact.ts_ms, "incident": subtype})


def _render(web: Web, request: Request, template: str, tab: str, rng: RangeParams,
            **context: Any) -> Response:
    links = Links(web, request, rng)
    return web.render(request, template, title=context.pop("title"), nav="analytics", tab=tab,
                      tabs=[(key, label, links.tab(path)) for key, label, path in TABS],
                      rng=rng, links=links, charts=charts, format_duration=format_duration,
                      short_url=url_path,
                      **context)


def overview_page(web: Web, request: Request) -> Response:
    rng = parse_range(request.args)
    data = overview.overview(web.store, rng.period)
    labels = [b.label for b in data.series]
    return _render(
        web, request, "analytics_overview.html", "overview", rng, title="Analytics",
        o=data, deltas=data.deltas,
        series_chart=charts.column_chart(
            labels, [b.sessions for b in data.series], [b.errors for b in data.series],
            title="Sessions per " + ("week" if rng.period.weekly else "day")
            + " with JS errors", value_name="sessions", overlay_name="JS errors"),
        server_chart=charts.column_chart(
            labels, [b.server_errors for b in data.series],
            title="Server errors per " + ("week" if rng.period.weekly else "day"),
            value_name="server errors") if any(b.server_errors for b in data.series) else None,
        events_chart=charts.column_chart(
            labels, [b.events for b in data.series], title="Events per "
            + ("week" if rng.period.weekly else "day"), value_name="events"),
    )


def segments_page(web: Web, request: Request) -> Response:
    rng = parse_range(request.args, default_preset=None)
    segment = parse_segment(request.args)
    page = min(max(parse_int(request.args.get("page"), 1), 1), MAX_PAGE)
    per_page = parse_int(request.args.get("per_page"), DEFAULT_PER_PAGE)
    per_page = DEFAULT_PER_PAGE if per_page < 1 else min(per_page, MAX_PER_PAGE)
    scope = Scope(rng.period.since, rng.period.until, segment)
    rows = web.store.analytics_sessions(scope, limit=per_page + 1, offset=(page - 1) * per_page)
    total = web.store.count_sessions(scope)
    web.audit(request, "list_sessions", dataset="segments", detail={"page": page})
    countries = sorted(c for c in web.store.session_counts(Scope(), "country") if c)
    base = {**rng.params(), **segment_params(segment)}
    if per_page != DEFAULT_PER_PAGE:
        base["per_page"] = str(per_page)
    links = Links(web, request, rng)

    def page_url(n: int) -> str:
        return links._url("/analytics/segments", {**base, "page": n if n > 1 else None})

    return _render(
        web, request, "analytics_segments.html", "segments", rng, title="Segments",
        segment=segment, rows=rows[:per_page], total=total, page=page,
        prev_url=page_url(page - 1) if page > 1 else None,
        next_url=page_url(page + 1) if len(rows) > per_page and page < MAX_PAGE else None,
        browsers=BROWSERS, devices=DEVICES, operating_systems=OPERATING_SYSTEMS,
        countries=countries, per_page=per_page,
        sessions_url=links._url("/", {**segment_params(segment), **rng.period_params()}),
    )


def pages_page(web: Web, request: Request) -> Response:
    rng = parse_range(request.args)
    rows = pages.page_rows(web.store, rng.period)
    return _render(web, request, "analytics_pages.html", "pages", rng, title="Pages",
                   rows=rows[:pages.MAX_PAGES], total=len(rows))


def page_report_page(web: Web, request: Request) -> Response:
    rng = parse_range(request.args)
    url = (request.args.get("url") or "").strip()[:MAX_URL_PARAM]
    urls = pages.page_urls(web.store, rng.period)
    if url and url not in urls:
        urls = [url, *urls]
    report = pages.page_report(web.store, rng.period, url) if url else None
    return _render(web, request, "analytics_page.html", "pages", rng,
                   title="Page report", url=url, urls=urls, report=report)


def vitals_page(web: Web, request: Request) -> Response:
    rng = parse_range(request.args)
    data = vitals.web_vitals(web.store, rng.period)
    return _render(web, request, "analytics_vitals.html", "vitals", rng, title="Web Vitals",
                   pages=data[:vitals.MAX_PAGES], total=len(data), metrics=vitals.METRICS,
                   rating_colours=charts.RATING_COLOURS)


def _export_form(web: Web, request: Request, rng: RangeParams, status: int = 200,
                 error: str | None = None, goal: tuple[str, str] = ("tag", "")) -> Response:
    kind, value = goal
    return _render(web, request, "analytics_export.html", "export", rng, title="Export",
                   datasets=list(export.DATASETS.values()), error=error, goal_kind=kind,
                   goal_value=value if len(value) <= funnel.MAX_STEP_TEXT else "",
                   tags=funnel.tag_vocabulary(web.store, rng.period), status=status)


def export_page(web: Web, request: Request) -> Response:
    return _export_form(web, request, parse_range(request.args, default_preset=None))


def export_download(web: Web, request: Request, name: str) -> Response:
    if request.method != "POST":
        return text_response("Method Not Allowed", 405)
    match = _EXPORT_NAME.match(name)
    dataset = export.DATASETS.get(match.group(1)) if match else None
    if match is None or dataset is None:
        return text_response("Not Found", 404)
    if not security.csrf_ok(request):
        return security.csrf_refusal()
    fmt = match.group(2)
    rng = parse_range(request.form, default_preset=None)
    options: dict[str, Any] = {}
    if dataset.needs_goal:  # the conversions page's goal parameters, checked the same way
        asked = parse_goal(request.form)
        try:
            options["goal"] = funnel.make_step(*asked)
        except funnel.FunnelError as exc:
            return _export_form(web, request, rng, 400, goal=asked,
                                error=f"{dataset.label} not exported. {exc}")
    rows = dataset.rows(web.store, rng.period, **options)
    web.audit(request, "export", dataset=dataset.key, detail={"format": fmt})
    if fmt == "csv":
        body, mimetype = export.csv_lines(dataset, rows), "text/csv; charset=utf-8"
    else:
        body, mimetype = export.json_chunks(dataset, rows), "application/json"
    response = Response(body, mimetype=mimetype, direct_passthrough=True)
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{export.filename(dataset, rng.period, fmt)}"')
    response.headers["Cache-Control"] = "no-store"
    return response


ROUTES = [
    Route("/analytics", "analytics", overview_page),
    Route("/analytics/segments", "analytics_segments", segments_page),
    Route("/analytics/pages", "analytics_pages", pages_page),
    Route("/analytics/page", "analytics_page", page_report_page),
    Route("/analytics/vitals", "analytics_vitals", vitals_page),
    Route("/analytics/export", "analytics_export", export_page),
    Route("/analytics/export/<name>", "analytics_export_download", export_download,
          ("GET", "POST")),
]
