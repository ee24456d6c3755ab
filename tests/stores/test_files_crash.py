"""FileStore after crashes: torn records, garbage tails, half-applied batches, killed writers.

A reader must see every complete batch and nothing of a torn one; the next writer repairs
the files and goes on appending.
"""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

import pytest
from contract import T0, batch

from sentiero.stores import files as files_module
from sentiero.stores.base import Fact, SessionQuery, StoreError, WindowRef
from sentiero.stores.files import _HEADER, FileStore

REF = WindowRef("s1", "w1")
_REAL_APPEND = files_module._append


def _write_three(root: Path) -> tuple[FileStore, list[int]]:
    """Three batches with a fact each; returns the store and the file size after each."""
    store = FileStore(root)
    sizes = []
    for seq in range(3):
        store.save_batch(
            batch(count=10, start_ms=seq * 1000, seq=seq,
                  facts=[Fact("click", "s1", "w1", seq * 1000, None, {"seq": seq})])
        )
        sizes.append(_window_file(root).stat().st_size)
    return store, sizes


def _window_file(root: Path) -> Path:
    return root / "s1" / "w-w1.rec"


def _assert_two_complete_batches(store: FileStore) -> None:
    assert [c.index for c in store.chunk_index(REF)] == [0, 1]
    assert [e["timestamp"] for e in store.get_events(REF)] == (
        [i * 100 for i in range(10)] + [1000 + i * 100 for i in range(10)]
    )
    summary = store.get_session("s1")
    assert summary is not None and summary.event_count == 20
    assert [f.data["seq"] for f in store.iter_facts()] == [0, 1]


def _assert_recovers_with_retry(root: Path, store: FileStore) -> None:
    """The recorder retries the torn batch: it is stored once, and the store goes on."""
    retry = batch(count=10, start_ms=2000, seq=2,
                  facts=[Fact("click", "s1", "w1", 2000, None, {"seq": 2})])
    assert store.save_batch(retry) is True
    assert store.save_batch(retry) is False
    assert store.save_batch(batch(count=10, start_ms=3000, seq=3)) is True
    for reader in (store, FileStore(root)):
        assert [c.index for c in reader.chunk_index(REF)] == [0, 1, 2, 3]
        assert len(reader.get_events(REF)) == 40
        assert reader.get_session("s1").event_count == 40
        assert [f.data["seq"] for f in reader.iter_facts()] == [0, 1, 2]


@pytest.mark.parametrize("cut", ["in_data", "in_header", "one_byte"])
def test_truncated_last_record(tmp_path: Path, cut: str) -> None:
    store, sizes = _write_three(tmp_path)
    path = _window_file(tmp_path)
    start = sizes[1]
    new_size = {
        "in_data": (start + sizes[2]) // 2,
        "in_header": start + _HEADER.size // 2,
        "one_byte": sizes[2] - 1,
    }[cut]
    os.truncate(path, new_size)
    for reader in (store, FileStore(tmp_path)):
        _assert_two_complete_batches(reader)
    _assert_recovers_with_retry(tmp_path, FileStore(tmp_path))


@pytest.mark.parametrize("garbage", [b"\x00" * 100, os.urandom(3000), b"SR" + b"\xff" * 60])
def test_garbage_after_the_last_record(tmp_path: Path, garbage: bytes) -> None:
    store, sizes = _write_three(tmp_path)
    path = _window_file(tmp_path)
    with open(path, "ab") as f:
        f.write(garbage)
    for reader in (store, FileStore(tmp_path)):
        assert [c.index for c in reader.chunk_index(REF)] == [0, 1, 2]
        assert len(reader.get_events(REF)) == 30
    assert store.save_batch(batch(count=10, start_ms=3000, seq=3)) is True
    assert [c.index for c in FileStore(tmp_path).chunk_index(REF)] == [0, 1, 2, 3]
    assert len(store.get_events(REF)) == 40


def test_full_length_record_with_bad_checksum(tmp_path: Path) -> None:
    """A crash can leave the last record its full length but with zeros for data."""
    store, sizes = _write_three(tmp_path)
    path = _window_file(tmp_path)
    with open(path, "r+b") as f:
        f.seek(sizes[1] + _HEADER.size)
        f.write(b"\x00" * (sizes[2] - sizes[1] - _HEADER.size))
    for reader in (store, FileStore(tmp_path)):
        _assert_two_complete_batches(reader)
    _assert_recovers_with_retry(tmp_path, FileStore(tmp_path))


def test_crash_after_the_record_before_meta_and_facts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The record is the commit point: the next writer finishes the batch from it."""
    store = FileStore(tmp_path)
    store.save_batch(batch(seq=0, received_at=T0))
    done = batch(seq=1, start_ms=5000, received_at=T0.replace(year=2032),
                 metadata={"plan": "pro"}, has_errors=True, page_url="https://x.test/late",
                 facts=[Fact("error", "s1", "w1", 5000, None, {"message": "boom"})])

    def crash(*args: object, **kwargs: object) -> None:
        raise OSError("simulated crash")

    monkeypatch.setattr(FileStore, "_write_meta", staticmethod(crash))
    monkeypatch.setattr(files_module, "_append", _append_then_crash_on_facts)
    with pytest.raises(StoreError):
        store.save_batch(done)
    monkeypatch.undo()

    fresh = FileStore(tmp_path)
    assert len(fresh.get_events(REF)) == 20  # the chunk is stored
    assert fresh.save_batch(done) is False  # the retry is a duplicate...
    summary = fresh.get_session("s1")  # ...and the rest of the batch was applied
    assert summary.metadata == {"plan": "pro"}
    assert summary.has_errors is True
    assert summary.updated_at == done.received_at
    assert summary.last_url == "https://x.test/late"
    assert [f.kind for f in fresh.iter_facts()] == ["error"]


def test_window_state_of_a_batch_committed_before_a_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ingest reads the window state before the next batch: it must be the state of the last
    committed record, even when the writer died before updating meta.json."""
    store = FileStore(tmp_path)
    store.save_batch(batch(seq=0, window_state={"password_ids": [1]}))

    def crash(*args: object, **kwargs: object) -> None:
        raise OSError("simulated crash")

    monkeypatch.setattr(FileStore, "_write_meta", staticmethod(crash))
    with pytest.raises(StoreError):
        store.save_batch(batch(seq=1, start_ms=5000, window_state={"password_ids": [1, 34]}))
    monkeypatch.undo()
    for reader in (FileStore(tmp_path), store):
        assert reader.get_window_state(REF) == {"password_ids": [1, 34]}
    assert store.save_batch(batch(seq=2, start_ms=9000)) is True
    assert FileStore(tmp_path).get_window_state(REF) == {"password_ids": [1, 34]}


def _append_then_crash_on_facts(path: Path, payload: bytes) -> None:
    if Path(path).name == "facts.jsonl":
        with open(path, "ab") as f:
            f.write(payload[: len(payload) // 2])  # a torn facts line
        raise OSError("simulated crash")
    _REAL_APPEND(path, payload)


def test_torn_facts_line_is_skipped(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    store.save_batch(batch(seq=0, facts=[Fact("click", "s1", "w1", 1)]))
    with open(tmp_path / "s1" / "facts.jsonl", "ab") as f:
        f.write(b'{"w":"w1","c":0,"a":1,"k":"cli')
    assert [f.ts_ms for f in store.iter_facts()] == [1]
    store.save_batch(batch(seq=1, facts=[Fact("click", "s1", "w1", 2)]))
    assert [f.ts_ms for f in FileStore(tmp_path).iter_facts()] == [1, 2]


def test_torn_first_record_of_a_new_session(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    store.save_batch(batch("other", seq=0))
    session_dir = tmp_path / "s1"
    session_dir.mkdir()
    full = tmp_path / "other" / "w-w1.rec"
    (session_dir / "w-w1.rec").write_bytes(full.read_bytes()[:40])
    assert store.get_session("s1") is None
    assert [s.session_id for s in store.list_sessions(SessionQuery())] == ["other"]
    assert store.chunk_index(REF) == []
    assert store.save_batch(batch(seq=0)) is True
    assert store.get_session("s1").event_count == 10
    assert [c.index for c in store.chunk_index(REF)] == [0]


def test_meta_replacement_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = FileStore(tmp_path)
    store.save_batch(batch(seq=0, metadata={"a": 1}))
    before = (tmp_path / "s1" / "meta.json").read_bytes()

    def broken_replace(src: object, dst: object) -> None:
        raise OSError("simulated crash during rename")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(StoreError):
        store.save_metadata("s1", {"b": 2})
    monkeypatch.undo()
    assert (tmp_path / "s1" / "meta.json").read_bytes() == before
    assert not [n for n in os.listdir(tmp_path / "s1") if n.endswith(".tmp")]
    assert store.get_session("s1").metadata == {"a": 1}


def test_leftover_temporary_files_are_removed(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    store.save_batch(batch(seq=0))
    (tmp_path / "s1" / ".meta.json.dead.tmp").write_bytes(b"{half")
    (tmp_path / "s1" / ".w-w1.rec.dead.tmp").write_bytes(b"SR")
    assert store.get_session("s1").window_ids == ["w1"]
    store.save_batch(batch(seq=1))
    assert not [n for n in os.listdir(tmp_path / "s1") if n.endswith(".tmp")]


def _killed_writer(root: str) -> None:
    """Child process: dies (no cleanup at all) halfway through writing a record."""
    real_write = os.write

    def half_write(fd: int, data: bytes) -> int:
        if len(data) > 200:
            real_write(fd, bytes(data)[: len(data) // 2])
            os._exit(1)
        return real_write(fd, data)

    os.write = half_write  # type: ignore[assignment]
    FileStore(root).save_batch(batch(count=50, start_ms=2000, seq=2))


def test_writer_killed_mid_record(tmp_path: Path) -> None:
    store, _sizes = _write_three(tmp_path)
    os.truncate(_window_file(tmp_path), _sizes[1])  # keep two batches, as if seq 2 never came
    ctx = multiprocessing.get_context("fork")
    child = ctx.Process(target=_killed_writer, args=(str(tmp_path),))
    child.start()
    child.join(30)
    assert child.exitcode == 1
    assert _window_file(tmp_path).stat().st_size > _sizes[1]  # the torn half is on disk
    for reader in (store, FileStore(tmp_path)):
        assert [c.index for c in reader.chunk_index(REF)] == [0, 1]
        assert len(reader.get_events(REF)) == 20
    _assert_recovers_with_retry(tmp_path, FileStore(tmp_path))
