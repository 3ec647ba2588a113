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
from app.store.retention import delete_before
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
    # Pruning alone: the zone-counted histogram and the overview's time budget have tests of their own.
    searcher._search.count_from_zones = False
    searcher._search.overview_budget_s = None
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


HOUR = 3_600_000
COUNTED = st.tuples(
    st.lists(st.one_of(st.sampled_from(MODELS).map(lambda m: f"model:{m}"), st.just("(model:fraud OR model:eta)")),
             max_size=1),
    st.lists(st.sampled_from(["status:error", "status:ok"]), max_size=1),
    st.lists(st.tuples(st.sampled_from(["since", "until"]), TIMES).map(lambda t: f"{t[0]}:{t[1]}"), max_size=2),
).map(lambda t: " ".join(t[0] + t[1] + t[2]))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=COUNTED, start=st.integers(-2 * HOUR, SPAN_MS), length=st.integers(1, SPAN_MS + 4 * HOUR),
       buckets=st.integers(1, 120))
def test_a_histogram_from_the_zone_map_equals_counting_the_rows(loaded, text: str, start: int, length: int,
                                                                  buckets: int) -> None:
    """model/status/time queries are counted from the zone blocks (whole hours) and the rows (cut hours):
    every bucket holds exactly the matching rows a brute-force count finds in it."""
    store, records, ids = loaded
    searcher = Searcher(store)
    query = parse(text, now=NOW)
    begin = BASE_MS + start
    histogram = searcher.histogram(query, begin, begin + length, buckets=buckets, cap=0)  # cap 0: never the rows
    assert not histogram.capped, text
    # Whole-hour bars from the zone map unless the window holds no row at all (then the rows, in finer bars).
    assert (histogram.width % HOUR == 0 and histogram.start % HOUR == 0) or not any(histogram.counts), text
    assert len(histogram.counts) <= buckets and histogram.start + len(histogram.counts) * histogram.width >= begin + length
    hits = set(brute_force(records, ids, query))
    matching = [r["ts"] for r, i in zip(records, ids) if i in hits]
    expected = [sum(1 for ts in matching if begin <= ts < begin + length
                    and histogram.start + k * histogram.width <= ts < histogram.start + (k + 1) * histogram.width)
                for k in range(len(histogram.counts))]
    assert histogram.counts == expected, text


def test_the_zone_counted_histogram_stays_exact_after_retention_cut_an_hour(tmp_path: Path) -> None:
    """prune deletes rows older than a cutoff inside an hour; that hour's block still counts them, so the
    histogram counts the oldest stored hour from the rows."""
    records = random_records(800, seed=5)
    path = tmp_path / "store.db"
    with Store.open(path) as store:
        write_all(store.conn, [[to_row(r) for r in records]], drop_indexes=True)
        cutoff = BASE_MS + 2 * 86_400_000 + HOUR // 2
        with store.write():
            delete_before(store, cutoff)
        kept = [r for r in records if r["ts"] >= cutoff]
        assert store.conn.execute("SELECT count(*) FROM predictions").fetchone()[0] == len(kept)
        searcher = Searcher(store)
        histogram = searcher.histogram(parse("", now=NOW), BASE_MS, NOW, buckets=10, cap=0)
        assert sum(histogram.counts) == len(kept)
        assert histogram.counts[0] == sum(1 for r in kept if r["ts"] < histogram.start + histogram.width)


def test_the_overview_read_of_rows_stops_on_its_budget_and_says_at_least(loaded) -> None:
    """A query the zone map cannot count reads rows newest first; out of time (the progress handler stops
    the statement), the older buckets and the facets are "at least"; with time, exact."""
    store, _, _ = loaded
    searcher = Searcher(store)
    searcher._search.overview_budget_s = 0.0  # out of time at once
    query = parse("alpha", now=NOW)
    histogram = searcher.histogram(query, BASE_MS, NOW, buckets=24, cap=100_000)
    assert histogram.capped and histogram.complete_from > BASE_MS
    assert all(f.capped for f in searcher.facets(query, ["status", "version"], cap=100_000))
    searcher._search.overview_budget_s = None
    assert not searcher.histogram(query, BASE_MS, NOW, buckets=24, cap=100_000).capped
    assert not any(f.capped for f in searcher.facets(query, ["status", "version"], cap=100_000))


def test_a_budgeted_read_stops_mid_statement_and_keeps_what_it_read(loaded) -> None:
    """The budget stops one long statement through the progress handler (not only between statements)."""
    import time

    store, _, _ = loaded
    search = Searcher(store)._search
    endless = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 100000000) SELECT x FROM c"
    started = time.perf_counter()
    search.overview_budget_s = 0.05
    rows, stopped = search.read_within_budget(endless, (), search.budget_deadline())
    assert stopped and 0 < len(rows) < 100_000_000 and time.perf_counter() - started < 5
    search.overview_budget_s = 5.0
    assert search.read_within_budget("SELECT 1", (), search.budget_deadline()) == ([(1,)], False)
