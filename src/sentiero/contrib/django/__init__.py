"""Sentiero as a Django app: ``INSTALLED_APPS += ["sentiero.contrib.django"]``, options in
``settings.SENTIERO``, ``path("sentiero/", include("sentiero.contrib.django.urls"))``,
recordings in the Django database (``DjangoStore``), ``{% load sentiero %}`` and the
``sentiero_*`` management commands. See docs/quickstart.md, "Django"."""


def get_sentiero():  # type: ignore[no-untyped-def]
    """The process's :class:`~sentiero.Sentiero` built from ``settings.SENTIERO`` (for
    ``erase()``, ``export_sessions()`` and friends in your own code)."""
    from sentiero.contrib.django.conf import get_sentiero as get

    return get()


__all__ = ["get_sentiero"]
