"""FileStore: the contract, concurrency across processes, and what only files have."""

from __future__ import annotations

import functools
import os
import random
from collections.abc import Callable
from pathlib import Path

import pytest
from contract import T0, StoreConcurrencyContract, StoreContract, batch

from sentiero.stores import open_store
from sentiero.stores.base import Batch, Fact, SessionQuery, StoreLimits, WindowRef
from sentiero.stores.files import FileStore


class TestFileStore(StoreContract):
    @pytest.fixture(autouse=True)
    def _root(self, tmp_path: Path) -> None:
        self._tmp = tmp_path
        self._n = 0

    def make_store(self) -> FileStore:
        self._n += 1
        return FileStore(self._tmp / f"store{self._n}")

    def backend_leftovers(self, store: FileStore) -> list[str]:  # type: ignore[override]
        # every file and directory under the root; the trash folder may stay, empty
        return sorted(
            str(p.relative_to(store.root))
            for p in store.root.rglob("*")
            if p != store.root / ".trash"
        )


class TestFileStoreConcurrency(StoreConcurrencyContract):
    @pytest.fixture(autouse=True)
    def _root(self, tmp_path: Path) -> None:
        self._path = tmp_path / "store"

    def make_store(self) -> FileStore:
        return FileStore(self._path)

    def store_factory(self) -> Callable[[], FileStore]:
        return functools.partial(FileStore, str(self._path))


def test_open_store_file_url(tmp_path: Path) -> None:
    store = open_store(f"file://{tmp_path}/data")
    assert isinstance(store, FileStore)
    assert store.root == tmp_path / "data"
    store.save_batch(batch(seq=0))
    assert (tmp_path / "data" / "s1" / "meta.json").is_file()
    assert (tmp_path / "data" / "s1" / "w-w1.rec").is_file()


@pytest.mark.parametrize("bad", ["..", ".", "../escape", "a/b", "/etc", "x\x00", ".trash", ""])
def test_path_traversal_ids_rejected(tmp_path: Path, bad: str) -> None:
    store = FileStore(tmp_path / "root")
    with pytest.raises(ValueError):
        store.save_batch(batch(session_id=bad, seq=0))
    with pytest.raises(ValueError):
        store.save_batch(batch(window_id=bad, seq=0))
    with pytest.raises(ValueError):
        store.get_session(bad)
    with pytest.raises(ValueError):
        store.delete_session(bad)
    with pytest.raises(ValueError):
        store.chunk_index(WindowRef("s1", bad))
    with pytest.raises(ValueError):
        store.delete_window(WindowRef(bad, "w1"))
    with pytest.raises(ValueError):
        list(store.iter_facts(session_id=bad))
    assert sorted(os.listdir(tmp_path)) == ["root"]
    assert os.listdir(tmp_path / "root") == []


def test_symlinked_session_dir_outside_root_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "root"
    store = FileStore(root)
    (root / "evil").symlink_to(outside)
    with pytest.raises(ValueError):
        store.save_batch(batch(session_id="evil", seq=0))
    assert os.listdir(outside) == []
    # a symlink pointing at another store's session is not read either
    other = FileStore(tmp_path / "other")
    other.save_batch(batch(session_id="victim", seq=0, facts=[Fact("click", "victim", "w1", 1)]))
    (root / "alias").symlink_to(tmp_path / "other" / "victim")
    assert store.list_sessions(SessionQuery()) == []
    assert list(store.iter_facts()) == []
    with pytest.raises(ValueError):
        store.get_session("alias")


def test_delete_session_removes_the_directory(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    store.save_batch(batch(seq=0, facts=[Fact("click", "s1", "w1", 5)], metadata={"k": "v"}))
    store.save_batch(batch("s2", seq=0))
    assert store.delete_session("s1") is True
    assert sorted(os.listdir(tmp_path)) in (["s2"], [".trash", "s2"])
    if (tmp_path / ".trash").exists():
        assert os.listdir(tmp_path / ".trash") == []


def test_a_second_instance_sees_the_writes(tmp_path: Path) -> None:
    a, b = FileStore(tmp_path), FileStore(tmp_path)
    a.save_batch(batch(seq=0))
    assert b.get_session("s1").event_count == 10
    a.save_batch(batch(seq=1, start_ms=5000))
    assert [c.index for c in b.chunk_index(WindowRef("s1", "w1"))] == [0, 1]
    assert b.save_batch(batch(seq=1)) is False  # dedup state lives in the files
    b.save_batch(batch(seq=2, start_ms=9000))
    assert len(a.get_events(WindowRef("s1", "w1"))) == 30


def _noisy(seq: int, count: int = 20) -> Batch:
    rng = random.Random(seq)
    events = [
        {"type": 3, "timestamp": seq * 100_000 + i, "data": {"noise": rng.randbytes(1000).hex()}}
        for i in range(count)
    ]
    return Batch("s1", "w1", events, seq=seq, received_at=T0)


def test_dropped_chunks_are_compacted_and_stay_deduplicated(tmp_path: Path) -> None:
    store = FileStore(tmp_path, limits=StoreLimits(max_events_per_session=25))
    for seq in range(40):  # ~20 kB of incompressible events per chunk
        store.save_batch(_noisy(seq))
    path = tmp_path / "s1" / "w-w1.rec"
    assert [c.index for c in store.chunk_index(WindowRef("s1", "w1"))] == [39]
    live = store.get_chunks(WindowRef("s1", "w1"))[0]
    assert len(live.data) > 15_000
    assert path.stat().st_size < 15 * len(live.data)  # dropped data was compacted away
    for seq in range(40):
        assert store.save_batch(_noisy(seq)) is False
    assert store.save_batch(_noisy(40, count=1)) is True
    assert [c.index for c in store.chunk_index(WindowRef("s1", "w1"))] == [39, 40]
    assert store.get_session("s1").event_count == 21
    assert FileStore(tmp_path).get_events(WindowRef("s1", "w1"))[0]["timestamp"] == 3_900_000


def test_session_listing_ignores_foreign_entries(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    store.save_batch(batch(seq=0))
    (tmp_path / "README.txt").write_text("not a session")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / "empty-dir").mkdir()
    assert [s.session_id for s in store.list_sessions(SessionQuery())] == ["s1"]
    assert list(store.iter_session_ids()) == ["s1"]
