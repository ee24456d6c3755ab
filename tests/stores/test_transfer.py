"""Export from one store, import into another: sessions come back whole, and twice is once."""

from __future__ import annotations

import dataclasses
import io
from datetime import timedelta
from pathlib import Path

import orjson
import pytest
from contract import FIXTURE_NAMES, T0, batch, dumps, fixture_batches, load_fixture

from sentiero.stores.base import Fact, SessionQuery, Store, WindowRef
from sentiero.stores.memory import MemoryStore
from sentiero.stores.sql import SQLStore
from sentiero.transfer import export_sessions, import_sessions


def _filled_memory_store() -> MemoryStore:
    store = MemoryStore()
    for name in FIXTURE_NAMES:
        for b in fixture_batches(name, batch_size=20, received_at=T0):
            store.save_batch(b)
    store.save_batch(
        batch(
            "multi",
            "wA",
            seq=0,
            received_at=T0,
            metadata={"plan": "pro"},
            user_agent="UA",
            page_url="https://x.test/a",
            facts=[
                Fact(
                    "page_view",
                    "multi",
                    "wA",
                    1_700_000_000_000,
                    "https://x.test/a",
                    {"viewport": {"width": 1}},
                )
            ],
        )
    )
    store.save_batch(
        batch(
            "multi",
            "wB",
            seq=0,
            start_ms=1_700_000_100_000,
            received_at=T0 + timedelta(seconds=5),
            has_errors=True,
            page_url="https://x.test/b",
            facts=[Fact("error", "multi", "wB", 1_700_000_100_500, None, {"message": "boom"})],
        )
    )
    store.save_batch(
        batch(
            "multi",
            "wB",
            seq=None,
            start_ms=1_700_000_200_000,
            received_at=T0 + timedelta(seconds=9),
        )
    )
    store.save_metadata("multi", {"user": {"id": 7}})
    return store


def _snapshot(store: Store) -> dict:
    out = {}
    for summary in store.list_sessions(SessionQuery(limit=100)):
        windows = {}
        for w in summary.windows:
            ref = WindowRef(summary.session_id, w.window_id)
            windows[w.window_id] = (
                [
                    (c.index, c.seq, c.first_ms, c.last_ms, c.event_count)
                    for c in store.chunk_index(ref)
                ],
                dumps(store.get_events(ref)),
            )
        facts = list(store.iter_facts(session_id=summary.session_id))
        # traits are the SQL store's index of the metadata, derived again on every store
        out[summary.session_id] = (dataclasses.replace(summary, traits=None), windows, facts)
    return out


@pytest.fixture
def target(tmp_path: Path):
    store = SQLStore(f"sqlite:///{tmp_path / 'target.db'}")
    store.setup()
    yield store
    store.close()


def test_memory_to_sqlite_round_trip(target: SQLStore) -> None:
    source = _filled_memory_store()
    buffer = io.BytesIO()
    calls: list[tuple[int, int]] = []
    assert export_sessions(source, buffer, progress=lambda d, t: calls.append((d, t))) == 6
    assert calls[-1] == (6, 6) and len(calls) == 6

    buffer.seek(0)
    assert import_sessions(target, buffer) == 6
    assert _snapshot(target) == _snapshot(source)
    multi = target.get_session("multi")
    assert multi.metadata == {"plan": "pro", "user": {"id": 7}}
    assert (multi.user_agent, multi.last_url, multi.has_errors) == ("UA", "https://x.test/b", True)
    assert (multi.created_at, multi.updated_at) == (T0, T0 + timedelta(seconds=9))
    fixture = load_fixture("dashboard-a")
    window = fixture["windows"][0]
    events = target.get_events(WindowRef(fixture["session_id"], window["window_id"]))
    assert dumps(events) == dumps(window["events"])


def test_importing_twice_stores_nothing_twice(target: SQLStore) -> None:
    buffer = io.BytesIO()
    export_sessions(_filled_memory_store(), buffer)
    buffer.seek(0)
    import_sessions(target, buffer)
    before = _snapshot(target)
    buffer.seek(0)
    assert import_sessions(target, buffer) == 0
    assert _snapshot(target) == before


def test_back_from_sqlite_to_memory(target: SQLStore) -> None:
    first = io.BytesIO()
    export_sessions(_filled_memory_store(), first)
    first.seek(0)
    import_sessions(target, first)
    second = io.BytesIO()
    export_sessions(target, second)
    second.seek(0)
    memory = MemoryStore()
    assert import_sessions(memory, second) == 6
    assert _snapshot(memory) == _snapshot(target)


def test_export_selected_sessions_and_file_shape() -> None:
    source = _filled_memory_store()
    buffer = io.BytesIO()
    assert export_sessions(source, buffer, session_ids=["multi", "not-there"]) == 1
    lines = buffer.getvalue().splitlines()
    header, record = orjson.loads(lines[0]), orjson.loads(lines[1])
    assert header["format"] == "sentiero-export" and header["version"] == 3
    assert len(lines) == 2
    assert [w["window_id"] for w in record["windows"]] == ["wA", "wB"]
    assert [c["seq"] for c in record["windows"][1]["chunks"]] == [0, None]
    assert [f["kind"] for f in record["facts"]] == ["page_view", "error"]
    with pytest.raises(ValueError):
        export_sessions(source, io.BytesIO(), session_ids=["../bad"])


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b'{"format": "other"}\n',
        b'{"format": "sentiero-export", "version": 99}\n',
        b'{"format": "sentiero-export", "version": 1}\n{not json\n',
        b'{"format": "sentiero-export", "version": 1}\n{"session_id": "../x"}\n',
    ],
)
def test_import_rejects_other_files(content: bytes) -> None:
    with pytest.raises(ValueError):
        import_sessions(MemoryStore(), io.BytesIO(content))


def test_a_version_1_file_imports_with_its_facts_derived_again() -> None:
    """Files written before the analytics facts (version 1) carry only page views, clicks and
    errors without keys: importing derives every fact kind from the recorded events."""
    from tests.analytics.support import ingest_recording

    from sentiero.stores.memory import MemoryStore

    source = MemoryStore()
    ingest_recording(source, "frustration-a", "old-session")
    buffer = io.BytesIO()
    export_sessions(source, buffer)
    header, record = (orjson.loads(line) for line in buffer.getvalue().splitlines())
    header["version"] = 1
    record["facts"] = [{k: v for k, v in f.items() if k not in ("key", "value")}
                       for f in record["facts"] if f["kind"] in ("page_view", "click", "error")]
    old = orjson.dumps(header) + b"\n" + orjson.dumps(record) + b"\n"
    target = MemoryStore()
    assert import_sessions(target, io.BytesIO(old)) == 1
    kinds = {f.kind for f in target.iter_facts(session_id="old-session")}
    assert {"rage_click", "dead_click", "page_leave", "error"} <= kinds
    errors = [f.key for f in target.iter_facts(kind="error")]
    assert "rates service unavailable" in errors


def test_error_tracking_records_travel_with_their_session() -> None:
    import io

    from tests.stores.tracking_contract import FP_A, batch, event, occ

    from sentiero.stores.memory import MemoryStore
    from sentiero.transfer import export_sessions, import_sessions

    source = MemoryStore()
    source.save_batch(batch("s1", "w1", 0))
    source.save_occurrence(occ(session_id="s1", window_id="w1", replay_ms=5))
    source.save_occurrence(occ(session_id="other"))
    source.save_server_event(event(session_id="s1"))
    out = io.BytesIO()
    export_sessions(source, out, ["s1"])
    target = MemoryStore()
    for _ in range(2):  # the second import stores nothing twice
        import_sessions(target, io.BytesIO(out.getvalue()))
    [copied] = target.list_occurrences(session_id="s1")
    assert (copied.window_id, copied.replay_ms) == ("w1", 5)
    assert target.get_problem(FP_A).count == 1
    from sentiero.tracking.models import ServerEventQuery

    assert [e.session_id for e in target.list_server_events(ServerEventQuery())] == ["s1"]


# --- saved funnels ---------------------------------------------------------------------------


def _funnel(name: str, n: int, steps: tuple = (("url", "/cart"), ("tag", "checkout"))):
    from datetime import datetime, timezone

    from sentiero.stores.saved_funnels import SavedFunnel

    return SavedFunnel(f"{n:032x}", name, steps, 600_000 if n % 2 else None,
                       datetime(2026, 3, 1, 12, n, tzinfo=timezone.utc))


def test_saved_funnels_move_from_memory_to_sqlite_once(target: SQLStore) -> None:
    from sentiero.transfer import import_file

    source = _filled_memory_store()
    a, b = _funnel("A cart", 1), _funnel("b signup ✓", 2, (("tag", "a"), ("url", "/x*"),
                                                          ("tag", "b")))
    source.save_funnel(b)
    source.save_funnel(a)
    buffer = io.BytesIO()
    export_sessions(source, buffer)
    lines = buffer.getvalue().splitlines()
    header = orjson.loads(lines[0])
    assert header["version"] == 3 and header["saved_funnels"] == 2
    assert [orjson.loads(line)["saved_funnel"]["name"] for line in lines[1:3]] == \
        ["A cart", "b signup ✓"]

    first = import_file(target, io.BytesIO(buffer.getvalue()))
    assert (first.sessions, first.saved_funnels, first.funnels_not_kept) == (6, 2, 0)
    assert target.list_funnels() == [a, b]
    again = import_file(target, io.BytesIO(buffer.getvalue()))
    assert (again.sessions, again.saved_funnels) == (0, 0)  # idempotent
    assert target.list_funnels() == [a, b]

    renamed = dataclasses.replace(a, name="A cart (renamed)")
    source.save_funnel(renamed)
    changed = io.BytesIO()
    export_sessions(source, changed)
    assert import_file(target, io.BytesIO(changed.getvalue())).saved_funnels == 1
    assert target.list_funnels() == [renamed, b]  # replaced by id, not added


def test_selected_sessions_carry_no_funnels_unless_asked() -> None:
    source = _filled_memory_store()
    source.save_funnel(_funnel("kept", 1))
    plain, asked = io.BytesIO(), io.BytesIO()
    export_sessions(source, plain, session_ids=["multi"])
    export_sessions(source, asked, session_ids=["multi"], saved_funnels=True)
    assert orjson.loads(plain.getvalue().splitlines()[0])["saved_funnels"] == 0
    assert len(plain.getvalue().splitlines()) == 2
    assert len(asked.getvalue().splitlines()) == 3
    target = MemoryStore()
    import_sessions(target, io.BytesIO(asked.getvalue()))
    assert target.list_funnels() == [_funnel("kept", 1)]


def _v3(*funnel_docs: dict) -> bytes:
    head = orjson.dumps({"format": "sentiero-export", "version": 3, "sessions": 0,
                         "saved_funnels": len(funnel_docs)})
    return b"\n".join([head, *(orjson.dumps({"saved_funnel": d}) for d in funnel_docs)]) + b"\n"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"id": "../x"}, "not a saved funnel"),
        ({"steps": "nope"}, "not a saved funnel"),
        ({"name": " "}, "needs a name"),
        ({"steps": [["tag", "only-one"]]}, "at least 2 steps"),
        ({"steps": [["tag", "a"], ["css", "b"]]}, "not .css."),
        ({"within_ms": -5}, "time window"),
    ],
)
def test_a_bad_saved_funnel_is_refused_and_none_is_stored(change: dict, message: str) -> None:
    good = orjson.loads(_funnel("good", 1).to_json())
    bad = {**orjson.loads(_funnel("bad", 2).to_json()), **change}
    target = MemoryStore()
    with pytest.raises(ValueError, match=message):
        import_sessions(target, io.BytesIO(_v3(good, bad)))
    assert target.list_funnels() == []


def test_a_store_keeping_no_funnels_imports_the_sessions_and_says_so() -> None:
    from sentiero.stores.base import Store as Base
    from sentiero.transfer import import_file

    class NoFunnels(MemoryStore):
        list_funnels = Base.list_funnels
        save_funnel = Base.save_funnel

    source = _filled_memory_store()
    source.save_funnel(_funnel("kept", 1))
    buffer = io.BytesIO()
    export_sessions(source, buffer)
    result = import_file(NoFunnels(), io.BytesIO(buffer.getvalue()))
    assert (result.sessions, result.saved_funnels, result.funnels_not_kept) == (6, 0, 1)
    empty = io.BytesIO()
    assert export_sessions(NoFunnels(), empty) == 0
    assert orjson.loads(empty.getvalue())["saved_funnels"] == 0


def test_compacted_windows_export_import_and_erase(target: SQLStore) -> None:
    from sentiero.compaction import compact_store

    source = _filled_memory_store()
    ids = list(source.iter_session_ids())
    stats = compact_store(source, 0, session_ids=ids)
    assert stats.chunks_before > stats.chunks_after > 0
    buffer = io.BytesIO()
    assert export_sessions(source, buffer) == 6
    buffer.seek(0)
    assert import_sessions(target, buffer) == 6

    def without_created(snapshot: dict) -> dict:
        # known gap: a session whose windows compacted into one chunk each is imported by one
        # save_batch, which cannot carry both created_at and updated_at (updated_at wins)
        return {k: (dataclasses.replace(v[0], created_at=None), *v[1:])
                for k, v in snapshot.items()}

    assert without_created(_snapshot(target)) == without_created(_snapshot(source))
    buffer.seek(0)
    assert import_sessions(target, buffer) == 0  # a compacted chunk is imported once
    fixture = load_fixture("dashboard-a")
    window = fixture["windows"][0]
    events = target.get_events(WindowRef(fixture["session_id"], window["window_id"]))
    assert dumps(events) == dumps(window["events"])
    # erasure of a compacted session leaves nothing
    assert target.erase_sessions([fixture["session_id"]]) == 1
    assert target.get_session(fixture["session_id"]) is None
    assert target.chunk_index(WindowRef(fixture["session_id"], window["window_id"])) == []
