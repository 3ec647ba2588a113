"""Zone maps (issue 18): search that skips blocks answers exactly what a full read answers, on real stores
written every way ingest writes (bulk, incremental, one by one) and on a store migrated from the schema
before zone maps; a writer that skips the upkeep turns pruning off instead of hiding rows."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.search.searcher import Searcher, parse
from app.store import SCHEMA_VERSION, Store
from app.store.bulk import write_all
from app.store.search import ensure_feature_indexes
from app.timeutil import ms_to_iso
from tests.support.search_records import BASE_MS, MODELS, SPAN_MS, brute_force, random_records, to_row

N_RECORDS = 1500
NOW = BASE_MS + SPAN_MS


def _rare(records: list[dict]) -> list[dict]:
    """A few records with values far outside the rest, so rare predicates have a handful of answers."""
    for i in range(0, len(records), 307):
        records[i]["score"] = 0.9999
        records[i]["latency_ms"] = 9000.0
        if records[i].get("features"):
            records[i]["features"]["amount"] = 250_000
    return records


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory):
    """Rows written in the three ways predictions reach a store: a bulk load, incremental batches, and
    PredictionsTable.append one transaction at a time."""
    path: Path = tmp_path_factory.mktemp("zones") / "store.db"
    records = _rare(random_records(N_RECORDS, seed=11))
    rows = [to_row(r) for r in records]
    with Store.open(path) as store:
        ensure_feature_indexes(store, ["amount", "zip"])  # summarised by ingest from the first row
        write_all(store.conn, [rows[:900]], drop_indexes=True)
        write_all(store.conn, [rows[900:1200], rows[1200:1400]])
        store.predictions.append(rows[1400:])
        ensure_feature_indexes(store, ["a.b", "flag"])  # summarised later: backfilled from the rows
        ids = [r[0] for r in store.conn.execute("SELECT id FROM predictions ORDER BY id")]
    store = Store.open(path)
    yield store, records, ids
    store.close()


TIMES = st.integers(0, SPAN_MS).map(lambda offset: ms_to_iso(BASE_MS + offset))
NUMERIC_OPS = st.sampled_from([">", ">=", "<", "<=", "=", ":"])
PRUNABLE = st.one_of(
    st.tuples(st.sampled_from(["score", "latency_ms"]), NUMERIC_OPS,
              st.sampled_from(["0.9999", "0.99", "0.01", "0", "1", "450", "9000", "2", "0.5"])).map("".join),
    st.tuples(st.sampled_from(["features.amount", "features.zip", "features.a.b", "features.flag",
                               "features.missing", "features.country"]), st.sampled_from([">", ">=", "<", "<="]),
              st.sampled_from(["100000", "1999", "0", "1", "5", "99", "1234", "-1", "0.5"])).map("".join),
    st.sampled_from(["status:error", "status:ok"]),
)
SCOPE = st.one_of(
    st.sampled_from(MODELS).map(lambda m: f"model:{m}"),
    st.just("(model:fraud OR model:eta)"),
    st.tuples(st.sampled_from(["since", "until"]), TIMES).map(lambda t: f"{t[0]}:{t[1]}"),
    st.sampled_from(["version:v2", "-status:error", "alpha", "-features.amount>1000", "features.country=DE",
                     "label:1", "entity:cust-3"]),
)
QUERIES = st.tuples(st.lists(PRUNABLE, min_size=1, max_size=2), st.lists(SCOPE, max_size=2)).map(
    lambda t: " ".join(t[0] + t[1]))


def _all(searcher: Searcher, text: str, *, zones: bool) -> tuple[list[int], int, bool]:
    searcher._search.use_zones = zones
    searcher._search.zone_share = 1.0  # prune whenever a term allows it, however many blocks are kept
    query = parse(text, now=NOW)
    ids = [row["id"] for row in searcher.iter_rows(query, page_size=7)]
    count = searcher.count(query, cap=40)
    return ids, count.value, count.capped


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=QUERIES)
def test_pruned_results_equal_full_reads_and_brute_force(loaded, text: str) -> None:
    store, records, ids = loaded
    searcher = Searcher(store)
    pruned = _all(searcher, text, zones=True)
    full = _all(searcher, text, zones=False)
    assert pruned == full, text
    assert pruned[0] == brute_force(records, ids, parse(text, now=NOW)), text


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=QUERIES)
def test_pages_back_and_the_overview_agree_with_a_full_read(loaded, text: str) -> None:
    store, _, _ = loaded
    searcher = Searcher(store)
    answers = []
    for zones in (True, False):
        searcher._search.use_zones = zones
        searcher._search.zone_share = 1.0
        query = parse(text, now=NOW)
        first = searcher.page(query, limit=5)
        older = searcher.page(query, after=first.last, limit=5) if first.rows else None
        back = searcher.page(query, before=older.first, limit=5) if older and older.rows else None
        histogram = searcher.histogram(query, BASE_MS, NOW, buckets=24, cap=30)
        facets = searcher.facets(query, ["status", "version", "features.country"], cap=30)
        answers.append(([r["id"] for r in first.rows], older and [r["id"] for r in older.rows],
                        back and [r["id"] for r in back.rows], histogram, facets))
    assert answers[0] == answers[1], text


def test_a_rare_value_reads_only_the_blocks_that_may_hold_it(loaded) -> None:
    store, records, _ = loaded
    searcher = Searcher(store)
    plan = searcher._search.zone_plan(parse("features.amount>200000", now=NOW))
    assert plan is not None and plan.scope_rows == len(records)
    # A handful of blocks of ~1,500 rows: the rows read, not the store's size, bound the work.
    assert 0 < plan.candidate_rows < len(records) // 10
    assert searcher._search.zone_plan(parse("features.amount>99999999", now=NOW)).slices == []  # type: ignore[union-attr]


def test_a_store_from_before_zone_maps_is_summarised_by_its_migration(tmp_path: Path) -> None:
    rows = [to_row(r) for r in _rare(random_records(600, seed=3))]
    old, fresh = tmp_path / "old.db", tmp_path / "fresh.db"
    with Store(old, migrate_to=SCHEMA_VERSION - 1) as store:
        write_all(store.conn, [rows[:400]], drop_indexes=True)
        write_all(store.conn, [rows[400:]])
    with Store.open(fresh) as store:
        write_all(store.conn, [rows[:400]], drop_indexes=True)
        write_all(store.conn, [rows[400:]])
    summaries = []
    for path in (old, fresh):
        with Store.open(path) as store:
            summaries.append([sorted(store.conn.execute(f"SELECT * FROM {table}").fetchall(), key=repr)
                              for table in ("zone_blocks", "zone_features", "zone_state")])
    assert summaries[0] == summaries[1]
    assert summaries[0][2] == [(600,)]


def test_a_feature_summarised_late_is_backfilled_as_ingest_would_keep_it(tmp_path: Path) -> None:
    rows = [to_row(r) for r in _rare(random_records(500, seed=6))]
    early, late = tmp_path / "early.db", tmp_path / "late.db"
    with Store.open(early) as store:
        ensure_feature_indexes(store, ["amount", "flag"])
        write_all(store.conn, [rows[:300]], drop_indexes=True)
        write_all(store.conn, [rows[300:]])
    with Store.open(late) as store:
        write_all(store.conn, [rows[:300]], drop_indexes=True)
        write_all(store.conn, [rows[300:]])
        assert Searcher(store)._search.zone_plan(parse("features.amount>200000", now=NOW)) is None  # not yet
        ensure_feature_indexes(store, ["flag", "amount"])
    summaries = []
    for path in (early, late):
        with Store.open(path) as store:
            summaries.append(sorted(store.conn.execute("SELECT * FROM zone_features").fetchall(), key=repr))
            assert Searcher(store)._search.zone_plan(parse("features.amount>200000", now=NOW)) is not None
    assert summaries[0] == summaries[1] and summaries[0]


def test_rows_written_without_the_upkeep_turn_pruning_off_rather_than_hide(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    rows = [to_row(r) for r in random_records(200, seed=4)]
    with Store.open(path) as store:
        write_all(store.conn, [rows])
        # A writer that does not keep the summaries (an older tool, a hand INSERT): a huge score.
        store.conn.execute("INSERT INTO predictions (ts, model, version, request_id, score) VALUES (?, ?, ?, ?, ?)",
                           (BASE_MS, "fraud", "v1", "by-hand", 0.99999))
        store.conn.commit()
        searcher = Searcher(store)
        searcher._search.zone_share = 1.0
        query = parse("score>0.9999", now=NOW)
        assert searcher._search.zone_plan(query) is None
        assert [r["request_id"] for r in searcher.page(query).rows] == ["by-hand"]
