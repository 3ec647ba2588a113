"""A read that must scan tells how it is going and stops at once when the operator asks (issue 18)."""

from __future__ import annotations

from pathlib import Path

import pytest

import app.store.search as store_search
from app.search.searcher import Count, Searcher, count_text, parse
from app.store import Store, StoreInterrupted
from app.store.bulk import write_all
from app.store.search import ensure_feature_indexes
from tests.support.search_records import BASE_MS, SPAN_MS, random_records, to_row

NOW = BASE_MS + SPAN_MS


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory):
    path: Path = tmp_path_factory.mktemp("progress") / "store.db"
    with Store.open(path) as s:
        ensure_feature_indexes(s, ["amount", "a.b"])  # [search] indexed_features: summarised per block
        write_all(s.conn, [[to_row(r) for r in random_records(3000, seed=9)]], drop_indexes=True)
    s = Store.open(path)
    yield s
    s.close()


def test_a_scan_reports_progress_and_ctrl_c_stops_it_at_once(store: Store, monkeypatch) -> None:
    monkeypatch.setattr(store_search, "PROGRESS_AFTER_S", 0.0)
    monkeypatch.setattr(store_search, "PROGRESS_STEPS", 200)  # a small store: tick often
    searcher = Searcher(store)
    seen = []

    def on_progress(p) -> None:
        seen.append(p)
        raise KeyboardInterrupt  # what ctrl-c raises inside the handler

    searcher.watch(on_progress)
    # Nothing in the zone map can judge a context value: the whole log is read.
    with pytest.raises(StoreInterrupted):
        searcher.page(parse("context.region=nowhere", now=NOW))
    assert len(seen) == 1 and seen[0].rows_read is None  # one statement: time, no rows
    searcher.watch(None)
    assert searcher.page(parse("context.region=nowhere", now=NOW)).rows == []  # usable again


def test_a_zone_walk_says_how_far_back_it_has_read(store: Store, monkeypatch) -> None:
    monkeypatch.setattr(store_search, "PROGRESS_AFTER_S", 0.0)
    monkeypatch.setattr(store_search, "PROGRESS_STEPS", 200)  # a small store: tick often
    searcher = Searcher(store)
    searcher._search.zone_share = 1.0
    seen = []
    searcher.watch(seen.append)
    query = parse("latency_ms>1 context.region=nowhere", now=NOW)  # many blocks kept, no row matches
    assert searcher.page(query).rows == []
    walked = [p for p in seen if p.back_to is not None]
    assert walked, "no progress reported during the walk"
    assert walked[-1].rows_in_scope == 3000 and 0 <= walked[-1].rows_read <= 3000
    assert [p.back_to for p in walked] == sorted((p.back_to for p in walked), reverse=True)  # newest first


@pytest.mark.parametrize("text", ["version:v99", "model:payments", "model:fraud version:v99", "entity:never-seen"])
def test_names_that_name_nothing_read_no_rows(store: Store, monkeypatch, text: str) -> None:
    """Answered from the catalogue (names) or an index seek (ids): SQLite runs fewer than 200 steps,
    where reading the 3,000 rows takes thousands."""
    monkeypatch.setattr(store_search, "PROGRESS_AFTER_S", 0.0)
    monkeypatch.setattr(store_search, "PROGRESS_STEPS", 200)
    searcher = Searcher(store)
    ticks = []
    searcher.watch(ticks.append)
    query = searcher.resolve(parse(text, now=NOW)).query
    assert searcher.page(query).rows == [] and searcher.count(query).value == 0
    assert ticks == [], text
    searcher._search.use_zones = False
    searcher.page(parse("context.region=nowhere", now=NOW))  # the same handler does tick on a scan
    assert ticks


@pytest.mark.parametrize("text", ["features.amount>99999999", "score>5", "latency_ms>99999 status:error",
                                  "model:fraud features.a.b<-1"])
def test_numbers_nothing_reaches_read_no_block(store: Store, text: str) -> None:
    """The zone map says no block can hold a match: the answer comes without reading a row."""
    searcher = Searcher(store)
    query = parse(text, now=NOW)
    plan = searcher._search.zone_plan(query)
    assert plan is not None and plan.slices == [] and plan.candidate_rows == 0
    assert searcher.page(query).rows == [] and searcher.count(query).value == 0


def test_a_count_that_must_read_rows_is_bounded_by_work_and_says_so(store: Store) -> None:
    searcher = Searcher(store)
    query = parse("context.region=us-east", now=NOW)  # about half the rows, over ten days
    full = searcher.count(query, cap=100_000, budget_s=None)
    assert full.scanned_ms is None and not full.capped and full.value > 1000
    bounded = searcher.count(query, cap=100_000, budget_s=0.0)  # out of time after the newest day
    assert bounded.scanned_ms == 86_400_000 and 0 < bounded.value < full.value
    assert count_text(1, 50, bounded) == f"1-50 of at least {bounded.value:,} in the last 1d scanned"
    # The cap still wins when it is reached first; an id seek is never cut short.
    assert searcher.count(query, cap=10, budget_s=0.0) == Count(10, True, None)
    assert searcher.count(parse("entity:cust-3", now=NOW), budget_s=0.0).scanned_ms is None
