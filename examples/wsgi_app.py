"""Any WSGI app: mount Sentiero at /sentiero with werkzeug's DispatcherMiddleware."""

import os

from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.wrappers import Request, Response

from sentiero import Sentiero

sentiero = Sentiero(
    store_url=os.environ.get("SENTIERO_STORE_URL", "sqlite:///sentiero-wsgi-example.db"),
    basic_auth=("admin", os.environ["SENTIERO_PASSWORD"]),  # no default: choose one
)


@Request.application
def site(request: Request) -> Response:
    html = (f"<!doctype html><html><head><title>Shop</title>{sentiero.script_tag()}</head>"
            "<body><h1>Plain WSGI shop</h1></body></html>")
    return Response(html, content_type="text/html; charset=utf-8")


application = DispatcherMiddleware(site, {"/sentiero": sentiero.wsgi_app})
