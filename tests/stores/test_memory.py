from __future__ import annotations

from contract import StoreContract

from sentiero.stores import open_store
from sentiero.stores.memory import MemoryStore


class TestMemoryStore(StoreContract):
    def make_store(self) -> MemoryStore:
        return MemoryStore()


def test_open_store_memory_url() -> None:
    assert isinstance(open_store("memory://"), MemoryStore)
