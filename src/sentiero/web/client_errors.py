"""Client JS error groups (inventory §5.12) at ``/issues?source=client`` and their detail at
``/issues/client/<group id>``, each occurrence one click from its replay moment."""

from __future__ import annotations

import re

from werkzeug.wrappers import Request, Response

from sentiero.analytics import client_errors
from sentiero.analytics.query import MAX_FILTER_TEXT
from sentiero.web.analytics import Links, _render
from sentiero.web.analytics_params import parse_range
from sentiero.web.dashboard import MAX_PAGE, parse_int
from sentiero.web.routing import Route, Web, text_response

DEFAULT_PER_PAGE = 50
MAX_PER_PAGE = 200
_GROUP_ID = re.compile(r"^[0-9a-f]{40}\Z")


def page(web: Web, request: Request) -> Response:
    """The client error groups (``/issues?source=client``)."""
    rng = parse_range(request.args, default_preset=None)
    search = (request.args.get("search") or "").strip()[:MAX_FILTER_TEXT]
    sort = request.args.get("sort_by")
    sort = sort if sort in client_errors.SORTS else "count"
    page_number = min(max(parse_int(request.args.get("page"), 1), 1), MAX_PAGE)
    per_page = parse_int(request.args.get("per_page"), DEFAULT_PER_PAGE)
    per_page = DEFAULT_PER_PAGE if per_page < 1 else min(per_page, MAX_PER_PAGE)
    groups = client_errors.error_groups(web.store, rng.period, search=search or None,
                                        sort=sort)
    web.audit(request, "list_problems", dataset="client_errors")
    start = (page_number - 1) * per_page
    links = Links(web, request, rng)
    params = {**rng.params(), "source": "client", "search": search or None,
              "sort_by": sort if sort != "count" else None}

    def page_url(n: int) -> str:
        return links._url("/issues", {**params, "page": n if n > 1 else None})

    return _render(
        web, request, "client_errors.html", "errors", rng, title="Client errors",
        groups=groups[start:start + per_page], total=len(groups), search=search, sort=sort,
        prev_url=page_url(page_number - 1) if page_number > 1 else None,
        next_url=page_url(page_number + 1) if start + per_page < len(groups) else None,
    )


def group_detail(web: Web, request: Request, gid: str) -> Response:
    if not _GROUP_ID.match(gid):
        return text_response("Not Found", 404)
    rng = parse_range(request.args, default_preset=None)
    group = client_errors.find_group(web.store, rng.period, gid)
    if group is None:
        return text_response("Error group not found", 404)
    web.audit(request, "view_client_error", dataset="client_errors", detail={"group": gid})
    return _render(web, request, "client_error.html", "errors", rng,
                   title="Client error", group=group)


ROUTES = [
    # /issues itself is web/issues.py, which hands ?source=client to page()
    Route("/issues/client/<gid>", "client_error", group_detail),
]
