"""The error-tracking part of the store contract (stores/tracking.py): every backend's
test class runs it through ``StoreContract``."""

from __future__ import annotations

import pytest

from sentiero.stores.base import Batch, Store, WindowRef
from sentiero.tracking.models import (
    IngestKey,
    Occurrence,
    ProblemQuery,
    ServerEvent,
    ServerEventQuery,
    now_ms,
)

FP_A = "a" * 40
FP_B = "b" * 40
BASE_MS = 1_900_000_000_000  # 2030: far from any purge cutoff


def occ(problem_id: str = FP_A, ts_ms: int = BASE_MS, **kw) -> Occurrence:
    values = {
        "project": "shop",
        "exception_class": "ValueError",
        "message": "bad value",
        "frames": [{"function": "view", "module": "shop.views", "lineno": 3, "in_app": True}],
        "context": {"request": {"path": "/cart"}},
        **kw,
    }
    return Occurrence(problem_id=problem_id, ts_ms=ts_ms, **values)


def event(name: str = "signup", ts_ms: int = BASE_MS, **kw) -> ServerEvent:
    return ServerEvent(project=kw.pop("project", "shop"), name=name,
                       level=kw.pop("level", "info"), ts_ms=ts_ms, **kw)


def batch(session_id: str, window_id: str, seq: int) -> Batch:
    events = [{"type": 3, "timestamp": 1_700_000_000_000 + i, "data": {"source": 1}}
              for i in range(3)]
    return Batch(session_id=session_id, window_id=window_id, events=events, seq=seq)


class TrackingContract:
    """Problems, occurrences, server events and ingest keys.

    A store that does not keep error-tracking data yet sets ``tracks_errors = False`` (its
    methods raise NotImplementedError, which the test below checks); the rest then skip."""

    tracks_errors = True

    @pytest.fixture(autouse=True)
    def _needs_tracking(self, request: pytest.FixtureRequest) -> None:
        # only this class's tests: the store contract mixes it in beside its own
        own = request.node.name.split("[")[0] in TrackingContract.__dict__
        if own and not self.tracks_errors and request.node.name != (
                "test_a_store_without_tracking_says_so"):
            pytest.skip("this store does not keep error-tracking data (tracks_errors = False)")

    def test_a_store_without_tracking_says_so(self, store: Store) -> None:
        if self.tracks_errors:
            assert store.list_ingest_keys() == []
            return
        with pytest.raises(NotImplementedError, match="does not keep error-tracking data"):
            store.save_occurrence(occ())

    def _session(self, store: Store, session_id: str) -> None:
        store.save_batch(batch(session_id=session_id, window_id="w1", seq=0))

    def test_occurrences_group_into_one_problem(self, store: Store) -> None:
        first = store.save_occurrence(occ(ts_ms=BASE_MS + 10, message="first"))
        assert (first.count, first.status, first.title) == (1, "open", "ValueError: first")
        store.save_occurrence(occ(ts_ms=BASE_MS, message="earlier"))
        problem = store.save_occurrence(occ(ts_ms=BASE_MS + 50, message="latest"))
        assert problem.count == 3
        assert (problem.first_seen_ms, problem.last_seen_ms) == (BASE_MS, BASE_MS + 50)
        assert problem.message == "latest"
        assert problem.title == "ValueError: first"
        stored = store.get_problem(FP_A)
        assert stored == problem
        assert store.get_problem(FP_B) is None
        occs = store.list_occurrences(problem_id=FP_A)
        assert [o.ts_ms for o in occs] == [BASE_MS + 50, BASE_MS + 10, BASE_MS]
        assert occs[0].frames == occ().frames and occs[0].context == occ().context
        assert store.count_occurrences(FP_A) == 3
        assert store.count_occurrences(FP_A, since_ms=BASE_MS + 10) == 2

    def test_status_and_auto_reopen(self, store: Store) -> None:
        store.save_occurrence(occ())
        assert store.set_problem_status(FP_A, "resolved", at_ms=BASE_MS + 1)
        resolved = store.get_problem(FP_A)
        assert (resolved.status, resolved.resolved_at_ms) == ("resolved", BASE_MS + 1)
        again = store.save_occurrence(occ(ts_ms=BASE_MS + 5))
        assert (again.status, again.resolved_at_ms) == ("open", None)
        store.set_problem_status(FP_A, "ignored")
        assert store.save_occurrence(occ(ts_ms=BASE_MS + 6)).status == "ignored"
        assert store.set_problem_status(FP_B, "open") is False
        with pytest.raises(ValueError):
            store.set_problem_status(FP_A, "closed")

    def test_list_problems_filters_and_sorts(self, store: Store) -> None:
        store.save_occurrence(occ(FP_A, BASE_MS, exception_class="KeyError", message="cart"))
        for i in range(3):
            store.save_occurrence(occ(FP_B, BASE_MS - 1000 + i, exception_class="TypeError",
                                      message="Checkout failed"))
        ids = lambda q: [p.id for p in store.list_problems(q)]  # noqa: E731
        assert ids(ProblemQuery()) == [FP_A, FP_B]
        assert ids(ProblemQuery(sort_by="count")) == [FP_B, FP_A]
        assert ids(ProblemQuery(sort_by="first_seen")) == [FP_A, FP_B]
        assert ids(ProblemQuery(search="checkout")) == [FP_B]
        assert ids(ProblemQuery(search="keyerr")) == [FP_A]
        assert ids(ProblemQuery(search="100%_")) == []
        assert ids(ProblemQuery(since_ms=BASE_MS)) == [FP_A]
        assert ids(ProblemQuery(until_ms=BASE_MS - 1)) == [FP_B]
        assert ids(ProblemQuery(limit=1, offset=1)) == [FP_B]
        store.set_problem_status(FP_B, "resolved")
        assert ids(ProblemQuery(status="resolved")) == [FP_B]
        assert ids(ProblemQuery(status="open")) == [FP_A]
        assert ids(ProblemQuery(project="other")) == []

    def test_bad_occurrences_store_nothing(self, store: Store) -> None:
        for bad in (occ(problem_id="not a fingerprint!"), occ(session_id="../x"),
                    occ(exception_class=""), occ(window_id="w1")):
            with pytest.raises(ValueError):
                store.save_occurrence(bad)
        assert store.list_problems(ProblemQuery()) == []

    def test_linked_session_gets_the_errors_flag(self, store: Store) -> None:
        self._session(store, "s1")
        assert store.get_session("s1").has_errors is False
        store.save_occurrence(occ(session_id="s1", window_id="w1", replay_ms=BASE_MS - 5))
        assert store.get_session("s1").has_errors is True
        store.save_occurrence(occ(session_id="ghost"))  # unknown session: no session appears
        assert store.get_session("ghost") is None
        linked = store.list_occurrences(session_id="s1")
        assert [(o.window_id, o.replay_ms) for o in linked] == [("w1", BASE_MS - 5)]

    def test_deleting_a_session_removes_its_occurrences_and_events(self, store: Store) -> None:
        self._session(store, "s1")
        self._session(store, "s2")
        store.save_occurrence(occ(session_id="s1", ts_ms=BASE_MS))
        store.save_occurrence(occ(session_id="s2", ts_ms=BASE_MS + 1))
        store.save_server_event(event(session_id="s1"))
        store.save_server_event(event(session_id="s2"))
        assert store.delete_session("s1")
        assert [o.session_id for o in store.list_occurrences(problem_id=FP_A)] == ["s2"]
        assert store.list_occurrences(session_id="s1") == []
        assert [e.session_id for e in store.list_server_events(ServerEventQuery())] == ["s2"]
        assert store.get_problem(FP_A).count == 2  # the aggregate stays
        store.erase_sessions(["s2"])
        assert store.list_occurrences(problem_id=FP_A) == []
        assert store.list_server_events(ServerEventQuery()) == []

    def test_evicting_a_session_at_max_sessions_removes_its_occurrences_and_events(
            self, store: Store) -> None:
        self._session(store, "s1")
        store.save_occurrence(occ(session_id="s1", ts_ms=BASE_MS))
        store.save_server_event(event(session_id="s1"))
        store.limits.max_sessions = 1
        self._session(store, "s2")
        assert store.get_session("s1") is None
        assert store.list_occurrences(session_id="s1") == []
        assert store.list_occurrences(problem_id=FP_A) == []
        assert store.count_occurrences(FP_A) == 0
        assert store.list_server_events(ServerEventQuery()) == []
        assert store.get_problem(FP_A).count == 1  # the aggregate stays, as on erase

    def test_purge_ages_out_tracking_data(self, store: Store) -> None:
        old = now_ms() - 10 * 86_400_000
        store.save_occurrence(occ(FP_A, old))
        store.save_occurrence(occ(FP_B, old))
        store.save_occurrence(occ(FP_B, now_ms()))
        store.save_server_event(event("old", old))
        store.save_server_event(event("new", now_ms()))
        store.purge_older_than(86_400)
        assert store.get_problem(FP_A) is None
        assert store.get_problem(FP_B) is not None
        assert store.count_occurrences(FP_B) == 1
        assert [e.name for e in store.list_server_events(ServerEventQuery())] == ["new"]

    def test_caps(self, store: Store) -> None:
        store.limits.max_problems = 2
        store.limits.max_occurrences_per_problem = 2
        store.limits.max_server_events = 3
        store.save_occurrence(occ("1" * 40, BASE_MS))
        store.save_occurrence(occ("2" * 40, BASE_MS + 1))
        store.save_occurrence(occ("3" * 40, BASE_MS + 2))
        assert sorted(p.id[0] for p in store.list_problems(ProblemQuery())) == ["2", "3"]
        assert store.list_occurrences(problem_id="1" * 40) == []
        for i in range(3):
            store.save_occurrence(occ("3" * 40, BASE_MS + 10 + i))
        assert store.count_occurrences("3" * 40) == 2
        assert store.get_problem("3" * 40).count == 4
        for i in range(5):
            store.save_server_event(event(f"e{i}", BASE_MS + i))
        names = [e.name for e in store.list_server_events(ServerEventQuery())]
        assert names == ["e4", "e3", "e2"]

    def test_server_events(self, store: Store) -> None:
        store.save_server_event(event("signup", BASE_MS, payload={"plan": "pro"}))
        store.save_server_event(event("payment_failed", BASE_MS + 5, level="error",
                                      session_id="s9"))
        store.save_server_event(event("signup", BASE_MS + 9, project="admin"))
        all_events = store.list_server_events(ServerEventQuery())
        assert [e.ts_ms for e in all_events] == [BASE_MS + 9, BASE_MS + 5, BASE_MS]
        assert store.get_server_event(all_events[2].id).payload == {"plan": "pro"}
        assert store.get_server_event("0" * 32) is None
        names = lambda q: [e.name for e in store.list_server_events(q)]  # noqa: E731
        assert names(ServerEventQuery(level="error")) == ["payment_failed"]
        assert names(ServerEventQuery(search="SIGN")) == ["signup", "signup"]
        assert names(ServerEventQuery(project="admin")) == ["signup"]
        assert names(ServerEventQuery(session_id="s9")) == ["payment_failed"]
        assert names(ServerEventQuery(since_ms=BASE_MS + 1, until_ms=BASE_MS + 5)) == [
            "payment_failed"]
        assert names(ServerEventQuery(limit=1, offset=1)) == ["payment_failed"]
        with pytest.raises(ValueError):
            store.save_server_event(event(level="fatal"))

    def test_ingest_keys(self, store: Store) -> None:
        key = IngestKey("k1abc", "shop", "f" * 64, created_ms=BASE_MS)
        store.save_ingest_key(key)
        store.save_ingest_key(IngestKey("k2abc", "blog", "e" * 64, created_ms=BASE_MS + 1))
        with pytest.raises(ValueError):
            store.save_ingest_key(IngestKey("k1abc", "x", "d" * 64, created_ms=BASE_MS))
        assert store.get_ingest_key("k1abc") == key
        assert [k.key_id for k in store.list_ingest_keys()] == ["k1abc", "k2abc"]
        assert store.revoke_ingest_key("k1abc", at_ms=BASE_MS + 2)
        assert store.revoke_ingest_key("k1abc") is False
        assert store.revoke_ingest_key("nope") is False
        assert store.get_ingest_key("k1abc").revoked_ms == BASE_MS + 2
        assert store.get_ingest_key("k2abc").active

    def test_deleting_a_window_keeps_the_sessions_other_errors(self, store: Store) -> None:
        store.save_batch(batch(session_id="s1", window_id="w1", seq=0))
        store.save_batch(batch(session_id="s1", window_id="w2", seq=0))
        store.save_occurrence(occ(session_id="s1", window_id="w2"))
        assert store.delete_window(WindowRef("s1", "w1"))
        assert len(store.list_occurrences(session_id="s1")) == 1

    def test_concurrent_reports_of_one_problem_count_exactly(self, store: Store) -> None:
        import threading

        store.limits.max_occurrences_per_problem = None
        errors: list[BaseException] = []

        def report(worker: int) -> None:
            try:
                for i in range(10):
                    store.save_occurrence(occ(ts_ms=BASE_MS + worker * 100 + i))
            except BaseException as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(exc)

        threads = [threading.Thread(target=report, args=(w,)) for w in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        problem = store.get_problem(FP_A)
        assert problem.count == 60 and store.count_occurrences(FP_A) == 60
        assert (problem.first_seen_ms, problem.last_seen_ms) == (BASE_MS, BASE_MS + 509)
