"""Every option of Sentiero in one place: its default, its meaning and its validation.

``docs/configuration.md`` documents each field; keep the two in step.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

from sentiero.errors import ConfigurationError
from sentiero.ingest.rules import FrustrationRules
from sentiero.privacy.redaction import RedactionConfig

__all__ = ["ConfigurationError", "Settings"]

DEFAULT_SESSION_IDLE_TIMEOUT_S = 21_600  # 6 h
DEFAULT_SESSION_MAX_AGE_S = 604_800  # 7 d
_ORIGIN = re.compile(r"^https?://[^/\s?#]+$")
_PUBLIC_URL = re.compile(r"^https?://[^/\s?#]+(/[^\s?#]*)?$")
_PREFIX = re.compile(r"^(/[A-Za-z0-9._~-]+)*$")
GEO_SOURCES = (None, "cloudflare")
DEFAULT_MAX_DECOMPRESSED_BYTES = 4 * 1024 * 1024
# options that hold Python objects: never read from SENTIERO_* variables
_CALLABLE_OPTIONS = ("auth", "audit")


@dataclass
class Settings:
    # --- where things live
    store_url: str = "sqlite:///sentiero.db"
    """Used when no ``store=`` object is passed: sqlite:///path, postgresql://..., mysql://...,
    redis://..., file:///path, memory://"""
    prefix: str = "/sentiero"
    """The path the app is mounted at, used by ``script_tag()`` outside a request."""
    public_url: str | None = None
    """Absolute base URL of a standalone server (https://rec.example/sentiero), for script tags
    served to other sites. When unset, script tags use the relative ``prefix``."""
    assets_dir: str | None = None
    """Directory of the built frontend (manifest.json + hashed files); defaults to the one
    shipped in the package, ``sentiero/web/static/dist``."""

    # --- dashboard access
    auth: Callable[[Any], bool] | None = None
    """Called with the host framework's request; truthy grants the dashboard."""
    basic_auth: tuple[str, str] | None = field(default=None, repr=False)
    """(user, password) for HTTP Basic; takes precedence over ``auth``."""
    allow_open_dashboard: bool = False
    """Serve the dashboard with no auth at all. Without auth and without this, it answers 403."""
    shareable_replays: bool = False
    """Offer a self-contained HTML file per session (plays offline, from ``file://``) and the
    import page that replays a JSON file in the browser. Off: both answer 404."""
    secret_key: str | None = field(default=None, repr=False)
    """Signs the dashboard's CSRF tokens (at least 16 characters). Unset: a random key per
    process, shared by its forked workers; set the same value on every server behind one
    load balancer, or a form served by one is refused by another."""

    # --- ingest
    cors_origins: list[str] = field(default_factory=list)
    """Exact origins (scheme://host[:port]) allowed to POST events cross-origin."""
    max_body_bytes: int = 524_288
    """Largest request body accepted as sent (compressed or not); larger ones get 413."""
    max_decompressed_bytes: int = DEFAULT_MAX_DECOMPRESSED_BYTES
    """Largest a gzip body may inflate to (4 MiB). Separate from ``max_body_bytes`` because a
    page's full snapshot compresses well and the recorder sends it in a batch of its own;
    decompression stops at this bound, so a gzip bomb never takes more memory."""
    max_events_per_request: int | None = None
    max_sessions: int | None = None
    max_events_per_session: int | None = None
    max_problems: int | None = 5_000
    """Error tracking: least recently seen problems (with their occurrences) go beyond it."""
    max_server_events: int | None = 50_000
    """Error tracking: the oldest server custom events go beyond it."""
    max_events_per_page: int = 1_000
    respect_gpc: bool = True
    user_opt_out: bool = False
    opt_out_cookie_name: str = "sentiero_optout"
    capture_errors: bool = False
    geo_source: str | Callable[..., Any] | None = None
    """Where session geography comes from, without storing any IP: None (nothing),
    ``"cloudflare"`` (the ``CF-IPCountry``, ``CF-IPCity``, ``CF-Region`` and ``CF-Timezone``
    headers; country ``XX`` and ``T1`` dropped) or a callable ``(environ)`` or
    ``(environ, client_metadata)`` returning ``{"country", "city", "region", "timezone"}``.
    The result becomes metadata keys ``geo_country``, ``geo_city``, ``geo_region``,
    ``geo_timezone``; when a source is set, client-sent ``geo_*`` keys are always replaced."""

    # --- analytics
    rage_click_min_clicks: int = 3
    """Clicks that make a rage click: each within ``rage_click_window_ms`` of the first and
    of the previous one, within ``rage_click_radius_px`` of the first (inventory §4.2)."""
    rage_click_window_ms: int = 500
    rage_click_radius_px: int = 10
    dead_click_timeout_ms: int = 500
    """A click with no page change, DOM mutation, input or app custom event within this many
    ms is a dead click."""

    # --- privacy
    redaction: RedactionConfig = field(default_factory=RedactionConfig)
    """What the server redacts on ingest (and the recorder before sending): URL mode, text
    patterns, custom patterns and the fail-closed ``server_hook``. A dict of
    :class:`~sentiero.privacy.redaction.RedactionConfig` arguments is accepted too."""
    retention_period_s: float | None = None
    """Sessions not updated for this many seconds are deleted by ``Sentiero.purge_expired()``
    and ``sentiero purge``. None keeps recordings until they are deleted."""
    compact_idle_s: float | None = None
    """Compact windows in the background once their session has had no write for this many
    seconds (a thread per process, a pass every 5 minutes; docs/storage.md). None (the
    default): run ``sentiero compact`` from cron instead, which keeps level-19 compression
    off the request workers."""
    warm_cache_interval_s: float | None = 600.0
    """SQL stores: every this many seconds (the first time a minute after start), a
    background thread runs the analytics pages' default views, the busiest pages' report,
    heatmap and forms and the saved funnels so that their closed days are in the day cache
    before anyone opens them (docs/analytics.md, "Warming the day cache").
    A pass that finds nothing new to cache costs three small queries, and one process warms at
    a time. None: no thread; run ``sentiero warm-cache`` from cron instead (or not at all:
    the first request of a page then computes its missing days)."""
    anonymize_ip: bool = True
    """Client IPs handed to the audit hook are cut to their network (IPv4 /24, IPv6 /48).
    Sentiero stores no IP at all, whatever this says."""
    trust_forwarded_for: bool = False
    """Take the client IP from the first ``X-Forwarded-For`` hop. Only behind a proxy that sets
    the header itself; otherwise any client can claim any address."""
    audit: Callable[[Any], Any] | None = None
    """Called with an :class:`~sentiero.privacy.audit.AuditRecord` for opt-outs, erasures,
    purges and dashboard access (list, view, delete). Exceptions are caught and logged."""

    # --- recorder
    capture_metadata: bool = False
    """Send page URL, referrer, user agent, viewport and entry page as session metadata."""
    track_navigation: bool = False
    """Record link clicks as ``navigation`` custom events."""
    track_custom_events: bool = False
    """Honour ``data-sentiero-track-*`` attributes (``addCustomEvent`` always works)."""
    capture_clicks: bool = False
    """Record the CSS selector of every click (``__click`` custom events)."""
    track_forms: bool = False
    """Record form submits, never their values (``__form_submit`` custom events)."""
    capture_web_vitals: bool = False
    """Record LCP, CLS and INP (``__perf`` custom events)."""
    flush_interval_ms: int = 10_000
    flush_event_threshold: int = 50
    cross_tab_sessions: bool = True
    session_idle_timeout_s: float = DEFAULT_SESSION_IDLE_TIMEOUT_S
    session_max_age_s: float = DEFAULT_SESSION_MAX_AGE_S
    mask_all_inputs: bool = True
    mask_all_text: bool = False
    """The strictest level: every text node of the page is masked (``*`` for each non-space
    character) in the recorder and again on the server, except inside ``data-sentiero-unmask``
    regions; so are titles, alt texts, placeholders and aria labels (on the server), and link
    texts of ``navigation`` events are dropped."""
    mask_preserve_length: bool = False
    """Masked non-password values keep one ``*`` per character instead of the fixed
    eight-``*`` mask: replays show how long each answer was, which is what it leaks (a name's
    or an email's length narrows who typed it). Passwords get the fixed mask always."""
    mask_input_options: dict[str, bool] = field(default_factory=dict)
    block_selector: str | None = "[data-rr-block]"
    mask_text_selector: str | None = "[data-rr-mask]"
    ignore_selector: str | None = "[data-rr-ignore]"
    sampling: dict[str, Any] = field(default_factory=lambda: {"scroll": 150, "input": "last"})
    inline_stylesheet: bool | None = None
    checkout_every_n_ms: int | None = None
    recorder_options: dict[str, Any] = field(default_factory=dict)
    """Raw rrweb record() options (camelCase), passed verbatim; first-class options win and
    password masking is always forced on."""

    def __post_init__(self) -> None:
        self.validate()

    # ------------------------------------------------------------------
    def validate(self) -> None:
        if not _PREFIX.match(self.prefix):
            raise ConfigurationError(
                f"prefix {self.prefix!r} must look like '/sentiero' (no trailing slash)"
            )
        if self.basic_auth is not None:
            if (
                not isinstance(self.basic_auth, (tuple, list))
                or len(self.basic_auth) != 2
                or not all(isinstance(p, str) and p for p in self.basic_auth)
            ):
                raise ConfigurationError(
                    "basic_auth must be a (user, password) pair of non-empty strings"
                )
            self.basic_auth = (self.basic_auth[0], self.basic_auth[1])
        if self.secret_key is not None and (
            not isinstance(self.secret_key, str) or len(self.secret_key) < 16
        ):
            raise ConfigurationError(
                "secret_key must be a string of at least 16 characters (e.g. the output of "
                "python -c 'import secrets; print(secrets.token_hex(32))'), or None"
            )
        if self.public_url is not None:
            if not isinstance(self.public_url, str) or not _PUBLIC_URL.match(
                self.public_url.rstrip("/")
            ):
                raise ConfigurationError(
                    f"public_url {self.public_url!r} must be an absolute http(s) URL like "
                    "'https://rec.example/sentiero' (no query or fragment)"
                )
            self.public_url = self.public_url.rstrip("/")
        if self.assets_dir is not None:
            if not isinstance(self.assets_dir, (str, os.PathLike)):
                raise ConfigurationError("assets_dir must be a directory path")
            self.assets_dir = os.fspath(self.assets_dir)
        for name in ("capture_metadata", "track_navigation", "track_custom_events",
                     "capture_clicks", "track_forms", "capture_web_vitals", "capture_errors",
                     "allow_open_dashboard", "shareable_replays", "respect_gpc", "user_opt_out",
                     "cross_tab_sessions", "anonymize_ip", "trust_forwarded_for",
                     "mask_preserve_length", "mask_all_text"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigurationError(f"{name} must be True or False")
        if self.auth is not None and not callable(self.auth):
            raise ConfigurationError("auth must be a callable taking the request")
        if self.audit is not None and not callable(self.audit):
            raise ConfigurationError("audit must be a callable taking an AuditRecord, or None")
        if not (self.geo_source in GEO_SOURCES or callable(self.geo_source)):
            raise ConfigurationError(
                f"geo_source must be None, 'cloudflare' or a callable (environ[, metadata]), "
                f"got {self.geo_source!r}"
            )
        if isinstance(self.redaction, dict):
            self.redaction = RedactionConfig(**self.redaction)
        elif not isinstance(self.redaction, RedactionConfig):
            raise ConfigurationError(
                "redaction must be a sentiero.privacy.redaction.RedactionConfig (or a dict of "
                f"its arguments), got {type(self.redaction).__name__}"
            )
        for name in ("retention_period_s", "compact_idle_s", "warm_cache_interval_s"):
            self._check_seconds(name)
        for origin in self.cors_origins:
            if not isinstance(origin, str) or not _ORIGIN.match(origin):
                raise ConfigurationError(
                    f"cors_origins entry {origin!r} must be an exact origin like "
                    "'https://shop.example' (no path, no wildcard)"
                )
        for name in ("flush_interval_ms", "flush_event_threshold", "max_body_bytes",
                     "max_decompressed_bytes", "max_events_per_page", "rage_click_min_clicks",
                     "rage_click_window_ms", "rage_click_radius_px", "dead_click_timeout_ms"):
            _positive_int(name, getattr(self, name))
        for name in ("max_events_per_request", "max_sessions", "max_events_per_session",
                     "max_problems", "max_server_events", "checkout_every_n_ms"):
            value = getattr(self, name)
            if value is not None:
                _positive_int(name, value)
        # Invalid session timings fall back to the defaults, as the recorder does.
        self.session_idle_timeout_s = _positive_seconds(
            self.session_idle_timeout_s, DEFAULT_SESSION_IDLE_TIMEOUT_S
        )
        self.session_max_age_s = _positive_seconds(
            self.session_max_age_s, DEFAULT_SESSION_MAX_AGE_S
        )
        if not isinstance(self.opt_out_cookie_name, str) or not re.match(
            r"^[A-Za-z0-9_-]{1,64}$", self.opt_out_cookie_name
        ):
            raise ConfigurationError("opt_out_cookie_name must be 1-64 letters, digits, _ or -")
        for name in ("block_selector", "mask_text_selector", "ignore_selector"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise ConfigurationError(f"{name} must be a CSS selector string or None")
        if not isinstance(self.sampling, dict) or not isinstance(self.recorder_options, dict):
            raise ConfigurationError("sampling and recorder_options must be dicts")
        if not isinstance(self.mask_input_options, dict):
            raise ConfigurationError("mask_input_options must be a dict of input type -> bool")

    # ------------------------------------------------------------------
    def frustration_rules(self) -> FrustrationRules:
        return FrustrationRules(self.rage_click_min_clicks, self.rage_click_window_ms,
                                self.rage_click_radius_px, self.dead_click_timeout_ms)

    # ------------------------------------------------------------------
    def effective_recorder_options(self) -> dict[str, Any]:
        """The rrweb record() options the recorder starts with (password masking forced)."""
        options: dict[str, Any] = dict(self.recorder_options)
        options["maskAllInputs"] = self.mask_all_inputs
        options["maskInputOptions"] = {**self.mask_input_options, "password": True}
        if self.mask_preserve_length:
            options["preserveInputLength"] = True
        if self.mask_all_text:
            options["maskAllText"] = True
        for key, value in (
            ("blockSelector", self.block_selector),
            ("maskTextSelector", self.mask_text_selector),
            ("ignoreSelector", self.ignore_selector),
        ):
            if value is not None:
                options[key] = value
        options["sampling"] = {"scroll": 150, "input": "last", **self.sampling}
        if self.inline_stylesheet is not None:
            options["inlineStylesheet"] = self.inline_stylesheet
        if self.checkout_every_n_ms is not None:
            options["checkoutEveryNms"] = self.checkout_every_n_ms
        return options

    def _check_seconds(self, name: str) -> None:
        value = getattr(self, name)
        if value is not None and (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or math.isnan(value)
            or math.isinf(value)
            or value <= 0
        ):
            raise ConfigurationError(
                f"{name} must be a positive number of seconds or None, got {value!r}"
            )

    @classmethod
    def option_names(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
        """Read ``SENTIERO_*`` variables (e.g. SENTIERO_STORE_URL, SENTIERO_CORS_ORIGINS as a
        comma list, SENTIERO_BASIC_AUTH=user:password, SENTIERO_REDACTION as a JSON object of
        RedactionConfig arguments, SENTIERO_GEO_SOURCE=cloudflare); explicit overrides win.
        Options that take a Python callable (``auth``, ``audit``) are never read from the
        environment."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(f"SENTIERO_{f.name.upper()}")
            if raw is None or f.name in _CALLABLE_OPTIONS:
                continue
            values[f.name] = _parse_env_value(f.name, raw, f.default)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


def _parse_env_value(name: str, raw: str, default: Any) -> Any:
    if name == "basic_auth":
        user, sep, password = raw.partition(":")
        if not sep:
            raise ConfigurationError("SENTIERO_BASIC_AUTH must be user:password")
        return (user, password)
    if name == "cors_origins":
        return [o.strip() for o in raw.split(",") if o.strip()]
    if name == "geo_source":
        return raw.strip().lower() or None
    if name == "redaction":
        import json

        try:
            value = json.loads(raw)
        except ValueError as exc:
            raise ConfigurationError(
                "SENTIERO_REDACTION must be a JSON object of RedactionConfig arguments"
            ) from exc
        if not isinstance(value, dict):
            raise ConfigurationError(
                "SENTIERO_REDACTION must be a JSON object of RedactionConfig arguments"
            )
        return value
    if name.endswith("_s"):
        if not raw.strip() or raw.strip().lower() == "none":
            return None
        try:
            return float(raw)
        except ValueError as exc:
            raise ConfigurationError(f"SENTIERO_{name.upper()} must be a number") from exc
    if isinstance(default, bool):
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if isinstance(default, int) or name.startswith("max_") or name.endswith("_ms"):
        try:
            return int(raw)
        except ValueError as exc:
            raise ConfigurationError(f"SENTIERO_{name.upper()} must be an integer") from exc
    if isinstance(default, float):
        return float(raw)
    return raw


def _positive_int(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(f"{name} must be a positive integer, got {value!r}")


def _positive_seconds(value: object, default: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return default
    if math.isnan(value) or math.isinf(value) or value <= 0:
        return default
    return value
