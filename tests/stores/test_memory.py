from __future__ import annotations

from contract import StoreContract

from sentiero.stores import open_store
from sentiero.stores.memory import MemoryStore


class TestMemoryStore(StoreContract):
    def make_store(self) -> MemoryStore:
        return MemoryStore()

    def backend_leftovers(self, store: MemoryStore) -> list[str]:  # type: ignore[override]
        return (
            [f"session {sid}" for sid in store._sessions]
            + [f"dedup records of {sid}" for sid in store._seen]
            + [f"fact {f.kind} of {f.session_id}" for f in store._facts]
        )


def test_open_store_memory_url() -> None:
    assert isinstance(open_store("memory://"), MemoryStore)
