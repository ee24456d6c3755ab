"""Run a WSGI app on gunicorn (a production-grade server), from Python.

Used by ``sentiero serve`` and ``sentiero demo``; not part of the public API.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

WSGIApp = Callable[..., Any]


def run_gunicorn(
    app: WSGIApp,
    host: str,
    port: int,
    workers: int = 1,
    threads: int = 4,
    on_ready: Callable[[], None] | None = None,
    access_log: bool = False,
) -> None:
    """Serve ``app`` until interrupted. ``workers`` > 1 forks after the app is built, so every
    store must open its connections lazily (ours do)."""
    from gunicorn.app.base import BaseApplication

    class _Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            self.cfg.set("bind", f"{_bracket(host)}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("threads", threads)
            self.cfg.set("worker_class", "gthread")
            self.cfg.set("timeout", 60)
            self.cfg.set("graceful_timeout", 10)
            self.cfg.set("loglevel", "warning")
            if access_log:
                self.cfg.set("accesslog", "-")
                # no client address and no query string: neither may reach anyone's log storage
                self.cfg.set("access_log_format", '%(t)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms')
            if on_ready is not None:
                self.cfg.set("when_ready", lambda _server: on_ready())

        def load(self) -> WSGIApp:
            return app

    _Server().run()


def _bracket(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host
