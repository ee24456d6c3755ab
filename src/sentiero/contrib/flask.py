"""Sentiero as a Flask extension.

::

    from flask import Flask
    from sentiero.contrib.flask import Sentiero

    app = Flask(__name__)
    sentiero = Sentiero(app, basic_auth=("admin", os.environ["SENTIERO_PASSWORD"]))
    # templates: <head>{{ sentiero_script_tag() }}</head>

Options are the fields of :class:`~sentiero.settings.Settings`, from keyword arguments or
``app.config["SENTIERO_<OPTION>"]`` (``SENTIERO_STORE_URL``, ``SENTIERO_BASIC_AUTH``, ...;
keyword arguments win). The mount is a blueprint at ``url_prefix`` (default the ``prefix``
option, ``/sentiero``), so the core runs inside Flask's request context: ``auth`` callables get
``flask.request`` and may use ``flask_login.current_user``. With Flask-Login set up, anonymous
visitors of the dashboard are sent to its login view first. ``flask sentiero purge|erase|compact|
export|import`` run the ``sentiero`` commands on the app's store.
"""

from __future__ import annotations

from typing import Any

import click
from flask import Blueprint, Flask, Response, current_app, request
from markupsafe import Markup

from sentiero.app import Sentiero as Core
from sentiero.contrib.embedding import mounted_environ, run_wsgi
from sentiero.settings import Settings
from sentiero.stores.base import Store

__all__ = ["Sentiero"]
_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"]
_CLI_COMMANDS = ("purge", "erase", "export", "import", "compact")


def options_from_config(config: Any) -> dict[str, Any]:
    """``SENTIERO_<OPTION>`` keys of a Flask config, as Settings options."""
    out = {}
    for name in Settings.option_names():
        key = f"SENTIERO_{name.upper()}"
        if key in config:
            out[name] = config[key]
    return out


class Sentiero:
    """The Flask extension: ``Sentiero(app, **options)`` or ``Sentiero(**options)`` then
    ``init_app(app)``. After ``init_app``, ``core`` is the :class:`sentiero.Sentiero` (its
    ``store``, ``erase()``, ``export_sessions()``...)."""

    def __init__(self, app: Flask | None = None, *, store: Store | None = None,
                 url_prefix: str | None = None, **options: Any) -> None:
        self._store = store
        self._url_prefix = url_prefix
        self._options = options
        self.core: Core | None = None
        if app is not None:
            self.init_app(app)

    # --- setup --------------------------------------------------------------------------
    def init_app(self, app: Flask) -> None:
        options = {**options_from_config(app.config), **self._options}
        self.core = Core(store=self._store, **options)
        prefix = (self._url_prefix or self.core.settings.prefix).rstrip("/")
        self.url_prefix = prefix
        blueprint = Blueprint("sentiero", __name__, url_prefix=prefix)
        view = self._view
        blueprint.add_url_rule("/", "mount", view, defaults={"path": ""}, methods=_METHODS,
                               strict_slashes=False)
        blueprint.add_url_rule("/<path:path>", "mount_path", view, methods=_METHODS)
        app.register_blueprint(blueprint)
        app.extensions["sentiero"] = self
        app.jinja_env.globals["sentiero_script_tag"] = self.script_tag
        app.cli.add_command(self._cli_group())

    @property
    def store(self) -> Store:
        return self._core().store

    def _core(self) -> Core:
        if self.core is None:
            raise RuntimeError("Sentiero is not set up: call sentiero.init_app(app) first")
        return self.core

    # --- the page tag ---------------------------------------------------------------------
    def script_tag(self) -> Markup:
        """The recorder tag for the current page (the Jinja global ``sentiero_script_tag()``):
        URLs under the mount, the page's CSP nonce when it has one (Flask-Talisman's
        ``request.csp_nonce``)."""
        core = self._core()
        if not request:
            return core.script_tag()
        nonce = getattr(request, "csp_nonce", None)
        prefix = None if core.settings.public_url else request.script_root + self.url_prefix
        return core.script_tag(prefix=prefix, nonce=str(nonce) if nonce else None)

    # --- the mount ------------------------------------------------------------------------
    def _view(self, path: str) -> Any:
        core = self._core()
        app = core.wsgi_app
        environ = mounted_environ(
            request.environ, script_name=request.script_root + self.url_prefix,
            path_info=path, scheme=request.scheme, body=request.stream,
            host_request=request._get_current_object())  # type: ignore[attr-defined]
        login_manager = getattr(current_app, "login_manager", None)
        if (login_manager is not None and core.settings.basic_auth is None
                and not core.settings.allow_open_dashboard and not app.is_public(environ)):
            from flask_login import current_user

            if not current_user.is_authenticated:
                return login_manager.unauthorized()
        answer = run_wsgi(app, environ)
        return Response(answer.body, status=f"{answer.status_code} {answer.reason}",
                        headers=answer.headers)

    # --- flask sentiero ... ---------------------------------------------------------------
    def _cli_group(self) -> click.Group:
        """``flask sentiero purge|erase|export|import``: the ``sentiero`` CLI's own commands,
        run on this app's store (``--store`` is not needed)."""
        from sentiero import cli

        @click.group("sentiero", help="Retention, erasure, export and import of this app's "
                                      "recordings.")
        @click.pass_context
        def group(ctx: click.Context) -> None:
            core = self._core()
            ctx.obj = {"store": core.store}
            ctx.default_map = {name: {"store_url": "app.config"} for name in _CLI_COMMANDS}
            if core.settings.retention_period_s is not None:
                ctx.default_map["purge"]["older_than"] = str(core.settings.retention_period_s)

        for name in _CLI_COMMANDS:
            command = cli.main.get_command(click.Context(cli.main), name)
            assert command is not None
            group.add_command(command, name)
        return group
