"""The engagement facts of the ingest walk: idle pauses and scroll reversals, carried across
batches through the window state like every other fact."""

from __future__ import annotations

import json

from sentiero.ingest.facts import FactState, derive_facts

META = {"type": 4, "timestamp": 1000, "data": {"href": "https://x.test/", "width": 800,
                                               "height": 600}}


def scroll(ts: int, y: int) -> dict:
    return {"type": 3, "timestamp": ts, "data": {"source": 3, "id": 1, "x": 0, "y": y}}


def move(ts: int) -> dict:
    return {"type": 3, "timestamp": ts, "data": {"source": 1, "positions": []}}


def by_kind(facts: list, kind: str) -> list[tuple[int, float | None]]:
    return [(f.ts_ms, f.value) for f in facts if f.kind == kind]


def test_pauses_over_ten_seconds_are_idle_across_batches() -> None:
    state = FactState()
    # 1000 -> 5000 (4 s, active), 5000 -> 17000 (12 s idle), then the next batch
    first = derive_facts("s", "w", [META, move(5000), move(17000)], state=state)
    assert by_kind(first, "idle") == [(5000, 12000.0)]
    restored = FactState.from_dict(json.loads(json.dumps(state.to_dict())))
    # 17000 -> 27001 is a pause of 10,001 ms across the batch boundary: idle; 10 s exactly
    # (27001 -> 37001) is not
    second = derive_facts("s", "w", [move(27001), move(37001)], state=restored)
    assert by_kind(second, "idle") == [(17000, 10001.0)]


def test_scroll_reversals_over_100px_within_a_second() -> None:
    state = FactState()
    events = [META, scroll(1100, 0), scroll(1200, 400),  # down 400
              scroll(1300, 200),  # up 200 within 100 ms: a reversal
              scroll(1400, 150),  # up 50: same direction
              scroll(1500, 600),  # down 450 after an up of 50: the up was too small
              scroll(3000, 300)]  # up 300, but 1.5 s later: not thrashing
    facts = derive_facts("s", "w", events, state=state)
    assert by_kind(facts, "scroll_reversal") == [(1300, 1.0)]
    restored = FactState.from_dict(json.loads(json.dumps(state.to_dict())))
    later = derive_facts("s", "w", [scroll(3500, 800)], state=restored)  # down 500 in 0.5 s
    assert by_kind(later, "scroll_reversal") == [(3500, 1.0)]
