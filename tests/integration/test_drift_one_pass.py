"""Drift windows on a real SQLite store: computed from one ordered pass over the rows (equal to the
per-window queries), and a pass with nothing new reading no prediction rows (the high-water mark)."""

from __future__ import annotations

import functools
import math
from pathlib import Path

import numpy as np
import orjson
import pytest

from app.drift.baselines import compute_baseline
from app.drift.windows import (HOUR_MS, SETTLE_MS, compute_window, pending_windows, reference_samples,
                               stored_points, update)
from app.store import Store
from app.store.predictions import PredictionRow
from tests.integration.test_drift_windows import DAY0, put_baseline, traffic

ODD = 'say "hi"\\now'  # a feature name no JSON path can name: read from the whole features text


@pytest.fixture
def rng():
    return np.random.default_rng(11)


def _odd_rows(model: str, version: str, hour: int, rng: np.random.Generator, n: int, prefix: str) -> list:
    """Rows whose features exercise every way a value is read: numbers, numbers as text, booleans,
    nulls, missing keys, objects, a categorical number, and the odd key; predictions are class labels."""
    rows = []
    for i in range(n):
        amount: object = float(rng.normal(100, 10))
        if i % 17 == 0:
            amount = str(round(float(amount), 2))  # a number logged as text still counts as a number
        elif i % 23 == 0:
            amount = None
        elif i % 29 == 0:
            amount = True
        elif i % 31 == 0:
            amount = {"nested": 1}  # not a number: missing
        features = {"amount": amount, "colour": str(rng.choice(["red", "green", "blue"])),
                    "tier": int(rng.integers(1, 4)) if i % 5 else 2.0, "flag": bool(i % 3),
                    ODD: float(rng.normal(0, 1))}
        if i % 13 == 0:
            del features["colour"]
        label = ["approve", "review", "deny"][int(rng.integers(0, 3))]
        rows.append(PredictionRow(ts=DAY0 + hour * HOUR_MS + i * (HOUR_MS // (n + 1)), model=model, version=version,
                                  request_id=f"{prefix}-{hour}-{i}", entity_id=None,
                                  prediction=orjson.dumps(label).decode(), score=None, label=None, latency_ms=5.0,
                                  status="ok", error=None, features=orjson.dumps(features).decode(), context=None,
                                  fts_text=""))
    return rows


def _odd_baselines(store: Store, model: str, version: str, rng: np.random.Generator) -> None:
    n = 1500
    columns = {
        "amount": rng.normal(102, 10, n), "colour": rng.choice(["red", "green", "blue"], n).tolist(),
        "tier": rng.choice(["1", "2", "3", "2.0"], n).tolist(), "flag": rng.choice(["true", "false"], n).tolist(),
        ODD: rng.normal(0.2, 1, n), "__prediction__": rng.choice(["approve", "review", "deny"], n).tolist(),
    }
    for feature, values in columns.items():
        store.baselines.put(compute_baseline(values, model=model, version=version, feature=feature))


def _key(points) -> dict:
    return {(p.window_start, p.feature): p for p in points}


@pytest.mark.parametrize("batch_rows", [20_000, 137])
def test_one_pass_gives_the_values_of_one_query_per_window(store, rng, monkeypatch, batch_rows):
    """Every stored result equals what the per-window SQL reads (json_extract, JSON text) give for the
    same window: the one-pass read and the statistics computed for a batch of windows at once change the
    cost, not a single value (also with batches of rows that end inside a window)."""
    from app.drift import windows

    monkeypatch.setattr(windows, "BATCH_ROWS", batch_rows)
    _odd_baselines(store, "router", "v1", rng)
    for hour in range(6):
        store.predictions.append(_odd_rows("router", "v1", hour, rng, 400, "a"))
        store.predictions.append(_odd_rows("router", "v2", hour, rng, 40, "b"))  # a minority version: not counted
    store.predictions.append(_odd_rows("router", "v1", 9, rng, 300, "c"))  # a gap: a second run of windows
    now = DAY0 + 10 * HOUR_MS + SETTLE_MS
    plans = pending_windows(store, "router", now=now)
    assert [(p.start - DAY0) // HOUR_MS for p in plans] == [0, 1, 2, 3, 4, 5, 9]
    baselines = store.baselines.for_version("router", "v1")
    references = reference_samples(baselines)
    expected = _key(point for plan in plans for point in compute_window(store, "router", plan, baselines,
                                                                        references=references))
    # Small chunks: windows are stored (a write transaction each) between the fetches of the one read.
    store.windows.window_rows = functools.partial(type(store.windows).window_rows, store.windows, chunk=50)
    assert update(store, "router", now=now).windows == 7
    got = _key(stored_points(store, "router", window_ms=HOUR_MS))
    assert set(got) == set(expected) and len(got) == 7 * 6
    for key, point in expected.items():
        mine = got[key]
        assert (mine.method, mine.n_current, mine.n_reference, mine.drifted) == \
            (point.method, point.n_current, point.n_reference, point.drifted), key
        assert math.isclose(mine.value, point.value, rel_tol=0, abs_tol=1e-12), key
        assert (mine.psi is None and point.psi is None) or math.isclose(mine.psi, point.psi, abs_tol=1e-12), key
    # The odd key and the text-or-boolean amounts were read, not dropped.
    assert got[(DAY0, ODD)].n_current == 400
    missing = [i for i in range(400) if i % 17 and (i % 23 == 0 or (i % 29 and i % 31 == 0))]  # null, object
    assert got[(DAY0, "amount")].n_current == 400 - len(missing)


def _prediction_reads(store: Store, work) -> tuple[list[str], int]:
    """Run ``work``; return the statements that named the predictions table and the VM steps taken."""
    statements: list[str] = []
    steps = [0]

    def count() -> int:
        steps[0] += 1
        return 0

    conn = store.conn
    conn.set_trace_callback(lambda sql: statements.append(sql) if "predictions" in sql else None)
    conn.set_progress_handler(count, 100)
    try:
        work()
    finally:
        conn.set_trace_callback(None)
        conn.set_progress_handler(None, 0)
    return statements, steps[0] * 100


def _built(path: Path, rows_per_hour: int, rng: np.random.Generator) -> Store:
    store = Store.open(path)
    put_baseline(store, "fraud", "v1", rng)
    for hour in range(12):
        traffic(store, "fraud", "v1", hour, rng, n=rows_per_hour)
    return store


def test_a_pass_with_nothing_new_reads_no_prediction_rows(tmp_path, rng):
    now = DAY0 + 12 * HOUR_MS + SETTLE_MS
    steps = {}
    for rows_per_hour in (60, 600):
        with _built(tmp_path / f"{rows_per_hour}.db", rows_per_hour, rng) as store:
            assert update(store, "fraud", since=now - 48 * HOUR_MS, now=now).windows == 12
            statements, steps[rows_per_hour] = _prediction_reads(
                store, lambda: update(store, "fraud", since=now - 48 * HOUR_MS, now=now))
            # The newest row's id, one step down the rowid tree; nothing else of the log.
            assert statements == ["SELECT max(id) FROM predictions"]
            assert pending_windows(store, "fraud", since=now - 48 * HOUR_MS, now=now) == []
    # Ten times the rows, the same work (the drift table and the lock are the same size in both stores).
    assert steps[600] <= steps[60] * 1.2 + 200, steps


def test_a_pass_with_nothing_new_writes_nothing(tmp_path, rng):
    """A console left open on a quiet store runs a drift pass per model every refresh: with nothing pending and
    the mark where it stands, it writes no row at all (it once took and released the model's lock and stored
    the same mark again, every pass)."""
    now = DAY0 + 12 * HOUR_MS + SETTLE_MS
    with _built(tmp_path / "quiet.db", 60, rng) as store:
        assert update(store, "fraud", since=now - 48 * HOUR_MS, now=now).windows == 12
        before = store.conn.total_changes
        assert update(store, "fraud", since=now - 48 * HOUR_MS, now=now).windows == 0
        assert store.conn.total_changes == before
        # The next window closes: that pass records it (and takes the lock to do so).
        later = now + HOUR_MS
        update(store, "fraud", since=now - 48 * HOUR_MS, now=later)
        assert store.conn.total_changes > before


def test_after_the_mark_only_new_rows_and_newly_closed_windows_are_read(store, rng):
    put_baseline(store, "fraud", "v1", rng)
    for hour in range(5):
        traffic(store, "fraud", "v1", hour, rng, n=300)
    assert update(store, "fraud", now=DAY0 + 5 * HOUR_MS + SETTLE_MS).windows == 5
    traffic(store, "fraud", "v1", 5, rng, n=300)  # the open hour fills
    statements, _ = _prediction_reads(store, lambda: update(store, "fraud", now=DAY0 + 5 * HOUR_MS + SETTLE_MS + 1000))
    assert not any("GROUP BY" in sql for sql in statements)  # nothing closed: the new rows only, no plan
    outcome = update(store, "fraud", now=DAY0 + 6 * HOUR_MS + SETTLE_MS)  # hour 5 closes
    assert outcome.windows == 1
    assert {(p.window_start - DAY0) // HOUR_MS for p in stored_points(store, "fraud", window_ms=HOUR_MS)} == set(range(6))


def test_windows_reopened_by_a_late_log_are_computed_again(store, rng, tmp_path):
    """A back-filled log spanning hours 1 to 3 makes ingest forget hours 1, 2 and 3 (rows landed in 1 and 3
    only): the next pass computes all three again, though hour 2 got no new row."""
    from app.ingest.run import ingest

    put_baseline(store, "fraud", "v1", rng)
    for hour in range(5):
        traffic(store, "fraud", "v1", hour, rng, n=300)
    now = DAY0 + 5 * HOUR_MS + SETTLE_MS
    assert update(store, "fraud", now=now).windows == 5
    late = tmp_path / "late.jsonl"
    records = [{"ts": DAY0 + hour * HOUR_MS + 1000 + i, "model": "fraud", "version": "v1",
                "request_id": f"late-{hour}-{i}", "score": 2.0, "features": {"amount": 200.0, "colour": "red"}}
               for hour in (1, 3) for i in range(200)]
    late.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    ingest(store, [str(late)], workers=0)
    assert {(p.window_start - DAY0) // HOUR_MS for p in stored_points(store, "fraud", window_ms=HOUR_MS)} == {0, 4}
    assert update(store, "fraud", now=now).windows == 3
    by_window = _key(stored_points(store, "fraud", window_ms=HOUR_MS))
    assert by_window[(DAY0 + HOUR_MS, "amount")].n_current == 500 and by_window[(DAY0 + HOUR_MS, "amount")].drifted
    assert by_window[(DAY0 + 2 * HOUR_MS, "amount")].n_current == 300


def test_a_new_baseline_makes_its_versions_windows_pending(store, rng):
    put_baseline(store, "fraud", "v1", rng)
    for hour in range(3):
        traffic(store, "fraud", "v1", hour, rng, n=300)
    for hour in range(3, 6):
        traffic(store, "fraud", "v2", hour, rng, n=300)
    now = DAY0 + 6 * HOUR_MS + SETTLE_MS
    assert update(store, "fraud", now=now).windows == 3  # v2 has no baseline: its hours wait
    assert update(store, "fraud", now=now).windows == 0
    put_baseline(store, "fraud", "v2", rng)
    assert update(store, "fraud", now=now).windows == 3


def test_a_bounded_pass_does_not_move_the_mark_past_what_it_left(store, rng):
    put_baseline(store, "fraud", "v1", rng)
    for hour in range(10):
        traffic(store, "fraud", "v1", hour, rng, n=150)
    now = DAY0 + 10 * HOUR_MS + SETTLE_MS
    done = [update(store, "fraud", now=now, max_windows=4).windows for _ in range(4)]
    assert done == [4, 4, 2, 0]
    assert len({p.window_start for p in stored_points(store, "fraud", window_ms=HOUR_MS)}) == 10


def test_a_read_whose_screen_is_gone_stops_between_windows(store_path, rng):
    """The drift screen's worker is cancelled when the screen goes: the read stops after the window in
    hand instead of computing every pending one, keeps what it stored, and shows nothing."""
    from app.config.settings import Settings
    from app.store.location import StoreLocation
    from app.views.drift import read_view

    with Store.open(store_path) as store:
        put_baseline(store, "fraud", "v1", rng)
        for hour in range(12):
            traffic(store, "fraud", "v1", hour, rng, n=100)
    now = DAY0 + 12 * HOUR_MS + SETTLE_MS
    asked = [0]

    def cancelled() -> bool:
        asked[0] += 1
        return asked[0] > 3  # gone while the fourth window is computed

    view = read_view(StoreLocation(store_path), Settings(), "fraud", now, HOUR_MS, cancelled=cancelled)
    assert view is None
    with Store.open(store_path) as store:
        assert len({p.window_start for p in stored_points(store, "fraud", window_ms=HOUR_MS)}) == 3
        assert len(pending_windows(store, "fraud", now=now)) == 9  # left for the next look
    view = read_view(StoreLocation(store_path), Settings(), "fraud", now, HOUR_MS)
    assert view is not None and view.new_windows == 9 and len(view.prediction) == 12


def test_numeric_features_alone_stream_and_equal_one_query_per_window(store, rng, monkeypatch):
    """A model whose baselines are numeric only: its features are decoded as a stream (no dicts kept), a
    batch with odd values (text, booleans, objects, nulls) falling back to the careful path, a clean batch
    (batches of 250 rows: the clean window is a batch of its own) not; both equal the per-window SQL reads."""
    from app.drift import windows

    monkeypatch.setattr(windows, "BATCH_ROWS", 250)
    n = 1500
    store.baselines.put(compute_baseline(rng.normal(102, 10, n), model="num", version="v1", feature="amount"))
    store.baselines.put(compute_baseline(rng.normal(0.2, 1, n), model="num", version="v1", feature=ODD))
    for hour in range(3):
        store.predictions.append(_odd_rows("num", "v1", hour, rng, 300, "odd"))
    clean = [PredictionRow(ts=DAY0 + 5 * HOUR_MS + i * 1000, model="num", version="v1", request_id=f"clean-{i}",
                           entity_id=None, prediction=None, score=None, label=None, latency_ms=5.0, status="ok",
                           error=None, features=orjson.dumps({"amount": float(rng.normal(130, 10)),
                                                              ODD: float(rng.normal(0, 1))}).decode(),
                           context=None, fts_text="") for i in range(300)]
    store.predictions.append(clean)
    now = DAY0 + 6 * HOUR_MS + SETTLE_MS
    plans = pending_windows(store, "num", now=now)
    baselines = store.baselines.for_version("num", "v1")
    references = reference_samples(baselines)
    expected = _key(point for plan in plans for point in compute_window(store, "num", plan, baselines,
                                                                        references=references))
    assert update(store, "num", now=now).windows == 4
    got = _key(stored_points(store, "num", window_ms=HOUR_MS))
    assert set(got) == set(expected) and len(got) == 4 * 2
    for key, point in expected.items():
        assert (got[key].method, got[key].n_current, got[key].drifted) == (point.method, point.n_current, point.drifted)
        assert math.isclose(got[key].value, point.value, rel_tol=0, abs_tol=1e-12), key
    assert got[(DAY0 + 5 * HOUR_MS, "amount")].drifted and got[(DAY0 + 5 * HOUR_MS, "amount")].n_current == 300
