"""``Sentiero``: settings + a store -> the WSGI/ASGI app and the recorder's script tag."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Mapping
from datetime import datetime
from functools import cached_property
from typing import IO, Any
from urllib.parse import urlsplit

from markupsafe import Markup, escape

from sentiero.settings import Settings
from sentiero.stores.base import Store
from sentiero.web.application import Application
from sentiero.web.assets import Assets
from sentiero.web.routing import json_for_script

_log = logging.getLogger("sentiero")


class Sentiero:
    """One Sentiero instance: mount ``wsgi_app`` (or ``asgi_app``) at ``settings.prefix``
    and put ``script_tag()`` in the pages to record.

    Options are the fields of :class:`~sentiero.settings.Settings`; pass them as keyword
    arguments, or a ``settings`` object (keyword options then override its fields).
    """

    def __init__(self, store: Store | None = None, settings: Settings | None = None,
                 **options: Any) -> None:
        if settings is None:
            settings = Settings(**options)
        elif options:
            settings = dataclasses.replace(settings, **options)
        self.settings = settings
        if store is None:
            from sentiero.stores import open_store

            store = open_store(settings.store_url)
        if settings.max_sessions is not None:
            store.limits.max_sessions = settings.max_sessions
        if settings.max_events_per_session is not None:
            store.limits.max_events_per_session = settings.max_events_per_session
        store.limits.max_problems = settings.max_problems
        store.limits.max_server_events = settings.max_server_events
        store.setup()
        self.store = store
        self.compactor = None
        if settings.compact_idle_s is not None:
            from sentiero.compaction import BackgroundCompactor

            self.compactor = BackgroundCompactor(store, settings.compact_idle_s)
            self.compactor.start()
        self.warmer = None
        if settings.warm_cache_interval_s is not None:
            from sentiero.analytics.warm import BackgroundWarmer
            from sentiero.stores.sql_day_warmth import has_day_cache

            if has_day_cache(store):
                self.warmer = BackgroundWarmer(store, settings.warm_cache_interval_s)
                self.warmer.start()
        self.assets = Assets(settings.assets_dir)

    # --- apps -----------------------------------------------------------------------------
    @cached_property
    def wsgi_app(self) -> Application:
        return Application(self.settings, self.store, self.assets)

    @cached_property
    def asgi_app(self) -> Any:
        from a2wsgi import WSGIMiddleware

        return WSGIMiddleware(self.wsgi_app)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        return self.wsgi_app(environ, start_response)

    # --- retention and erasure --------------------------------------------------------------
    def purge_expired(self) -> int:
        """Delete the sessions not updated for ``retention_period_s``; returns how many.

        With no retention period set, nothing is deleted, 0 is returned and a warning says
        so. Audited as ``purge``. Run it on a schedule (cron: ``sentiero purge``).
        """
        from sentiero.privacy import audit, erasure

        period = self.settings.retention_period_s
        if period is None:
            _log.warning("sentiero: purge_expired() deleted nothing: retention_period_s is not "
                         "set, so recordings are kept until they are deleted")
            return 0
        count = erasure.purge_expired(self.store, period)
        audit.emit(self.settings.audit, audit.AuditRecord(
            action="purge", detail={"retention_period_s": period, "count": count}))
        return count

    def erase(
        self,
        session_ids: Iterable[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> int:
        """Right to erasure: delete every session matching all the given criteria, with
        everything it left (chunks, facts, dedup records, window state, metadata).

        ``session_ids`` (all validated before anything is deleted), ``since``/``until``
        (inclusive bounds on the session's last activity, ``updated_at``; naive datetimes are
        UTC) and ``metadata`` (every key equal to the value). At least one is required;
        ``ValueError`` otherwise, or when ``since > until``. Returns how many sessions were
        deleted (sessions already gone do not count, so a repeat returns 0). Audited as
        ``erase``.
        """
        from sentiero.privacy import audit, erasure

        criteria = erasure.Criteria(session_ids, since, until, metadata)
        erased = erasure.erase(self.store, criteria)
        audit.emit(self.settings.audit, audit.AuditRecord(
            action="erase",
            session_ids=tuple(erased),
            detail={**criteria.describe(), "count": len(erased)},
        ))
        return len(erased)

    def export_sessions(self, out: IO[bytes], session_ids: Iterable[str] | None = None) -> int:
        """Write sessions (all, or the given ids) as JSON lines that ``import_sessions`` (or
        ``sentiero import``) reads back into any store. Audited as ``export``."""
        from sentiero import transfer
        from sentiero.privacy import audit

        ids = list(session_ids) if session_ids is not None else None
        count = transfer.export_sessions(self.store, out, session_ids=ids)
        audit.emit(self.settings.audit, audit.AuditRecord(
            action="export", session_ids=tuple(ids or ()), dataset="sessions",
            detail={"count": count}))
        return count

    def import_sessions(self, in_file: IO[bytes]) -> int:
        """Read an export made by ``export_sessions``; re-importing stores nothing twice."""
        from sentiero import transfer

        return transfer.import_sessions(self.store, in_file)

    # --- recorder tag ---------------------------------------------------------------------
    def base_url(self, prefix: str | None = None) -> str:
        """Where this instance is reached from pages: an explicit ``prefix``, else
        ``public_url`` (its path, or ``settings.prefix`` when it has none), else
        ``settings.prefix``. No trailing slash."""
        if prefix is not None:
            return prefix.rstrip("/")
        public = self.settings.public_url
        if public:
            if urlsplit(public).path in ("", "/"):
                return public.rstrip("/") + self.settings.prefix
            return public.rstrip("/")
        return self.settings.prefix

    def recorder_config(self, prefix: str | None = None) -> dict[str, Any]:
        """The JSON the recorder boots from (docs/CONTRACTS.md, "Recorder config")."""
        s = self.settings
        config: dict[str, Any] = {
            "eventsUrl": f"{self.base_url(prefix)}/events",
            "flushIntervalMs": s.flush_interval_ms,
            "flushEventThreshold": s.flush_event_threshold,
            "recorderOptions": s.effective_recorder_options(),
            "crossTabSessions": s.cross_tab_sessions,
            "sessionIdleTimeoutMs": int(s.session_idle_timeout_s * 1000),
            "sessionMaxAgeMs": int(s.session_max_age_s * 1000),
            "respectGpc": bool(s.respect_gpc),
        }
        for key, on in (
            ("captureErrors", s.capture_errors),
            ("captureMetadata", s.capture_metadata),
            ("trackNavigation", s.track_navigation),
            ("trackCustomEvents", s.track_custom_events),
            ("captureClicks", s.capture_clicks),
            ("trackForms", s.track_forms),
            ("captureWebVitals", s.capture_web_vitals),
        ):
            if on:
                config[key] = True
        if s.user_opt_out:
            config["optOutCookieName"] = s.opt_out_cookie_name
        redaction = getattr(s, "redaction", None)
        if redaction is not None and callable(getattr(redaction, "to_client", None)):
            config["redaction"] = redaction.to_client()
        return config

    def script_tag(self, prefix: str | None = None, nonce: str | None = None) -> Markup:
        """The recorder config element and the content-hashed recorder script, as safe HTML.

        ``nonce``: the page's Content-Security-Policy nonce, put on both elements.
        Raises ``AssetsNotBuiltError`` (with the fix) when the frontend is not built.
        """
        src = self.assets.url("recorder", self.base_url(prefix))
        config = json_for_script(self.recorder_config(prefix))
        attr = f' nonce="{escape(nonce)}"' if nonce else ""
        return Markup(
            f'<script type="application/json" id="sentiero-config"{attr}>{config}</script>\n'
            f'<script src="{escape(src)}"{attr} defer></script>'
        )
