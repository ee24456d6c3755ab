"""Run a WSGI app on gunicorn (a production-grade server), from Python.

Used by ``sentiero serve`` and ``sentiero demo``; not part of the public API.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sentiero.privacy.logs import log_safe, without_ips

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
    """Serve ``app`` until interrupted. ``workers`` > 1 forks after the app is built, so no
    store may share a connection opened before the fork (the SQL store empties its pool in a
    forked child; redis-py does the same by itself)."""
    from gunicorn.app.base import BaseApplication

    PrivateLogger = _private_logger_class()

    class _Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            self.cfg.set("bind", f"{_bracket(host)}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("threads", threads)
            self.cfg.set("worker_class", "gthread")
            self.cfg.set("timeout", 60)
            self.cfg.set("graceful_timeout", 10)
            self.cfg.set("loglevel", "warning")
            self.cfg.set("logger_class", PrivateLogger)
            if access_log:
                self.cfg.set("accesslog", "-")
                # no client address and no query string: neither may reach anyone's log storage
                self.cfg.set("access_log_format", '%(t)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms')
            if on_ready is not None:
                self.cfg.set("when_ready", lambda _server: on_ready())

        def load(self) -> WSGIApp:
            return app

    _Server().run()


def _private_logger_class() -> type:
    from gunicorn.glogging import Logger

    class PrivateLogger(Logger):  # type: ignore[misc]
        """gunicorn's logger, but no line holds a client address (gunicorn writes
        ``Invalid request from ip=...`` for malformed requests) or a raw control character
        (a ``%0a`` in a path must not forge a second access-log line), and a failed request
        is logged by its path only, never its query string."""

        def log(self, lvl: int, msg: Any, *args: Any, **kwargs: Any) -> None:
            super().log(lvl, _private_message(msg, args), **kwargs)

        def critical(self, msg: Any, *args: Any, **kwargs: Any) -> None:
            super().critical(_private_message(msg, args), **kwargs)

        def error(self, msg: Any, *args: Any, **kwargs: Any) -> None:
            super().error(_private_message(msg, args), **kwargs)

        def warning(self, msg: Any, *args: Any, **kwargs: Any) -> None:
            super().warning(_private_message(msg, args), **kwargs)

        def info(self, msg: Any, *args: Any, **kwargs: Any) -> None:
            super().info(_private_message(msg, args), **kwargs)

        def debug(self, msg: Any, *args: Any, **kwargs: Any) -> None:
            super().debug(_private_message(msg, args), **kwargs)

        def exception(self, msg: Any, *args: Any, **kwargs: Any) -> None:
            super().exception(_private_message(msg, args), **kwargs)

        def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> Any:
            atoms = super().atoms(resp, req, environ, request_time)
            # the mount prefix too: the dispatcher moved it from PATH_INFO to SCRIPT_NAME
            atoms["U"] = environ.get("SCRIPT_NAME", "") + (environ.get("PATH_INFO") or "")
            return {key: _private_atom(value) for key, value in atoms.items()}

    return PrivateLogger


def _private_message(msg: Any, args: tuple[Any, ...]) -> str:
    text = str(msg)
    if args:
        try:
            text = text % args
        except (TypeError, ValueError):
            text = " ".join([text, *map(str, args)])
    if text.startswith("Error handling request"):
        text = text.split("?", 1)[0]
    # a message may span lines (a traceback follows exception()); each line stays one line
    return "\n".join(log_safe(without_ips(line)) for line in text.split("\n"))


def _private_atom(value: Any) -> Any:
    return log_safe(without_ips(value)) if isinstance(value, str) else value


def _bracket(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host
