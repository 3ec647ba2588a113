"""Champion vs challenger comparison on real stores of both backends (SQLite, PostgreSQL), each statistic
checked by brute force."""

from __future__ import annotations

import sqlite3
from collections import Counter

import numpy as np
import pytest
from scipy import stats

from app.store.predictions import COLUMNS
from app.store import compare as compare_sql
from app.compare.pairing import compare, default_pair, disagreement_search
from app.config.settings import CompareConfig
from app.store import Store
from app.store.bulk import write_all
from app.store.dialect import SqliteDialect
from tests.support.compare_traffic import MINUTE, T0, Answer, make_traffic, row, seed_store

SPAN = 600 * MINUTE
WINDOW = (T0, T0 + SPAN + MINUTE)


def _percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values, dtype=float), q))


@pytest.fixture
def classified(any_store):
    rows, pairs = make_traffic(3000, seed=3, unpaired_a=400, unpaired_b=150)
    seed_store(any_store, rows)
    return any_store, pairs


def test_every_statistic_matches_brute_force(classified):
    store, pairs = classified
    tol = 0.1
    got = compare(store, "m", "v1", "v2", *WINDOW, config=CompareConfig(score_tolerance=tol))

    assert got.paired == len(pairs) == 3000
    assert got.champion.requests == 3400 and got.challenger.requests == 3150
    assert got.share_paired == pytest.approx(3000 / 3400)

    both_ok = [p for p in pairs if not p.a.error and not p.b.error]
    assert got.agreement_kind == "label"
    assert got.agreement == pytest.approx(sum(p.a.prediction == p.b.prediction for p in both_ok) / len(both_ok))
    diffs = [p.b.score - p.a.score for p in both_ok]
    assert got.mean_diff == pytest.approx(np.mean(diffs))
    assert got.mean_abs_diff == pytest.approx(np.mean(np.abs(diffs)))
    assert got.p95_abs_diff == pytest.approx(_percentile(np.abs(diffs), 95))
    assert got.within_tolerance == pytest.approx(np.mean(np.abs(diffs) <= tol + 1e-12))
    assert got.tolerance == tol

    for side, pick in ((got.champion, lambda p: p.a), (got.challenger, lambda p: p.b)):
        latencies = [pick(p).latency for p in pairs if pick(p).latency is not None]
        assert side.p50_latency_ms == pytest.approx(_percentile(latencies, 50))
        assert side.p95_latency_ms == pytest.approx(_percentile(latencies, 95))
        assert side.errors == sum(pick(p).error for p in pairs)
        assert side.error_rate == pytest.approx(side.errors / len(pairs))
    lat_diff = [p.b.latency - p.a.latency for p in pairs if p.a.latency is not None and p.b.latency is not None]
    assert got.latency_diff_p50_ms == pytest.approx(_percentile(lat_diff, 50))
    assert got.latency_diff_p95_ms == pytest.approx(_percentile(lat_diff, 95))

    labelled = [p for p in both_ok if p.label is not None]
    assert got.labels == len(labelled) > 1000
    for side, pick in ((got.champion, lambda p: p.a), (got.challenger, lambda p: p.b)):
        hits = sum(pick(p).prediction == p.label for p in labelled)
        ci = stats.binomtest(hits, len(labelled)).proportion_ci(method="wilson")
        assert side.quality.value == pytest.approx(hits / len(labelled))
        assert (side.quality.low, side.quality.high) == pytest.approx((ci.low, ci.high), abs=1e-9)

    expected = Counter((p.a.prediction, p.b.prediction) for p in both_ok)
    assert {(c.champion, c.challenger): c.count for c in got.confusion} == dict(expected)


def test_regression_mae_with_interval_and_value_agreement(any_store):
    rows, pairs = make_traffic(2500, seed=5, regression=True)
    seed_store(any_store, rows, task="regression")
    got = compare(any_store, "m", "v1", "v2", *WINDOW, task="regression",
                  config=CompareConfig(score_tolerance=100))
    both_ok = [p for p in pairs if not p.a.error and not p.b.error]
    diffs = np.array([p.b.prediction - p.a.prediction for p in both_ok], dtype=float)
    assert got.agreement_kind == "value" and got.quality_metric == "mae" and got.confusion == []
    assert got.agreement == pytest.approx(np.mean(np.abs(diffs) <= 100))
    assert got.p95_abs_diff == pytest.approx(_percentile(np.abs(diffs), 95))
    labelled = [p for p in both_ok if p.label is not None]
    assert got.labels == len(labelled)
    for side, pick in ((got.champion, lambda p: p.a), (got.challenger, lambda p: p.b)):
        errors = np.abs([pick(p).prediction - p.label for p in labelled])
        half = stats.norm.ppf(0.975) * errors.std(ddof=1) / np.sqrt(len(errors))
        assert side.quality.value == pytest.approx(errors.mean())
        assert (side.quality.low, side.quality.high) == pytest.approx((errors.mean() - half, errors.mean() + half))


def test_unpaired_requests_count_only_in_the_share(any_store):
    rows, pairs = make_traffic(10, seed=2, unpaired_a=30, unpaired_b=5)
    seed_store(any_store, rows)
    got = compare(any_store, "m", "v1", "v2", *WINDOW)
    assert (got.paired, got.champion.requests, got.challenger.requests) == (10, 40, 15)
    assert got.share_paired == pytest.approx(0.25)


def test_schema_5_store_compares_as_before_reading_the_champion_from_an_index(store_path):
    """A store written by schema 4 is migrated to 5 with the same comparison, and the pairing
    join then reads the champion's answers from the covering request_id index, never its table
    row (a third of the join's time at 1,000,000 pairs, bench/compare.py)."""
    rows, _ = make_traffic(400, seed=21, unpaired_a=40, unpaired_b=10)
    with Store(store_path, migrate_to=4) as old:
        # Written as a schema-4 modeldeck wrote it: plain rows (today's writer also keeps the schema-8
        # catalogue, whose columns a schema-4 store does not have yet).
        old.conn.execute("INSERT INTO models (name, task, created_at) VALUES ('m', 'classification', ?)", (T0,))
        old.conn.executemany("INSERT INTO versions (model, version, stage, created_at) VALUES ('m', ?, ?, ?)",
                             [("v1", "champion", T0), ("v2", "challenger", T0 + 1)])
        old.conn.executemany(f"INSERT INTO predictions ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
                             [tuple(row)[:len(COLUMNS)] for row in rows])
        before = compare(old, "m", "v1", "v2", *WINDOW, buckets=6)
    with Store.open(store_path) as upgraded:
        assert upgraded.schema_version() >= 5
        mapped = upgraded.conn.execute("PRAGMA mmap_size").fetchone()[0]
        assert compare(upgraded, "m", "v1", "v2", *WINDOW, buckets=6) == before
        assert upgraded.conn.execute("PRAGMA mmap_size").fetchone()[0] == mapped  # read mapped, then restored
        assert before.paired == 400
        upgraded.conn.execute("DELETE FROM sqlite_stat1")  # Store.open analysed the migrated store
    params = compare_sql.pair_params(SqliteDialect(), "m", "v1", "v2", *WINDOW, "request_id")
    for statistics in (False, True):  # the planner's choice without and with ANALYZE
        conn = sqlite3.connect(store_path)  # a new connection loads the statistics as they are now
        try:
            if statistics:
                conn.execute("ANALYZE")
            plan = [r[3] for r in conn.execute(
                "EXPLAIN QUERY PLAN " + compare_sql.pairs_select(SqliteDialect(), "request_id", regression=False), params)]
        finally:
            conn.close()
        assert len(plan) == 2 and "predictions_model_version_ts" in plan[0], plan
        assert "USING INDEX predictions_request_key (request_id=? AND model=? AND version=?)" in plan[1], plan


def _leaves(value, path=""):
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _leaves(inner, f"{path}.{key}")
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from _leaves(inner, f"{path}[{index}]")
    else:
        yield path, value


def test_windows_beyond_the_stream_limit_give_the_same_comparison_in_sql(classified, monkeypatch):
    """Past STREAM_LIMIT challenger answers the statistics run in SQL over a temp table: the same
    numbers (sums and interpolations may round differently in the last digit)."""
    import app.compare.pairing

    store, _ = classified
    config = CompareConfig(score_tolerance=0.1)
    streamed = compare(store, "m", "v1", "v2", *WINDOW, config=config, buckets=10)
    monkeypatch.setattr(app.compare.pairing, "STREAM_LIMIT", 0)
    in_sql = compare(store, "m", "v1", "v2", *WINDOW, config=config, buckets=10)
    got, expected = dict(_leaves(in_sql.model_dump())), dict(_leaves(streamed.model_dump()))
    assert got.keys() == expected.keys() and len(in_sql.confusion) == 4 and in_sql.labels > 0
    for path, value in expected.items():
        assert got[path] == (pytest.approx(value, rel=1e-12) if isinstance(value, float) else value), path


def test_window_pairs_by_the_challengers_time(classified):
    store, pairs = classified
    half = T0 + SPAN // 2
    got = compare(store, "m", "v1", "v2", T0, half)
    assert got.paired == sum(p.ts < half for p in pairs)
    empty = compare(store, "m", "v1", "v2", T0 - 10 * MINUTE, T0)
    assert empty.paired == 0 and empty.agreement is None and empty.champion.p95_latency_ms is None
    assert empty.share_paired is None and empty.champion.quality is None


def test_reingesting_duplicates_nothing_and_same_request_id_is_kept_per_version(any_store):
    rows, pairs = make_traffic(50, seed=4)
    seed_store(any_store, rows)
    assert any_store.predictions.append(rows) == (0, 100)  # the same log again
    got = compare(any_store, "m", "v1", "v2", *WINDOW)
    # One answer per version of the same request.
    assert (got.paired, got.champion.requests, got.challenger.requests) == (50, 50, 50)


def test_bulk_load_keeps_one_answer_per_version_and_fills_late_labels(store: Store):
    rows, pairs = make_traffic(200, seed=7)
    seed_store(store, [])
    unlabelled = [r._replace(label=None) for r in rows]
    first = write_all(store.conn, [unlabelled], drop_indexes=True)
    again = write_all(store.conn, [rows], drop_indexes=True)  # the same log, now with ground truth
    assert first.accepted == 400 and again.accepted == 0
    assert again.labelled == sum(r.label is not None for r in rows)
    got = compare(store, "m", "v1", "v2", *WINDOW)
    assert got.paired == 200
    assert got.labels == sum(p.label is not None and not p.a.error and not p.b.error for p in pairs)


def test_late_label_on_either_side_is_used_for_both(any_store):
    a = Answer(T0, 1, 0.9, None, 10.0, False)
    b = Answer(T0 + 5, 0, 0.2, None, 11.0, False)
    seed_store(any_store, [row("m", "v1", "x1", a), row("m", "v2", "x1", b)])
    before = compare(any_store, "m", "v1", "v2", *WINDOW)
    assert before.labels == 0 and before.champion.quality is None
    late = Answer(T0, 1, 0.9, 1, 10.0, False)  # ground truth arrives later, on the champion's record
    any_store.predictions.append([row("m", "v1", "x1", late)])
    after = compare(any_store, "m", "v1", "v2", *WINDOW)
    assert after.labels == 1
    assert (after.champion.quality.value, after.challenger.quality.value) == (1.0, 0.0)


def test_context_join_key_pairs_retries_once(any_store):
    rows, pairs = make_traffic(400, seed=6, key="trace_id", unpaired_a=20)
    # A retried challenger request: same trace id logged twice with its own request ids.
    last = next(r for r in reversed(rows) if r.version == "v2")
    retry = last._replace(request_id="retry-1", ts=last.ts + 3, prediction="different")
    seed_store(any_store, rows + [retry])
    config = CompareConfig(join_key="context.trace_id")
    got = compare(any_store, "m", "v1", "v2", *WINDOW, config=config)
    assert got.paired == 400 and got.join_key == "context.trace_id"
    both_ok = [p for p in pairs if not p.a.error and not p.b.error]
    assert got.agreement == pytest.approx(sum(p.a.prediction == p.b.prediction for p in both_ok) / len(both_ok))
    by_id = compare(any_store, "m", "v1", "v2", *WINDOW)
    assert by_id.paired == 0  # the challenger logged its own request ids: nothing shares one


def test_shadow_of_key_falls_back_to_the_champions_request_id(any_store):
    a = Answer(T0, "x", 0.7, None, 10.0, False)
    b = Answer(T0 + 4, "y", 0.4, None, 12.0, False)
    seed_store(any_store, [row("m", "v1", "live-1", a), row("m", "v2", "shadow-1", b, context={"shadow_of": "live-1"})])
    got = compare(any_store, "m", "v1", "v2", *WINDOW, config=CompareConfig(join_key="context.shadow_of"))
    assert got.paired == 1 and got.agreement == 0.0
    assert got.latency_diff_p50_ms == pytest.approx(2.0)


def test_timeline_buckets_match_brute_force(classified):
    store, pairs = classified
    got = compare(store, "m", "v1", "v2", T0, T0 + SPAN, buckets=10)
    assert len(got.timeline) == 10
    size = SPAN // 10
    for index, bucket in enumerate(got.timeline):
        inside = [p for p in pairs if (p.ts - T0) // size == index]
        ok = [p for p in inside if not p.a.error and not p.b.error]
        assert bucket.start == T0 + index * size and bucket.paired == len(inside)
        assert bucket.agreement == pytest.approx(sum(p.a.prediction == p.b.prediction for p in ok) / len(ok))
        assert bucket.mean_abs_diff == pytest.approx(np.mean([abs(p.b.score - p.a.score) for p in ok]))


def test_exact_percentiles_with_ties_and_through_the_sorting_fallback(any_store):
    rng = np.random.default_rng(9)
    # Heavily tied latencies (whole milliseconds) and a misleading sample both give exact answers.
    values = rng.integers(1, 40, 5000).astype(float)
    rows = [row("m", "v1", f"q{i}", Answer(T0 + i, 1, 0.5, None, float(v), False)) for i, v in enumerate(values)]
    rows += [row("m", "v2", f"q{i}", Answer(T0 + i + 1, 1, 0.5, None, 1.0, False)) for i in range(5000)]
    seed_store(any_store, rows)
    got = compare(any_store, "m", "v1", "v2", *WINDOW)
    assert got.champion.p50_latency_ms == _percentile(values, 50)
    assert got.champion.p95_latency_ms == _percentile(values, 95)
    with compare_sql.reading(any_store) as reader:
        params = compare_sql.pair_params(reader.dialect, "m", "v1", "v2", *WINDOW, "request_id")
        with compare_sql.pairs_table(reader, "request_id", params, regression=False):
            wrong = [compare_sql.Band("lat_a", 95, 0.0, 2.0)]  # a band far from the 95th percentile
            extra, band_params = compare_sql.band_counts(reader.dialect, wrong)
            row_ = reader.execute(f"SELECT {', '.join(extra)} FROM {reader.dialect.temp_table(compare_sql.PAIRS)}",
                                  band_params).fetchone()
            result = compare_sql.resolve_bands(reader, wrong, list(row_), {"lat_a": 5000}, band_params)
            assert result[("lat_a", 95)] == _percentile(values, 95)
            for q in (0, 1, 37.5, 50, 99, 100):
                assert compare_sql.percentile(reader, "lat_a", q, 5000) == _percentile(values, q)


def test_default_pair_and_disagreement_query_lists_exactly_the_disagreements(classified):
    from app.search.searcher import Searcher

    store, pairs = classified
    assert default_pair(store, "m") == ("v1", "v2")
    got = compare(store, "m", "v1", "v2", *WINDOW)
    query = got.disagreement_query()
    assert "differs:v1" in query and "version:v2" in query
    searcher = Searcher(store)
    rows = list(searcher.iter_rows(searcher.parse(query)))
    expected = {p.b.ts for p in pairs if not p.a.error and not p.b.error and p.a.prediction != p.b.prediction}
    assert {r["ts"] for r in rows} == expected and len(rows) == len(expected) > 0
    agreeing = list(searcher.iter_rows(searcher.parse(query.replace("differs:", "-differs:") + " status:ok")))
    ok_answers = list(searcher.iter_rows(searcher.parse("model:m version:v2 status:ok")))
    assert len(agreeing) + len(rows) == len(ok_answers)  # -differs: keeps the unpaired ones too


def test_disagreement_query_follows_a_context_key(any_store):
    from app.search.searcher import Searcher

    rows = [row("m", "v1", "live-1", Answer(T0, "x", 0.7, None, 10.0, False)),
            row("m", "v1", "live-2", Answer(T0 + 1, "x", 0.7, None, 10.0, False)),
            row("m", "v2", "shadow-1", Answer(T0 + 5, "y", 0.4, None, 12.0, False), context={"shadow_of": "live-1"}),
            row("m", "v2", "shadow-2", Answer(T0 + 6, "x", 0.4, None, 12.0, False), context={"shadow_of": "live-2"})]
    seed_store(any_store, rows)
    query = disagreement_search("m", "v1", "v2", *WINDOW, join_key="context.shadow_of")
    assert "differs:v1@shadow_of" in query
    searcher = Searcher(any_store)
    assert [r["request_id"] for r in searcher.iter_rows(searcher.parse(query))] == ["shadow-1"]


@pytest.mark.parametrize("classes", [("spam", "ham", "promo"), ("a", "b", "c", "d", "e")])
def test_confusion_matrix_small_and_large_class_sets(any_store, classes):
    rows, pairs = make_traffic(1500, seed=13, classes=classes)
    seed_store(any_store, rows)
    got = compare(any_store, "m", "v1", "v2", *WINDOW)
    ok = [p for p in pairs if not p.a.error and not p.b.error]
    assert {(c.champion, c.challenger): c.count for c in got.confusion} == \
        dict(Counter((p.a.prediction, p.b.prediction) for p in ok))
    assert [c.count for c in got.confusion] == sorted((c.count for c in got.confusion), reverse=True)


def test_differs_term_parses_and_points_at_mistakes():
    from app.search.language import PairTerm, SearchError, parse

    assert parse("differs:v2.3.1").terms == (PairTerm("v2.3.1"),)
    assert parse('-differs:"v 1@shadow_of"').terms == (PairTerm("v 1", "shadow_of", negated=True),)
    for bad in ("differs:v1@", "differs:@key", "differs>=v1"):
        with pytest.raises(SearchError) as caught:
            parse(f"model:m {bad}")
        assert caught.value.column == 9 and "differs:VERSION" in caught.value.message


def test_reading_the_challenger_along_the_table_or_through_its_index_gives_the_same_comparison(any_store,
                                                                                                monkeypatch):
    """Pairing reads a window's challenger answers along the table when they lie close together and
    through the (model, version, ts) index when another model's traffic lies in between: same numbers."""
    rows, pairs = make_traffic(800, seed=5, unpaired_a=50, unpaired_b=30)
    seed_store(any_store, rows)
    config = CompareConfig(score_tolerance=0.1)
    half = (T0, T0 + SPAN // 2)  # rows on both sides of the window lie inside its id stretch too
    along = compare(any_store, "m", "v1", "v2", *half, config=config, buckets=6)
    with compare_sql.reading(any_store) as reader:
        assert compare_sql.along_ids_pays(compare_sql.window_counts(reader, "m", "v1", "v2", *half))
    monkeypatch.setattr(compare_sql, "ALONG_IDS_ROWS_PER_PAIR", 0)
    indexed = compare(any_store, "m", "v1", "v2", *half, config=config, buckets=6)
    assert along.model_dump() == indexed.model_dump()
    assert along.paired == sum(p.ts < half[1] for p in pairs)
    monkeypatch.undo()
    # Another model answering far more often in the same hours: its rows fill the stretch, the index is read.
    other, _ = make_traffic(4000, seed=6)
    any_store.predictions.append([r._replace(model="busy") for r in other])
    more = make_traffic(200, seed=7)[0]
    any_store.predictions.append([r._replace(request_id=f"late-{r.request_id}") for r in more])
    with compare_sql.reading(any_store) as reader:
        assert not compare_sql.along_ids_pays(compare_sql.window_counts(reader, "m", "v1", "v2", *WINDOW))
    mixed = compare(any_store, "m", "v1", "v2", *WINDOW, config=config, buckets=6)
    monkeypatch.setattr(compare_sql, "ALONG_IDS_ROWS_PER_PAIR", 10_000)
    forced = dict(_leaves(compare(any_store, "m", "v1", "v2", *WINDOW, config=config, buckets=6).model_dump()))
    expected = dict(_leaves(mixed.model_dump()))
    assert forced.keys() == expected.keys() and mixed.paired == 1000
    for path, value in expected.items():  # pairs in another order: a sum may differ in its last digit
        assert forced[path] == (pytest.approx(value, rel=1e-12) if isinstance(value, float) else value), path


def test_a_long_window_read_in_two_processes_gives_the_same_comparison(classified, monkeypatch):
    """A SQLite store's long pairing read is split: a helper process reads the upper half of the challenger's
    ids while this one reads the lower. Every number equals the one-process read's, to the last digit, and a
    helper that fails only costs time (its half is read here). A server store is always read in one process."""
    import subprocess
    import sys

    store, pairs = classified
    config = CompareConfig(score_tolerance=0.1)
    monkeypatch.setattr(compare_sql, "SPLIT_MIN_PAIRS", sys.maxsize)
    single = compare(store, "m", "v1", "v2", *WINDOW, config=config, buckets=10).model_dump()

    helpers: list[subprocess.Popen] = []
    start_half = compare_sql._start_half

    def recorded(*args):
        helper = start_half(*args)
        helpers.append(helper)
        return helper

    monkeypatch.setattr(compare_sql, "SPLIT_MIN_PAIRS", 1)
    monkeypatch.setattr(compare_sql, "_start_half", recorded)
    split = compare(store, "m", "v1", "v2", *WINDOW, config=config, buckets=10).model_dump()
    assert split == single and split["paired"] == len(pairs)
    if store.kind == "sqlite":
        assert len(helpers) == 1 and helpers[0].returncode == 0
    else:
        assert not helpers

    def failing(*args):
        return subprocess.Popen([sys.executable, "-c", "import sys; sys.exit(3)"], stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE)

    monkeypatch.setattr(compare_sql, "_start_half", failing)
    assert compare(store, "m", "v1", "v2", *WINDOW, config=config, buckets=10).model_dump() == single
