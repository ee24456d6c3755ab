"""Small dashboard pages shared by the handlers: the styled "not found" page."""

from __future__ import annotations

from werkzeug.wrappers import Request, Response

from sentiero.web.routing import Web


def not_found_page(web: Web, request: Request, message: str) -> Response:
    """A 404 page saying what was not found, with a way back to the sessions list."""
    return web.render(request, "not_found.html", status=404, title=message, nav="sessions",
                      message=message, back_url=f"{web.root(request)}/")
