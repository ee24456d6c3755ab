"""Configure Django with tests/contrib/django_settings.py, once per process (the test process
and the worker processes of the concurrency contract)."""

from __future__ import annotations


def configure() -> None:
    import django
    from django.conf import settings

    if settings.configured:
        return
    from tests.contrib import django_settings

    settings.configure(**{k: getattr(django_settings, k) for k in dir(django_settings)
                          if k.isupper()})
    django.setup()


def django_store(alias: str):  # type: ignore[no-untyped-def]
    """A DjangoStore on ``alias``; picklable by name, for spawned worker processes."""
    configure()
    from sentiero.contrib.django.store import DjangoStore

    return DjangoStore(using=alias)
