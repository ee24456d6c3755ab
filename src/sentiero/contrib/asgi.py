"""Mounting Sentiero in FastAPI, Starlette (and any ASGI app built on Starlette's routing).

::

    from fastapi import FastAPI
    from sentiero import Sentiero
    from sentiero.contrib.asgi import mount

    app = FastAPI()
    recorder = mount(app, Sentiero(basic_auth=("admin", os.environ["SENTIERO_PASSWORD"])))
    # a route or template: recorder.script_tag(request)

Litestar: ``recorder = litestar_mount(Sentiero(...))`` then
``Litestar(route_handlers=[..., recorder.handler])``.

The core runs in a2wsgi's thread pool; ``auth`` callables receive the framework's request
(``starlette.requests.Request``, so ``request.session`` and ``request.user`` work when the app
has SessionMiddleware / AuthenticationMiddleware). ``root_path`` (``uvicorn --root-path``,
``FastAPI(root_path=...)``) is honoured by the dashboard's links and by ``script_tag``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from markupsafe import Markup

from sentiero.app import Sentiero
from sentiero.web.security import HOST_REQUEST_KEY

__all__ = ["ASGIMount", "litestar_mount", "mount"]


def _starlette_request(scope: dict[str, Any]) -> Any:
    from starlette.requests import Request

    return Request(scope)


class ASGIMount:
    """An ASGI app serving one Sentiero instance at ``path`` of a host app."""

    def __init__(self, sentiero: Sentiero, path: str = "/sentiero",
                 request_factory: Callable[[dict[str, Any]], Any] | None = _starlette_request
                 ) -> None:
        from a2wsgi import WSGIMiddleware

        self.sentiero = sentiero
        self.path = "/" + path.strip("/") if path.strip("/") else ""
        self.request_factory = request_factory
        self._app = WSGIMiddleware(self._wsgi)
        self.handler: Any = None
        """The route handler to register, for frameworks that take one (Litestar)."""

    def _wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]
              ) -> Iterable[bytes]:
        scope = environ.get("asgi.scope")
        if scope is not None and self.request_factory is not None:
            environ[HOST_REQUEST_KEY] = self.request_factory(scope)
        return self.sentiero.wsgi_app(environ, start_response)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self._app(scope, receive, send)

    def script_tag(self, request: Any = None) -> Markup:
        """The recorder tag for a page answered by ``request`` (its ``root_path`` first),
        with the page's CSP nonce when ``request.state.csp_nonce`` holds one."""
        if self.sentiero.settings.public_url:
            return self.sentiero.script_tag()
        if request is None:
            return self.sentiero.script_tag(prefix=self.path)
        root = str(request.scope.get("root_path", "")).rstrip("/")
        nonce = getattr(getattr(request, "state", None), "csp_nonce", None)
        return self.sentiero.script_tag(prefix=root + self.path,
                                        nonce=str(nonce) if nonce else None)


def mount(app: Any, sentiero: Sentiero, path: str = "/sentiero", name: str = "sentiero"
          ) -> ASGIMount:
    """Mount ``sentiero`` at ``path`` of a FastAPI or Starlette app (``app.mount``); returns
    the mount, whose ``script_tag(request)`` renders the recorder tag for a page."""
    asgi = ASGIMount(sentiero, path)
    if not callable(getattr(app, "mount", None)):
        raise TypeError(
            f"{type(app).__name__} has no .mount(path, app): mount the ASGIMount yourself, "
            "e.g. Litestar: asgi('/sentiero', is_mount=True)(ASGIMount(sentiero))")
    app.mount(asgi.path or "/", asgi, name=name)
    return asgi


def _litestar_request(scope: dict[str, Any]) -> Any:
    from litestar import Request

    return Request(scope)  # type: ignore[arg-type]


def litestar_mount(sentiero: Sentiero, path: str = "/sentiero", name: str = "sentiero"
                   ) -> ASGIMount:
    """Sentiero for a Litestar app: put ``.handler`` in ``route_handlers``; ``auth``
    callables receive a ``litestar.Request``, ``script_tag(request)`` renders the tag."""
    from urllib.parse import unquote

    from litestar.handlers import asgi
    from litestar.types import Receive, Scope, Send

    recorder = ASGIMount(sentiero, path, request_factory=_litestar_request)

    async def handle(scope: Any, receive: Any, send: Any) -> None:
        # Litestar hands a mount the rest of the path (with a slash appended) and leaves
        # root_path alone; the core wants the mount in root_path to build its links
        full = unquote(bytes(scope.get("raw_path") or b"").decode("latin-1")) or scope["path"]
        at = full.find(recorder.path)
        root = full[:at] if at >= 0 else str(scope.get("root_path", ""))
        await recorder({**scope, "root_path": root + recorder.path, "path": full},
                       receive, send)

    handle.__annotations__ = {"scope": Scope, "receive": Receive, "send": Send, "return": None}
    try:  # we pass a copy already; Litestar >= 2.11 asks whether it should
        decorator = asgi(recorder.path or "/", is_mount=True, name=name, copy_scope=False)
    except TypeError:
        decorator = asgi(recorder.path or "/", is_mount=True, name=name)
    recorder.handler = decorator(handle)
    return recorder
