"""Django configured once for the in-process contrib tests (tests/contrib/django_settings.py),
with its databases created and migrated by fixtures: SQLite in a temporary folder, and a
PostgreSQL database of a unique name on the shared server, dropped at the end."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

django = pytest.importorskip("django", reason="Django is a test dependency: pip install -e .[dev]")

from django.conf import settings  # noqa: E402

from tests.contrib.django_setup import configure  # noqa: E402

configure()


def _migrate(alias: str) -> None:
    from django.core.management import call_command

    call_command("migrate", database=alias, verbosity=0, interactive=False)


@pytest.fixture(scope="session")
def sqlite_db() -> str:
    _migrate("default")
    return "default"


@pytest.fixture(scope="session")
def postgres_db() -> Iterator[str]:
    import psycopg
    from django.db import connections

    from tests.stores.contract import POSTGRES_URL, require_server

    require_server(POSTGRES_URL)
    name = settings.DATABASES["postgres"]["NAME"]
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        _migrate("postgres")
        yield "postgres"
    finally:
        connections["postgres"].close()
        with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def empty_tables(alias: str) -> None:
    from sentiero.contrib.django import models

    for model in (models.TrackedOccurrence, models.TrackedProblem, models.TrackedServerEvent,
                  models.TrackingIngestKey, models.StoredFunnel, models.RecordedChunk,
                  models.RecordedFact, models.ReceivedBatch, models.RecordedWindow,
                  models.RecordedSession):
        model.objects.using(alias).all().delete()
