"""``settings.SENTIERO`` -> one :class:`~sentiero.Sentiero` per process, built on first use.

``SENTIERO`` holds every option of :class:`~sentiero.settings.Settings` (``auth`` and
``audit`` may be dotted paths), plus ``store`` (a Store object or the dotted path of a class
or factory) and ``database`` (the Django database alias of the default ``DjangoStore``).
Without ``store`` or ``store_url`` the recordings go to the Django database through the ORM.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from django.conf import settings as django_settings
from django.utils.module_loading import import_string

from sentiero.app import Sentiero
from sentiero.settings import Settings

EXTRA_KEYS = ("store", "database")
"""Keys of ``SENTIERO`` that are not ``Settings`` fields."""
DOTTED_OPTIONS = ("auth", "audit", "geo_source")


def staff_member(request: Any) -> bool:
    """The default dashboard auth: an active staff user of ``django.contrib.auth``."""
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_active and user.is_staff)


@dataclass(frozen=True)
class DjangoOptions:
    settings: Settings
    store: Any
    database: str
    default_auth: bool
    """True when no ``auth``, ``basic_auth`` or ``allow_open_dashboard`` was configured, so
    the dashboard is for staff users (login redirect for anonymous users, 403 for others)."""


def raw_options() -> dict[str, Any]:
    value = getattr(django_settings, "SENTIERO", {})
    if not isinstance(value, dict):
        raise TypeError(f"settings.SENTIERO must be a dict, got {type(value).__name__}")
    return dict(value)


def _resolve(name: str, value: Any) -> Any:
    if name in DOTTED_OPTIONS and isinstance(value, str) and "." in value:
        return import_string(value)
    return value


def read_options() -> DjangoOptions:
    """Parse and validate ``settings.SENTIERO`` (raises ConfigurationError, ImportError,
    TypeError); opens nothing, so system checks can call it."""
    raw = raw_options()
    unknown = sorted(set(raw) - set(Settings.option_names()) - set(EXTRA_KEYS))
    if unknown:
        raise KeyError(unknown)
    store = raw.pop("store", None)
    database = raw.pop("database", "default")
    if not isinstance(database, str) or database not in django_settings.DATABASES:
        raise LookupError(database)
    options = {name: _resolve(name, value) for name, value in raw.items()}
    default_auth = (options.get("auth") is None and options.get("basic_auth") is None
                    and not options.get("allow_open_dashboard"))
    if default_auth:
        options["auth"] = staff_member
    if isinstance(store, str):
        store = import_string(store)
    return DjangoOptions(Settings(**options), store, database, default_auth)


def build_store(options: DjangoOptions) -> Any:
    store = options.store
    if store is None:
        if "store_url" in raw_options():
            from sentiero.stores import open_store

            return open_store(options.settings.store_url)
        from sentiero.contrib.django.store import DjangoStore

        return DjangoStore(using=options.database)
    return store() if isinstance(store, type) or callable(store) else store


_lock = threading.Lock()
_instance: tuple[Sentiero, DjangoOptions] | None = None


def get_sentiero() -> Sentiero:
    """The process's Sentiero instance for ``settings.SENTIERO``."""
    return _get()[0]


def get_options() -> DjangoOptions:
    return _get()[1]


def _get() -> tuple[Sentiero, DjangoOptions]:
    global _instance
    with _lock:
        if _instance is None:
            options = read_options()
            _instance = (Sentiero(store=build_store(options), settings=options.settings),
                         options)
        return _instance


def reset(**_kwargs: Any) -> None:
    """Forget the instance (``setting_changed`` for SENTIERO, e.g. ``override_settings``)."""
    global _instance
    with _lock:
        if _instance is not None:
            _instance[0].store.close()
        _instance = None
