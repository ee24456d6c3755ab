"""The mouse-move attention map (sentiero.analytics.attention) on every store, over small
recordings whose figures are derived by hand below (rrweb incremental source 1 is a mouse move,
6 a touch move: the same ``positions``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sentiero.analytics.attention import move_map
from sentiero.analytics.periods import Period
from sentiero.stores.base import Store
from tests.analytics.support import ingest_recording

T0 = 1_767_000_000_000
URL = "https://shop.example/pay"
ALL = Period(None, None, None)


def _recording(sid: str, width: int, points: list[tuple[int, int]], source: int = 1,
               touches: Sequence[list[tuple[int, int]]] = ()) -> dict[str, Any]:
    """One sample per move event of ``source``; then one touch-move event per list."""
    events: list[dict[str, Any]] = [
        {"type": 4, "timestamp": T0, "data": {"href": URL, "width": width, "height": 800}},
        {"type": 2, "timestamp": T0 + 1, "data": {}},
    ]
    moves = [(source, [p]) for p in points] + [(6, list(t)) for t in touches]
    for n, (kind, samples) in enumerate(moves):
        events.append({"type": 3, "timestamp": T0 + 100 + n * 100,
                       "data": {"source": kind, "positions": [
                           {"x": x, "y": y, "id": 4, "timeOffset": -50 * i}
                           for i, (x, y) in enumerate(samples)]}})
    return {"session_id": sid, "meta": {},
            "windows": [{"window_id": f"{sid}-w", "url": URL, "events": events}]}


def _fill(store: Store) -> None:
    """Desktop: a 1280 px visitor, 2 samples at the left edge (column 0 of 40, row 0) and one
    half way across (column 20, row 2 = page y 64-95); a 1440 px visitor, 3 samples in column
    20 (x 720 / 1440 = 0.5), row 0, and one in column 0, row 0. Phone: 390 px, 1 sample."""
    ingest_recording(store, "", recording=_recording("m-a", 1280, [(5, 5), (10, 8), (640, 70)]))
    ingest_recording(store, "", recording=_recording("m-b", 1440,
                                                     [(720, 3), (730, 9), (721, 1), (2, 2)]))
    ingest_recording(store, "", recording=_recording("m-c", 390, [(100, 100)]))


def test_moves_sum_per_cell_over_the_bucket_and_draw_on_the_busiest_view(
        empty_store: Store) -> None:
    _fill(empty_store)
    m = move_map(empty_store, ALL, URL)
    assert m.bucket == "desktop" and m.counts == {"phone": 1, "tablet": 0, "desktop": 7}
    assert (m.total, m.views) == (7, 2)
    assert [(c.gx, c.gy, c.count, c.sessions) for c in m.cells] == \
        [(0, 0, 3, 2), (20, 0, 3, 1), (20, 2, 1, 1)]
    assert m.representative is not None
    assert (m.representative.session_id, m.representative.width) == ("m-b", 1440)
    # cells land on the 1440 px layout at their share of the width: column 20 of 40 -> 738
    assert m.centre(m.cells[1]) == (738.0, 16.0)
    assert m.page_height == 96
    phone = move_map(empty_store, ALL, URL, "phone")
    assert [(c.gx, c.gy, c.count) for c in phone.cells] == [(10, 3, 1)]  # 100/390*40, 100//32
    assert move_map(empty_store, ALL, URL, "tablet").total == 0
    assert move_map(empty_store, ALL, "https://shop.example/never").cells == []


def test_export_lists_every_cell_of_every_bucket(empty_store: Store) -> None:
    """The same cells as the map: desktop's three (x at the column's centre, 0.5/40 = 1.25%,
    20.5/40 = 51.25%; y at the row's centre, 16 px and 2.5 x 32 = 80 px), phone's one."""
    from sentiero.analytics import export

    _fill(empty_store)
    rows = list(export.DATASETS["attention"].rows(empty_store, ALL))
    assert sorted(rows) == sorted([
        [URL, "desktop", 1.25, 16.0, 3, 2], [URL, "desktop", 51.25, 16.0, 3, 1],
        [URL, "desktop", 51.25, 80.0, 1, 1], [URL, "phone", 26.25, 112.0, 1, 1]])


def test_touch_moves_put_phone_visitors_on_the_map(empty_store: Store) -> None:
    """A 390 px phone visitor who only touches: one touch move with (195, 40) and (199, 60),
    both column 20 (195/390 x 40 = 20.0, 199/390 x 40 = 20.4) of row 1 (page y 32-63), and one
    with (100, 100): column 10 (10.3), row 3 (96-127); plus m-c's mouse sample in that same
    cell. Phone: 4 samples over 2 page views, the toucher's (3) drawn; cells busiest first,
    then by row: (20, 1) 2 samples of 1 session, (10, 3) 2 of 2. The export has them, x at the
    column's centre (20.5/40 = 51.25 %, 10.5/40 = 26.25 %), y at the row's (48, 112 px)."""
    from sentiero.analytics import export

    ingest_recording(empty_store, "", recording=_recording(
        "t-a", 390, [], touches=[[(195, 40), (199, 60)], [(100, 100)]]))
    ingest_recording(empty_store, "", recording=_recording("m-c", 390, [(100, 100)]))
    m = move_map(empty_store, ALL, URL)
    assert m.bucket == "phone" and m.counts == {"phone": 4, "tablet": 0, "desktop": 0}
    assert (m.total, m.views) == (4, 2)
    assert [(c.gx, c.gy, c.count, c.sessions) for c in m.cells] == [(20, 1, 2, 1),
                                                                      (10, 3, 2, 2)]
    assert m.representative is not None and m.representative.session_id == "t-a"
    rows = list(export.DATASETS["attention"].rows(empty_store, ALL))
    assert rows == [[URL, "phone", 51.25, 48.0, 2, 1], [URL, "phone", 26.25, 112.0, 2, 2]]
