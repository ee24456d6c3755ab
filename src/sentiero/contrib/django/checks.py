"""System checks for ``settings.SENTIERO``: every problem says what to change
(``manage.py check`` runs them, and so do ``runserver`` and ``migrate``)."""

from __future__ import annotations

import difflib
from typing import Any

from django.conf import settings as django_settings
from django.core import checks

from sentiero.errors import ConfigurationError
from sentiero.settings import Settings

ID = "sentiero"


def register() -> None:
    checks.register(check_settings, "sentiero")


def _error(number: int, msg: str, hint: str) -> checks.Error:
    return checks.Error(msg, hint=hint, id=f"{ID}.E{number:03d}")


def check_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    from sentiero.contrib.django import conf

    try:
        raw = conf.raw_options()
    except TypeError as exc:
        return [_error(1, str(exc), 'Write SENTIERO = {"retention_period_s": 2592000, ...}.')]
    known = Settings.option_names() + list(conf.EXTRA_KEYS)
    problems: list[checks.CheckMessage] = []
    for key in sorted(set(raw) - set(known)):
        close = difflib.get_close_matches(key, known, n=1)
        hint = (f"Did you mean {close[0]!r}? " if close else "") + (
            "The keys are the options of docs/configuration.md, plus 'store' and 'database'.")
        problems.append(_error(2, f"SENTIERO has an unknown option {key!r}.", hint))
    if problems:
        return problems
    try:
        options = conf.read_options()
    except (ConfigurationError, TypeError, ValueError) as exc:
        return [_error(3, f"SENTIERO is invalid: {exc}.",
                       "Fix that value in settings.SENTIERO (docs/configuration.md).")]
    except LookupError:
        return [_error(4, f"SENTIERO['database'] = {raw.get('database')!r} is not a key of "
                          "settings.DATABASES.",
                       f"Use one of {sorted(django_settings.DATABASES)}.")]
    except ImportError as exc:
        return [_error(5, f"SENTIERO names something that cannot be imported: {exc}.",
                       "Give a dotted path like 'myproject.sentiero.staff_only', or the object.")]
    if options.default_auth:
        problems.extend(_default_auth_problems())
    problems.extend(_mount_problems())
    return problems


def _mount_problems() -> list[checks.CheckMessage]:
    from sentiero.contrib.django.templatetags.sentiero import mount_url

    if getattr(django_settings, "ROOT_URLCONF", None) and mount_url() is None:
        return [checks.Warning(
            "sentiero.contrib.django.urls is not in the URLconf: the recorder has nowhere to "
            "send events and the dashboard is unreachable.",
            hint='Add path("sentiero/", include("sentiero.contrib.django.urls")) to urlpatterns.',
            id=f"{ID}.W001")]
    return []


def _default_auth_problems() -> list[checks.CheckMessage]:
    """The default dashboard auth (staff users) needs django.contrib.auth and its middleware."""
    from django.apps import apps

    hint_other = ("Or set SENTIERO['auth'] to a callable taking the request, or "
                  "SENTIERO['basic_auth'] = (user, password).")
    out = []
    if not apps.is_installed("django.contrib.auth"):
        out.append(_error(10, "The Sentiero dashboard is for staff users by default, but "
                              "django.contrib.auth is not installed.",
                          "Add 'django.contrib.auth' to INSTALLED_APPS. " + hint_other))
    middleware = list(getattr(django_settings, "MIDDLEWARE", []) or [])
    if "django.contrib.auth.middleware.AuthenticationMiddleware" not in middleware:
        out.append(_error(11, "The Sentiero dashboard is for staff users by default, but "
                              "AuthenticationMiddleware is not in MIDDLEWARE, so request.user "
                              "is missing.",
                          "Add 'django.contrib.auth.middleware.AuthenticationMiddleware' "
                          "(after SessionMiddleware). " + hint_other))
    return out
