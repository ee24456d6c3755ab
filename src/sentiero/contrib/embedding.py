"""Calling the WSGI core from inside a host framework's view (Django, Flask).

The host routes ``<prefix>/<path>`` to its own view; the view builds the WSGI environ the core
would have seen mounted at ``<prefix>``, with the host's request object under
``HOST_REQUEST_KEY`` (so ``auth`` callables receive it), runs the core and translates the
answer into the host's response type.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import IO, Any

from sentiero.web.security import HOST_REQUEST_KEY


@dataclass
class WsgiAnswer:
    status_code: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes


def wsgi_text(text: str) -> str:
    """A decoded URL path as WSGI wants it: UTF-8 bytes carried in a latin-1 str."""
    return text.encode("utf-8").decode("latin-1")


def mounted_environ(meta: dict[str, Any], *, script_name: str, path_info: str, scheme: str,
                    body: IO[bytes], host_request: Any) -> dict[str, Any]:
    """A WSGI environ from a host's CGI-style request dict (Django's ``request.META`` under
    WSGI or ASGI, Flask's ``request.environ``) for the core mounted at ``script_name``."""
    environ = {key: value for key, value in meta.items() if isinstance(key, str)}
    environ.update({
        "SCRIPT_NAME": wsgi_text(script_name.rstrip("/")),
        "PATH_INFO": wsgi_text(path_info if path_info.startswith("/") else "/" + path_info),
        "wsgi.url_scheme": scheme,
        "wsgi.input": body,
        "wsgi.version": (1, 0),
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        HOST_REQUEST_KEY: host_request,
    })
    environ.setdefault("wsgi.errors", sys.stderr)
    environ.setdefault("SERVER_NAME", "localhost")
    environ.setdefault("SERVER_PORT", "443" if scheme == "https" else "80")
    environ.setdefault("SERVER_PROTOCOL", "HTTP/1.1")
    environ.setdefault("QUERY_STRING", "")
    return environ


def run_wsgi(app: Callable[..., Iterable[bytes]], environ: dict[str, Any]) -> WsgiAnswer:
    """Call a WSGI app and collect its whole answer (dashboard pages, JSON and hashed assets
    are small; the body iterator is always closed)."""
    started: dict[str, Any] = {}
    written: list[bytes] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None
                       ) -> Callable[[bytes], None]:
        started["status"], started["headers"] = status, headers
        return written.append

    result = app(environ, start_response)
    try:
        written.extend(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    code, _, reason = started["status"].partition(" ")
    return WsgiAnswer(int(code), reason, list(started["headers"]), b"".join(written))
