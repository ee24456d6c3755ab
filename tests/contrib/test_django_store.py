"""DjangoStore passes the whole store contract on SQLite and on PostgreSQL, through the ORM
and the app's real migrations, including several processes of several threads writing the
same sessions at once."""

from __future__ import annotations

import functools

import pytest

from sentiero.contrib.django import models
from sentiero.contrib.django.store import DjangoStore
from sentiero.stores.base import SchemaNotReadyError, WindowRef
from tests.contrib.conftest import empty_tables
from tests.contrib.django_setup import django_store
from tests.stores.contract import StoreConcurrencyContract, StoreContract, batch

MODELS = (models.RecordedSession, models.RecordedWindow, models.RecordedChunk,
          models.ReceivedBatch, models.RecordedFact, models.TrackedProblem,
          models.TrackedOccurrence, models.TrackedServerEvent, models.TrackingIngestKey)


def leftovers(alias: str) -> list[str]:
    out = []
    for model in MODELS:
        count = model.objects.using(alias).count()
        if count:
            out.append(f"{model._meta.db_table}: {count} rows")
    return out


class DjangoContract(StoreContract, StoreConcurrencyContract):
    alias = "default"

    def store_factory(self):  # type: ignore[no-untyped-def]
        empty_tables(self.alias)
        return functools.partial(django_store, self.alias)

    def cleanup_store(self, store: DjangoStore) -> None:  # type: ignore[override]
        empty_tables(self.alias)

    def make_store(self) -> DjangoStore:
        empty_tables(self.alias)
        store = DjangoStore(using=self.alias)
        store.setup()
        return store

    def backend_leftovers(self, store: DjangoStore) -> list[str]:  # type: ignore[override]
        return leftovers(self.alias)


class TestDjangoStoreSQLite(DjangoContract):
    alias = "default"

    @pytest.fixture(autouse=True)
    def _database(self, sqlite_db: str) -> None:
        pass


@pytest.mark.backend
class TestDjangoStorePostgres(DjangoContract):
    alias = "postgres"

    @pytest.fixture(autouse=True)
    def _database(self, postgres_db: str) -> None:
        pass

    def test_it_really_is_postgres(self, store: DjangoStore) -> None:
        from django.db import connections

        assert connections[store.using].vendor == "postgresql"
        store.save_batch(batch(seq=0))
        assert models.RecordedChunk.objects.using("postgres").count() == 1


def test_unmigrated_database_says_to_migrate() -> None:
    store = DjangoStore(using="bare")
    with pytest.raises(SchemaNotReadyError, match="manage.py migrate sentiero"):
        store.save_batch(batch(seq=0))
    with pytest.raises(SchemaNotReadyError):
        store.chunk_index(WindowRef("s1", "w1"))
