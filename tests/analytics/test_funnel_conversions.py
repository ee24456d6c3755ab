"""Funnels and conversions on every store, over six hand-written shop sessions.

Every session starts at its own minute; step moments are seconds from that start. Steps of the
four-step funnel: page /cart, tag checkout, tag pay, tag done.

| session | what it does | reaches |
|---|---|---|
| f1 | /cart 0, checkout 10, pay 30, then a second window: done 60 | 4 |
| f2 | /cart 0, checkout 10, pay 30 | 3 |
| f3 | /cart 0, checkout 10 | 2 |
| f4 | /cart 0 | 1 |
| f5 | /home 0, checkout 5 (before any cart: does not count), /cart 8 | 1 |
| f6 | /cart 0, checkout 10, pay 30, done at 40 min | 4 (3 within 30 min) |

Reached 6, 4, 3, 2: from the first 100, 66.7, 50, 33.3%; from the previous 100, 66.7, 75,
66.7%. Median from the previous (nearest rank): checkout 10 s, pay 20 s, done: f1 30 s and f6
2,370 s -> the 1st of 2 = 30 s. Stopped at step 1: f4, f5; at 2: f3; at 3: f2. Within 30
minutes f6 stops at pay: 6, 4, 3, 1.

Conversions to `done`: f1 and f6 of 6 (33.3%). Entry pages: /cart 5 (2 conversions, 40%),
/home 1 (0, low volume). f1–f3 arrive with utm_source=news from search.example (f1, f2); the
others direct without UTM: news 3 (f1: 33.3%), (not set) 3 (f6: 33.3%); search.example 2 (f1:
50%), direct 4 (f6: 25%).
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from sentiero.analytics import conversions, funnel
from sentiero.analytics.periods import resolve_period
from sentiero.analytics.query import Scope
from sentiero.settings import Settings
from sentiero.stores.base import Store
from tests.analytics import synthetic as s
from tests.analytics.support import ingest_recording

ALL = resolve_period(None, None, None, default_preset=None)
START = 1_790_000_000_000
SETTINGS = Settings(allow_open_dashboard=True,
                    redaction={"url_mode": "keep_filtered",
                               "url_param_allowlist": ["utm_source"]})
STEPS = [funnel.Step("url", "/cart"), funnel.Step("tag", "checkout"),
         funnel.Step("tag", "pay"), funnel.Step("tag", "done")]
SEC = 1000


def _session(n: int, windows: list[list[dict[str, Any]]], utm: bool, referrer: bool) -> None:
    sid = f"f{n}"
    rec = {"session_id": sid, "meta": {},
           "windows": [{"window_id": f"{sid}-w{i}", "url": "", "events": events}
                       for i, events in enumerate(windows)]}
    entry = windows[0][0]["data"]["href"] + ("?utm_source=news" if utm else "")
    metadata: dict[str, Any] = {"entry_url": entry}
    if referrer:
        metadata["entry_referrer"] = "https://search.example/results"
    ingest_recording(_session.store, "", sid, settings=SETTINGS, recording=rec,
                     metadata=metadata)


def fill_shop(store: Store) -> None:
    _session.store = store  # type: ignore[attr-defined]

    def at(n: int) -> int:
        return START + n * 3_600_000

    def page(n: int, sec: float, path: str) -> list[dict[str, Any]]:
        t = at(n) + int(sec * SEC)
        return [s.meta(t, path), s.snapshot(t + 1)]

    def tag(n: int, sec: float, name: str) -> dict[str, Any]:
        return s.custom(at(n) + int(sec * SEC), name)

    _session(1, [page(1, 0, "/cart") + [tag(1, 10, "checkout"), tag(1, 30, "pay")],
                 page(1, 55, "/cart") + [tag(1, 60, "done")]], True, True)
    _session(2, [page(2, 0, "/cart") + [tag(2, 10, "checkout"), tag(2, 30, "pay")]],
             True, True)
    _session(3, [page(3, 0, "/cart") + [tag(3, 10, "checkout")]], True, False)
    _session(4, [page(4, 0, "/cart") + [tag(4, 2, "other")]], False, False)
    _session(5, [page(5, 0, "/home") + [tag(5, 5, "checkout")] + page(5, 8, "/cart")],
             False, False)
    _session(6, [page(6, 0, "/cart") + [tag(6, 10, "checkout"), tag(6, 30, "pay"),
                                        tag(6, 2400, "done")]], False, False)


@pytest.fixture
def shop(empty_store: Store) -> Store:
    fill_shop(empty_store)
    return empty_store


def test_a_four_step_funnel(shop: Store) -> None:
    result = funnel.funnel(shop, ALL, STEPS)
    got = [(r.sessions, r.from_first_pct, r.from_previous_pct, r.median_ms_from_previous,
            r.drop_offs) for r in result.steps]
    assert got == [(6, 100.0, 100.0, None, 2), (4, 66.7, 66.7, 10_000, 1),
                   (3, 50.0, 75.0, 20_000, 1), (2, 33.3, 66.7, 30_000, 0)]
    assert result.conversion_pct == 33.3 and result.never_seen == []
    stopped = {i: [(m.session_id, m.window_id, m.ts_ms) for m in r.examples]
               for i, r in enumerate(result.steps)}
    assert stopped[0] == [("f4", "f4-w0", START + 4 * 3_600_000),
                          ("f5", "f5-w0", START + 5 * 3_600_000 + 8_000)]
    assert stopped[2] == [("f2", "f2-w0", START + 2 * 3_600_000 + 30_000)]
    within = funnel.funnel(shop, ALL, STEPS, within_ms=30 * 60_000)
    assert [r.sessions for r in within.steps] == [6, 4, 3, 1]


def test_a_step_nothing_matched_is_named(shop: Store) -> None:
    result = funnel.funnel(shop, ALL, [STEPS[0], funnel.Step("tag", "refund")])
    assert [r.sessions for r in result.steps] == [6, 0]
    assert result.never_seen == [funnel.Step("tag", "refund")]


@pytest.mark.parametrize(("pairs", "message"), [
    ([("tag", "a")], "at least 2"),
    ([("tag", f"t{i}") for i in range(50)], "at most 10 steps; this one has 50"),
    ([("tag", "a"), ("tag", "__click")], "Sentiero's own"),
    ([("tag", "a"), ("regex", "b")], "not 'regex'"),
    ([("tag", "a"), ("url", "x" * 201)], "at most 200 characters"),
])
def test_bad_funnels_say_why(pairs: list[tuple[str, str]], message: str) -> None:
    with pytest.raises(funnel.FunnelError, match=message):
        funnel.make_steps(pairs)


def test_conversions_by_entry_referrer_and_utm(shop: Store) -> None:
    result = conversions.conversions(shop, ALL, funnel.Step("tag", "done"))
    assert (result.sessions, result.conversions, result.rate_pct) == (6, 2, 33.3)

    def facet(name: str) -> list[tuple[str, int, int, float | None, bool]]:
        return [(r.value, r.sessions, r.conversions, r.rate_pct, r.low_volume)
                for r in result.facets[name]]

    assert facet("Entry page") == [(s.SITE + "/cart", 5, 2, 40.0, False),
                                   (s.SITE + "/home", 1, 0, 0.0, True)]
    assert facet("UTM source") == [("(not set)", 3, 1, 33.3, True), ("news", 3, 1, 33.3, True)]
    assert facet("Referrer") == [(conversions.DIRECT, 4, 1, 25.0, True),
                                 ("search.example", 2, 1, 50.0, True)]
    cart = result.facets["Entry page"][0]
    assert cart.converting is not None and cart.converting.session_id in ("f1", "f6")
    assert cart.converting.ts_ms is not None
    assert cart.not_converting is not None and cart.not_converting.session_id in (
        "f2", "f3", "f4")
    by_url = conversions.conversions(shop, ALL, funnel.Step("url", "/cart"))
    assert by_url.conversions == 6
    # a glob with a character class (fnmatch's, which SQL LIKE lacks) matches the same
    assert conversions.conversions(shop, ALL, funnel.Step("url", "*/c[a]rt")).conversions == 6
    assert conversions.conversions(shop, ALL, funnel.Step("url", "*/c[o]rt")).conversions == 0


def test_step_events_are_each_sessions_matching_facts(shop: Store) -> None:
    # f5: checkout at 5 s (step 1) before its /cart at 8 s (step 0); f4's "other" tag and
    # f5's /home match nothing; a glob with a class matches as fnmatch says
    found = shop.step_events(Scope(), [funnel.Step("url", "*/c[a]rt"), STEPS[1]])
    assert sorted(found) == ["f1", "f2", "f3", "f4", "f5", "f6"]
    f5 = sorted(found["f5"])
    assert [(ts - START - 5 * 3_600_000, hit) for ts, _, hit in f5] == [
        (5 * SEC, frozenset({1})), (8 * SEC, frozenset({0}))]
    assert {w for _, w, _ in found["f1"]} == {"f1-w0", "f1-w1"}  # /cart again in window 2
    assert shop.step_events(Scope(), [funnel.Step("tag", "never"),
                                      funnel.Step("url", "/nowhere")]) == {}


def test_goal_groups_count_sessions_per_raw_traits_with_the_oldest_as_example(
        shop: Store) -> None:
    # f1-f6 were stored in that order: the oldest of a group is its lowest number; f1 reached
    # done in its second window, 60 s after its start; f4/f5/f6 share their (empty) traits
    # but f5 entered at /home
    groups = shop.goal_groups(Scope(), funnel.Step("tag", "done"))
    seen = sorted(((g.entry_url.rsplit("/", 1)[-1], g.referrer is not None, g.utm_source,
                    g.converted, g.sessions, g.first.session_id) for g in groups),
                  key=lambda row: row[-1])
    assert seen == [("cart?utm_source=news", True, "news", True, 1, "f1"),
                    ("cart?utm_source=news", True, "news", False, 1, "f2"),
                    ("cart?utm_source=news", False, "news", False, 1, "f3"),
                    ("cart", False, None, False, 1, "f4"),
                    ("home", False, None, False, 1, "f5"),
                    ("cart", False, None, True, 1, "f6")]
    first = next(g.first for g in groups if g.first.session_id == "f1")
    assert (first.window_id, first.ts_ms) == ("f1-w1", START + 3_600_000 + 60 * SEC)
    start = next(g.first for g in groups if g.first.session_id == "f2")
    assert (start.window_id, start.ts_ms) == ("f2-w0", None)


def test_saved_funnels_export_their_steps(shop: Store) -> None:
    from datetime import datetime, timezone

    from sentiero.analytics import export
    from sentiero.stores.saved_funnels import SavedFunnel

    if type(shop).__name__ == "DjangoStore":  # keeps no saved funnels: the export is empty
        assert list(export.DATASETS["funnel"].rows(shop, ALL)) == []
        return
    shop.save_funnel(SavedFunnel("0" * 32, "Checkout", tuple((x.kind, x.value) for x in STEPS),
                                 None, datetime.now(timezone.utc)))
    rows = list(export.DATASETS["funnel"].rows(shop, ALL))
    assert [(r[0], r[1], r[4]) for r in rows] == [("Checkout", 1, 6), ("Checkout", 2, 4),
                                                  ("Checkout", 3, 3), ("Checkout", 4, 2)]


def test_conversions_export_has_every_row_of_every_facet(shop: Store) -> None:
    """Goal `done` (see the table above): the totals, then every facet's rows, most sessions
    first; UTM medium and campaign are never set (6 sessions each, not low volume). The
    examples are the oldest converting (f1 or f6) and non-converting session of a row."""
    from sentiero.analytics import export

    dataset = export.DATASETS["conversions"]
    assert dataset.needs_goal
    rows = list(dataset.rows(shop, ALL, goal=funnel.Step("tag", "done")))
    assert [r[:6] for r in rows] == [
        ["all", None, 6, 2, 33.3, False],
        ["entry_page", s.SITE + "/cart", 5, 2, 40.0, False],
        ["entry_page", s.SITE + "/home", 1, 0, 0.0, True],
        ["referrer", conversions.DIRECT, 4, 1, 25.0, True],
        ["referrer", "search.example", 2, 1, 50.0, True],
        ["utm_source", "(not set)", 3, 1, 33.3, True],
        ["utm_source", "news", 3, 1, 33.3, True],
        ["utm_medium", "(not set)", 6, 2, 33.3, False],
        ["utm_campaign", "(not set)", 6, 2, 33.3, False]]
    cart, home = rows[1], rows[2]
    assert cart[6] in ("f1", "f6") and cart[7] in ("f2", "f3", "f4")
    assert (home[6], home[7]) == (None, "f5")
    assert rows[0][6:] == [None, None]

    csv = b"".join(export.csv_lines(dataset, iter(rows))).decode().split("\r\n")
    assert csv[0] == ("facet,value,sessions,conversions,rate_pct,low_volume,"
                      "converting_session_id,not_converting_session_id")
    assert csv[1] == "all,,6,2,33.3,false,,"
    assert csv[3] == f"entry_page,{s.SITE}/home,1,0,0,true,,f5"
    assert csv[4] == "referrer,(direct / none),4,1,25,true," + ",".join(rows[3][6:])
    assert len([line for line in csv if line]) == 10
    data = orjson.loads(b"".join(export.json_chunks(dataset, iter(rows))))
    assert data["headers"][:3] == ["facet", "value", "sessions"]
    assert data["rows"] == [list(r) for r in rows]
    # a URL goal: every session entered or passed /cart
    by_url = list(dataset.rows(shop, ALL, goal=funnel.Step("url", "/cart")))
    assert by_url[0][:5] == ["all", None, 6, 6, 100.0]


def test_funnel_tallies_of_separate_days_add_up_to_the_tally_of_all_sessions() -> None:
    """The SQL day cache tallies each day's sessions apart and merges them: the same counts,
    the same median (gaps 10 s x3 on one day, 20 s and 40 s on the other: the 3rd of 5 is
    10 s) and the first ten drop-offs by session id whichever day they fell on. Two steps:
    events hit step 0 (a /cart page) or step 1 (the checkout tag)."""

    def sessions(prefix: str, gaps: list[int], stopped: int) -> funnel.StepEvents:
        out: funnel.StepEvents = {}
        for i, gap in enumerate(gaps):
            out[f"{prefix}{i}"] = [(0, "w", frozenset({0})), (gap, "w", frozenset({1}))]
        for i in range(stopped):
            out[f"{prefix}x{i:02d}"] = [(5, "w", frozenset({0}))]
        return out

    day1, day2 = sessions("a", [10 * SEC] * 3, 8), sessions("b", [20 * SEC, 40 * SEC], 8)
    merged = funnel.merge_tallies([funnel.tally_sessions(day1, 2, None),
                                   funnel.tally_sessions(day2, 2, None)], 2)
    whole = funnel.tally_sessions({**day1, **day2}, 2, None)
    assert merged == whole
    assert merged.reached == [21, 5] and merged.drop_offs == [16, 0]
    assert funnel.counted_median(merged.gaps[1]) == 10 * SEC
    assert [m.session_id for m in merged.examples[0]] == \
        [f"ax{i:02d}" for i in range(8)] + ["bx00", "bx01"]
