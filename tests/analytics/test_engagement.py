"""Engagement scores on every store: the fixtures plus two hand-written sessions.

round(100 × Σ weight × sub-score), from the facts the fixtures yield (test_frustration_scroll
and test_forms explain them):
- frustration-a: rage 1 (1/3 × 0.20), dead 7 (1 × 0.15), a JS error 1.1 s before its last
  event (0.10): 6.67 + 15 + 10 = 31.7 -> 32.
- todo-a: dead 5 (0.15), 7 refills of the title field (1 × 0.10): 25.
- signup-b: dead 2 (2/3 × 0.15): 10.  vitals-session: /a seen again (1/3 × 0.15): 5.
- dashboard-a: one scroll reversal (1/3 × 0.10): 3.3 -> 3.  landing-a: nothing: 0.
- idle: events at 0, 4 s and 16 s (a 12 s pause) of a 20 s session: 0.6 × 0.10 = 6.
- bounce: one page, 3 s: 10.
Distribution: 0-20 holds 6 (0, 3, 5, 6, 10, 10), 20-40 holds 2 (25, 32).
"""

from __future__ import annotations

from sentiero.analytics import engagement, export
from sentiero.analytics.periods import resolve_period
from sentiero.stores.base import Fact, Store, WindowRef
from tests.analytics import synthetic as s
from tests.analytics.dataset import SETTINGS
from tests.analytics.support import ingest_recording

ALL = resolve_period(None, None, None, default_preset=None)
START = 1_790_000_000_000


def _extra(store: Store) -> None:
    idle = [s.meta(START, "/a"), s.snapshot(START + 1), s.custom(START + 4_000, "x"),
            s.custom(START + 16_000, "x"), s.custom(START + 20_000, "x")]
    ingest_recording(store, "", "idle", settings=SETTINGS, recording=s.recording("idle", idle))
    t = START + 3_600_000
    bounce = [s.meta(t, "/b"), s.snapshot(t + 1), s.custom(t + 3_000, "x")]
    ingest_recording(store, "", "bounce", settings=SETTINGS,
                     recording=s.recording("bounce", bounce))


def test_scores_signals_and_distribution(filled_store: Store) -> None:
    _extra(filled_store)
    try:
        data = engagement.engagement(filled_store, ALL)
        scores = {r.row.session_id: r.score for r in data.rows}
        assert scores == {"sess-frustration-a": 32, "sess-todo-a": 25, "sess-signup-b": 10,
                          "bounce": 10, "idle": 6, "vitals-session": 5, "sess-dashboard-a": 3,
                          "sess-landing-a": 0}
        assert [r.row.session_id for r in data.rows][:4] == [
            "sess-frustration-a", "sess-todo-a", "bounce", "sess-signup-b"]  # ties by id
        assert data.distribution == [("0-20", 6), ("20-40", 2), ("40-60", 0), ("60-80", 0),
                                     ("80-100", 0)]
        top = data.rows[0].signals
        assert top.chips() == ["Rage clicks 1", "Dead clicks 7", "Error exit"]
        idle = next(r for r in data.rows if r.row.session_id == "idle").signals
        assert idle.idle_ratio == 0.6 and idle.chips() == ["Idle 60%"]
        by_duration = engagement.engagement(filled_store, ALL, sort="duration")
        assert by_duration.rows[0].row.session_id == "idle"  # 20 s, the longest
        assert len(list(export.DATASETS["engagement"].rows(filled_store, ALL))) == 8
    finally:
        filled_store.erase_sessions(["idle", "bounce"])


def test_revisits_and_refills_count_across_batches_and_windows(empty_store: Store) -> None:
    """Revisits and refills count distinct pages and fields over the whole session, whichever
    batch or window brought them; deleting a window takes its pages and fields with it."""
    from tests.stores.contract import batch

    a, b = "https://shop.example/a", "https://shop.example/b"

    def pv(window: str, ts: int, url: str) -> Fact:
        return Fact("page_view", "s", window, ts, url, {}, None, None)

    def typed(window: str, ts: int, node: str, inputs: int) -> Fact:
        return Fact("form_field", "s", window, ts, a, {}, node, float(inputs))

    t = 1_700_000_000_000
    batches = [
        ("w1", 0, [pv("w1", t, a), typed("w1", t + 10, "7", 2)]),
        ("w1", 1, [pv("w1", t + 20_000, b), pv("w1", t + 21_000, a),  # /a again: 1 revisit
                   typed("w1", t + 22_000, "7", 3), typed("w1", t + 23_000, "8", 1)]),
        ("w2", 0, [pv("w2", t + 30_000, b),  # /b again, from another tab: a 2nd revisit
                   typed("w2", t + 31_000, "7", 2)]),  # node 7 of w2 is another field
    ]
    for window, seq, facts in batches:
        start = facts[0].ts_ms
        assert empty_store.save_batch(batch("s", window, count=5, start_ms=start, seq=seq,
                                            facts=facts))
    row = engagement.engagement(empty_store, ALL).rows[0]
    # pages /a and /b; refills: w1 node 7 typed 5 times (4), w1 node 8 once, w2 node 7 twice (1)
    assert (row.signals.pages, row.signals.churn, row.signals.refills) == (2, 2, 5)
    assert row.signals.chips() == ["Revisits 2", "Refills 5"]
    assert row.score == 20  # churn 2/3 x 15 + refills 1 x 10

    assert empty_store.delete_window(WindowRef("s", "w2"))
    row = engagement.engagement(empty_store, ALL).rows[0]
    assert (row.signals.pages, row.signals.churn, row.signals.refills) == (2, 1, 4)
    # a later batch of w1 counts against what is left: /b was seen (in w1), node 7 of w1 too
    assert empty_store.save_batch(batch("s", "w1", count=5, start_ms=t + 40_000, seq=2, facts=[
        pv("w1", t + 40_000, b), typed("w1", t + 40_500, "7", 1)]))
    row = engagement.engagement(empty_store, ALL).rows[0]
    assert (row.signals.pages, row.signals.churn, row.signals.refills) == (2, 2, 5)
