"""What handlers import: :class:`Route`, :class:`Web` (settings, store, assets, page rendering)
and the response helpers. Handler modules import this module and never ``application``;
``application`` imports the handler modules (one direction only).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from werkzeug.wrappers import Request, Response

from sentiero.privacy import audit
from sentiero.settings import Settings
from sentiero.stores.base import ID_PATTERN, Store
from sentiero.web import security
from sentiero.web.assets import Assets, AssetsNotBuiltError

logger = logging.getLogger("sentiero.web")
TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"

Handler = Callable[..., Response]


@dataclass(frozen=True)
class Route:
    rule: str
    endpoint: str
    handler: Handler
    methods: tuple[str, ...] = ("GET",)
    public: bool = False
    """Public routes (ingest, assets) skip dashboard auth and page security headers."""
    json: bool = False
    """Errors of this route are JSON (``{"error": ...}``) rather than text."""


_SCRIPT_ESCAPES = {
    ord("<"): "\\u003c",
    ord(">"): "\\u003e",
    ord("&"): "\\u0026",
    0x2028: "\\u2028",
    0x2029: "\\u2029",
}


def json_for_script(data: Any) -> Markup:
    """JSON safe inside ``<script type="application/json">``: <, >, &, U+2028 and U+2029
    are written as \\uXXXX escapes, so no value can close the element."""
    text = orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS).decode("utf-8")
    return Markup(text.translate(_SCRIPT_ESCAPES))


def ms_datetime(ms: int | None) -> str:
    """An epoch-ms event time as ``YYYY-MM-DD HH:MM:SS UTC``."""
    if ms is None:
        return "—"
    from datetime import datetime, timezone

    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def text_response(body: str, status: int) -> Response:
    return Response(body, status=status, content_type="text/plain; charset=utf-8")


def json_response(data: Any, status: int = 200) -> Response:
    response = Response(orjson.dumps(data), status=status, content_type="application/json")
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def invalid_id() -> Response:
    return json_response({"error": "invalid ID format"}, 400)


def valid_ids(*values: str) -> bool:
    return all(ID_PATTERN.match(v) for v in values)


@dataclass
class Web:
    """What handlers need: settings, store, assets and page rendering."""

    settings: Settings
    store: Store
    assets: Assets
    jinja: Environment = field(init=False)
    csrf_secret: bytes = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.csrf_secret = security.resolve_secret(self.settings.secret_key)
        self.jinja = Environment(
            loader=FileSystemLoader(str(TEMPLATES_DIR)),
            autoescape=select_autoescape(default=True, default_for_string=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.jinja.globals["json_for_script"] = json_for_script
        self.jinja.filters["ms_datetime"] = ms_datetime

    def audit(self, request: Request, action: str, session_ids: Iterable[str] = (),
              **fields: Any) -> None:
        """Report a dashboard action to the audit hook (only called by handlers, so only for
        requests that passed auth and, for changes, the CSRF check)."""
        hook = self.settings.audit
        if hook is None:
            return
        basic_user = None
        if self.settings.basic_auth is not None:
            creds = security.basic_credentials(request.headers.get("Authorization"))
            basic_user = creds[0].decode("utf-8", "replace") if creds else None
        audit.emit(hook, audit.AuditRecord(
            action=action,
            session_ids=audit.ids(session_ids),
            user=audit.request_user(request.environ, basic_user),
            ip=audit.request_ip(request.environ, self.settings.anonymize_ip,
                                self.settings.trust_forwarded_for),
            path=request.script_root + request.path,
            **fields,
        ))

    @staticmethod
    def root(request: Request) -> str:
        """The mount prefix of this request, without a trailing slash ('' at the root)."""
        return request.script_root.rstrip("/")

    def render(self, request: Request, template: str, status: int = 200, **context: Any
               ) -> Response:
        """An HTML page with the CSRF token (cookie + ``csrf_token`` in the context)."""
        token = security.csrf_token_for(request, self.settings, self.csrf_secret)
        root = self.root(request)
        try:
            css_url: str | None = self.assets.url("dashboard.css", root)
            js_url: str | None = self.assets.url("dashboard", root)
            assets_error = None
        except AssetsNotBuiltError as exc:
            # The page still renders (without styles or player) and says how to fix it.
            logger.error("%s", exc)
            css_url = js_url = None
            assets_error = str(exc)
        html = self.jinja.get_template(template).render(
            root=root,
            csrf_token=token,
            css_url=css_url,
            js_url=js_url,
            assets_error=assets_error,
            request_path=request.path,
            show_import=self.settings.shareable_replays,
            **context,
        )
        response = Response(html, status=status, content_type="text/html; charset=utf-8")
        security.set_csrf_cookie(response, request, token)
        return response
