"""The demo site that ``sentiero demo`` serves beside the dashboard.

A few pages worth recording — a landing page long enough to scroll, a todo list, a signup
form with a password field, and a route that raises — each carrying the recorder's script tag.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from sentiero.app import Sentiero
from sentiero.demo import reporting

PAGES = {
    "/": ("landing.html", "Home"),
    "/todo": ("todo.html", "Todo list"),
    "/signup": ("signup.html", "Sign up"),
    "/thanks": ("thanks.html", "Thanks"),
}


class DemoError(RuntimeError):
    """Raised on purpose by /boom so there is a server error to look at."""


class DemoSite:
    def __init__(self, sentiero: Sentiero, reporting: bool = False) -> None:
        self.sentiero = sentiero
        self.reporting = reporting  # through sentry-sdk (demo/reporting.py)
        self.env = Environment(
            loader=FileSystemLoader(Path(__file__).parent / "templates"),
            autoescape=select_autoescape(["html"]),
        )
        rules = [Rule(path, endpoint=path) for path in PAGES]
        self.urls = Map([*rules, Rule("/boom", endpoint="boom")])

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        try:
            endpoint, _ = self.urls.bind_to_environ(environ).match()
            if endpoint == "boom":
                raise DemoError("The demo's /boom route failed, as it always does")
            template, title = PAGES[endpoint]
            html = self.env.get_template(template).render(
                title=title,
                script_tag=self.sentiero.script_tag(),
                dashboard_url=request.script_root + self.sentiero.settings.prefix + "/",
            )
            response = Response(html, content_type="text/html; charset=utf-8")
        except NotFound as exc:
            response = exc.get_response(environ)
        except HTTPException as exc:
            response = exc.get_response(environ)
        except DemoError as exc:
            reporting.report(self.sentiero, exc, environ, self.reporting)
            response = Response(
                f"<h1>500 Internal Server Error</h1><p>{exc}</p>",
                status=500,
                content_type="text/html; charset=utf-8",
            )
        return response(environ, start_response)


def build_demo_app(sentiero: Sentiero, base_url: str | None = None) -> DispatcherMiddleware:
    """The demo site at / and Sentiero at its prefix, in one WSGI app. With ``base_url``
    (where the demo's Sentiero is reached) its /boom error is reported through sentry-sdk
    when installed, else stored directly."""
    through_sdk = reporting.start(sentiero, base_url) if base_url else False
    site = reporting.wrap(DemoSite(sentiero, through_sdk), through_sdk)
    return DispatcherMiddleware(site, {sentiero.settings.prefix: sentiero.wsgi_app})
