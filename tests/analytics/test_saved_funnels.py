"""Saved funnels on every store: what is saved lists back by name, replacing by id keeps one,
deleting says whether there was one, the cap holds, and session erasure leaves them."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from sentiero.stores.base import Store, StoreError
from sentiero.stores.saved_funnels import MAX_SAVED, SavedFunnel, new_funnel_id
from tests.analytics.dataset import fill

WHEN = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def store(empty_store: Store) -> Store:
    return empty_store


def funnel(name: str, *, within_ms: int | None = None, minutes: int = 0,
           funnel_id: str | None = None) -> SavedFunnel:
    return SavedFunnel(funnel_id or new_funnel_id(), name,
                       (("url", "/cart"), ("tag", "checkout"), ("tag", "päy ✓")), within_ms,
                       WHEN + timedelta(minutes=minutes))


def test_saved_funnels_round_trip(store: Store) -> None:
    assert store.list_funnels() == []
    b = funnel("b checkout", within_ms=1_800_000)
    a = funnel("A signup", minutes=1)
    store.save_funnel(b)
    store.save_funnel(a)
    assert store.list_funnels() == [a, b]  # by name, case-insensitive
    renamed = SavedFunnel(b.funnel_id, "c checkout", b.steps[:2], None, b.created_at)
    store.save_funnel(renamed)
    assert store.list_funnels() == [a, renamed]
    assert store.delete_funnel(a.funnel_id) is True
    assert store.delete_funnel(a.funnel_id) is False
    assert store.list_funnels() == [renamed]


def test_erasing_sessions_keeps_saved_funnels(store: Store) -> None:
    ids = fill(store, ["landing-a"])
    kept = funnel("kept")
    store.save_funnel(kept)
    store.erase_sessions(list(ids.values()))
    store.purge_older_than(0)
    assert store.list_funnels() == [kept]


def test_at_most_max_saved(store: Store) -> None:
    for i in range(MAX_SAVED):
        store.save_funnel(funnel(f"f{i:03d}"))
    with pytest.raises(StoreError, match="at most"):
        store.save_funnel(funnel("one too many"))
    first = store.list_funnels()[0]
    store.save_funnel(SavedFunnel(first.funnel_id, "replaced", first.steps, None,
                                        first.created_at))  # replacing is no new funnel
    assert len(store.list_funnels()) == MAX_SAVED


def test_saved_funnels_travel_through_export_and_import(store: Store) -> None:
    """Out of this store into memory and back: the same funnels, and importing the same file
    again (or its own funnels) stores nothing new."""
    import io

    from sentiero.stores.memory import MemoryStore
    from sentiero.transfer import export_sessions, import_file

    fill(store, ["landing-a"])
    saved = [funnel("b checkout", within_ms=1_800_000), funnel("A signup", minutes=1)]
    for f in saved:
        store.save_funnel(f)
    out = io.BytesIO()
    export_sessions(store, out)
    moved = MemoryStore()
    result = import_file(moved, io.BytesIO(out.getvalue()))
    assert (result.sessions, result.saved_funnels) == (1, 2)
    assert moved.list_funnels() == store.list_funnels() == [saved[1], saved[0]]

    back = io.BytesIO()
    export_sessions(moved, back)
    again = import_file(store, io.BytesIO(back.getvalue()))
    assert (again.sessions, again.saved_funnels) == (0, 0)
    assert store.list_funnels() == [saved[1], saved[0]]
