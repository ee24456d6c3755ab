"""The WSGI application: routing, auth gate, dispatch and error handling.

Handlers are plain functions ``handler(web, request, **url_values) -> Response`` declared by
the handler modules listed in ``_route_modules`` (each exposes ``ROUTES``, a list of
:class:`~sentiero.web.routing.Route`; handlers import ``routing``, never this module); the web
layer translates HTTP into calls and never holds business logic. Links are built from the
mount prefix (``SCRIPT_NAME``), so the app works at any prefix.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from sentiero.errors import describe_exception
from sentiero.privacy.logs import log_safe
from sentiero.settings import Settings
from sentiero.stores.base import Store
from sentiero.web import security
from sentiero.web.assets import Assets
from sentiero.web.routing import (  # noqa: F401 - re-exported for handler modules not moved yet
    Handler,
    Route,
    Web,
    invalid_id,
    json_for_script,
    json_response,
    text_response,
    valid_ids,
)

logger = logging.getLogger("sentiero.web")


def _route_modules() -> list[Any]:
    from sentiero.web import (
        activity,
        analytics,
        analytics_more,
        api,
        client_errors,
        dashboard,
        downloads,
        events,
        issues,
        maintenance,
        privacy_scan,
        share,
        tracking_ingest,
    )

    return [events, dashboard, api, analytics, analytics_more, client_errors, activity, downloads,
            maintenance, share, privacy_scan, tracking_ingest, issues]


class Application:
    """The WSGI app serving every route of one Sentiero instance."""

    def __init__(self, settings: Settings, store: Store, assets: Assets | None = None,
                 routes: Iterable[Route] | None = None) -> None:
        self.web = Web(settings, store, assets or Assets(settings.assets_dir))
        if routes is None:
            routes = list(self.builtin_routes())
            for module in _route_modules():
                routes.extend(module.ROUTES)
        self.routes: dict[str, Route] = {}
        rules = []
        for route in routes:
            self.routes[route.endpoint] = route
            rules.append(Rule(route.rule, endpoint=route.endpoint, methods=list(route.methods)))
        self.url_map = Map(rules, strict_slashes=False, merge_slashes=False)

    def builtin_routes(self) -> list[Route]:
        from sentiero.web.events import ingest

        def events(web: Web, request: Request) -> Response:
            return ingest(request, web.settings, web.store)

        def asset(web: Web, request: Request, filename: str) -> Response:
            return web.assets.serve(request, filename)

        def recorder(web: Web, request: Request) -> Response:
            return web.assets.serve_recorder(request)

        any_method = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
        return [
            Route("/events", "events", events, any_method, public=True, json=True),
            Route("/assets/<path:filename>", "asset", asset, public=True),
            Route("/recorder.js", "recorder", recorder, public=True),
        ]

    # ------------------------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]
                 ) -> Iterable[bytes]:
        if not environ.get("PATH_INFO"):
            environ = {**environ, "PATH_INFO": "/"}
        request = Request(environ)
        response = self.dispatch(request)
        return response(environ, start_response)

    def is_public(self, environ: dict[str, Any]) -> bool:
        """Whether the request goes to a public route (ingest, assets), which skips dashboard
        auth; framework integrations ask before applying their own login rules."""
        if not environ.get("PATH_INFO"):
            environ = {**environ, "PATH_INFO": "/"}
        try:
            endpoint, _values = self.url_map.bind_to_environ(environ).match()
        except HTTPException:
            return False
        return self.routes[endpoint].public

    def dispatch(self, request: Request) -> Response:
        """Route, then for dashboard routes: auth, the CSRF check of every state-changing
        method, the handler, and the headers every dashboard answer carries (security headers,
        ``Cache-Control: no-store``: it shows recorded data). 404s, refusals and errors carry
        them whichever route they came from."""
        adapter = self.url_map.bind_to_environ(request.environ)
        try:
            endpoint, values = adapter.match()
        except (NotFound, MethodNotAllowed):
            return security.apply_dashboard_headers(text_response("Not Found", 404))
        except HTTPException as exc:  # RequestRedirect and friends
            response = exc.get_response(request.environ)
            return security.apply_dashboard_headers(response)  # type: ignore[arg-type]
        route = self.routes[endpoint]
        try:
            response = self._run(route, request, values)
        except Exception as exc:
            # type and innermost frame only: a driver error may chain query parameters (the
            # search text, events), and those must not reach anyone's logs
            logger.error("Sentiero: unhandled error in %s %s (%s)", request.method,
                         log_safe(request.path), describe_exception(exc))
            if route.json:
                response = json_response({"error": "internal server error"}, 500)
            else:
                response = text_response("Internal Server Error", 500)
            return security.apply_dashboard_headers(response)
        if route.public:
            if response.status_code >= 400:  # refusals, 404s, errors: never cached, never framed
                return security.apply_dashboard_headers(response)
            return security.apply_nosniff(response)
        return security.apply_dashboard_headers(response)

    def _run(self, route: Route, request: Request, values: dict[str, Any]) -> Response:
        if not route.public:
            refusal = security.check_auth(request, self.web.settings)
            if refusal is not None:
                return refusal
            if request.method not in security.SAFE_METHODS and not security.check_csrf(
                request, self.web.settings, self.web.csrf_secret
            ):
                return security.csrf_refusal()
        return route.handler(self.web, request, **values)
