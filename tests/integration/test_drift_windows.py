"""Drift windows over a real SQLite store: alignment, version choice, incremental and concurrent computation."""

from __future__ import annotations

import threading

import numpy as np
import orjson
import pytest

from app.drift.baselines import compute_baseline
from app.drift.windows import HOUR_MS, SETTLE_MS, pending_windows, stored_points, update
from app.store import Store
from tests.support.drift_rows import rows_for

DAY0 = 1_764_000_000_000 - 1_764_000_000_000 % 86_400_000  # a UTC midnight


def put_baseline(store: Store, model: str, version: str, rng: np.random.Generator, n: int = 2000) -> None:
    amounts = rng.normal(100, 10, n)
    colours = rng.choice(["red", "green", "blue"], n, p=[0.5, 0.3, 0.2]).tolist()
    for feature, values in (("amount", amounts), ("colour", colours), ("__prediction__", amounts / 100)):
        store.baselines.put(compute_baseline(values, model=model, version=version, feature=feature))


def traffic(store: Store, model: str, version: str, hour: int, rng, n: int = 1500, shift: float = 0.0,
            tag: str = "") -> int:
    amounts = rng.normal(100 + shift, 10, n)
    colours = rng.choice(["red", "green", "blue"], n, p=[0.5, 0.3, 0.2]).tolist()
    start = DAY0 + hour * HOUR_MS
    store.predictions.append(rows_for(model, version, start, amounts, colours, f"{version}-{hour}{tag}",
                                      spacing=HOUR_MS // (n + 1)))
    return n


@pytest.fixture
def rng():
    return np.random.default_rng(7)


def test_windows_are_utc_aligned_and_the_shifted_hour_drifts(store, rng):
    put_baseline(store, "fraud", "v1", rng)
    for hour, shift in ((0, 0.0), (1, 0.0), (2, 15.0)):
        traffic(store, "fraud", "v1", hour, rng, shift=shift)
    outcome = update(store, "fraud", now=DAY0 + 3 * HOUR_MS + SETTLE_MS)
    assert outcome.windows == 3
    points = stored_points(store, "fraud", window_ms=HOUR_MS)
    assert {(p.window_start - DAY0, p.window_end - p.window_start) for p in points} == \
        {(h * HOUR_MS, HOUR_MS) for h in range(3)}
    by_window = {(p.window_start, p.feature): p for p in points}
    amount_late = by_window[(DAY0 + 2 * HOUR_MS, "amount")]
    assert amount_late.method == "wasserstein" and amount_late.drifted and amount_late.n_current == 1500
    assert not by_window[(DAY0, "amount")].drifted
    assert by_window[(DAY0 + 2 * HOUR_MS, "__prediction__")].drifted  # the score moved with the amount
    assert by_window[(DAY0, "colour")].method == "jensenshannon"


def test_a_window_is_computed_once_and_only_after_it_closed(store, rng):
    put_baseline(store, "fraud", "v1", rng)
    traffic(store, "fraud", "v1", 0, rng, n=300)
    traffic(store, "fraud", "v1", 1, rng, n=300)
    # Hour 1 has not settled yet: only hour 0 is computed.
    assert update(store, "fraud", now=DAY0 + 2 * HOUR_MS + SETTLE_MS - 1).windows == 1
    first = store.db.execute("SELECT window_start, computed_at FROM drift ORDER BY 1").fetchall()
    assert update(store, "fraud", now=DAY0 + 2 * HOUR_MS + SETTLE_MS).windows == 1
    assert update(store, "fraud", now=DAY0 + 2 * HOUR_MS + SETTLE_MS).windows == 0
    # Rows appended between runs into a later hour are picked up; hour 0 is not recomputed.
    traffic(store, "fraud", "v1", 5, rng, n=300)
    assert update(store, "fraud", now=DAY0 + 6 * HOUR_MS + SETTLE_MS).windows == 1
    after = dict(store.db.execute("SELECT window_start, computed_at FROM drift").fetchall())
    assert all(after[start] == computed_at for start, computed_at in first)
    assert sorted({(s - DAY0) // HOUR_MS for s in after}) == [0, 1, 5]


def test_day_windows_are_calendar_days(store, rng):
    put_baseline(store, "fraud", "v1", rng)
    traffic(store, "fraud", "v1", 23, rng, n=200)
    traffic(store, "fraud", "v1", 25, rng, n=200)
    update(store, "fraud", window_ms=86_400_000, now=DAY0 + 3 * 86_400_000)
    points = stored_points(store, "fraud", window_ms=86_400_000)
    assert sorted({p.window_start for p in points}) == [DAY0, DAY0 + 86_400_000]
    assert {p.n_current for p in points} == {200}


def test_the_version_serving_most_of_the_window_supplies_the_reference(store, rng):
    put_baseline(store, "fraud", "v1", rng)
    store.baselines.put(compute_baseline(rng.normal(300, 10, 2000), model="fraud", version="v2", feature="amount"))
    traffic(store, "fraud", "v1", 0, rng, n=100, tag="a")
    traffic(store, "fraud", "v2", 0, rng, n=400, shift=200, tag="b")  # v2 serves amounts around 300
    traffic(store, "fraud", "v3", 0, rng, n=900, tag="c")  # no baseline: not a candidate
    update(store, "fraud", now=DAY0 + 2 * HOUR_MS)
    points = stored_points(store, "fraud", window_ms=HOUR_MS)
    assert {(p.version, p.feature, p.n_current) for p in points} == {("v2", "amount", 400)}
    assert points[0].value < 1  # against v1 (amounts near 100) it would be about 20


def test_threshold_overrides_apply_per_feature(store, rng):
    put_baseline(store, "fraud", "v1", rng)
    traffic(store, "fraud", "v1", 0, rng, n=1500)
    update(store, "fraud", now=DAY0 + 2 * HOUR_MS, thresholds={"amount": 0.0001, "*": 0.9})
    by_feature = {p.feature: p for p in stored_points(store, "fraud", window_ms=HOUR_MS)}
    assert by_feature["amount"].threshold == 0.0001 and by_feature["amount"].drifted
    assert by_feature["colour"].threshold == 0.9 and not by_feature["colour"].drifted


def test_no_baseline_no_windows(store, rng):
    traffic(store, "fraud", "v1", 0, rng, n=50)
    assert pending_windows(store, "fraud", now=DAY0 + 5 * HOUR_MS) == []


def test_none_missed_while_ingest_and_drift_run_at_the_same_time(store_path, rng):
    with Store.open(store_path) as setup:
        put_baseline(setup, "fraud", "v1", rng)
    hours, batches, per_batch = 6, 5, 60
    clock = {"now": DAY0}  # the writer advances time as it finishes each hour
    done = threading.Event()
    errors: list[BaseException] = []

    def ingest() -> None:
        try:
            with Store.open(store_path) as writer:
                for hour in range(hours):
                    for batch in range(batches):
                        start = DAY0 + hour * HOUR_MS + batch * (HOUR_MS // batches)
                        amounts = rng.normal(100, 10, per_batch)
                        writer.predictions.append(rows_for("fraud", "v1", start, amounts, ["red"] * per_batch,
                                                           f"{hour}-{batch}", spacing=1000))
                    clock["now"] = DAY0 + (hour + 1) * HOUR_MS + SETTLE_MS
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            done.set()

    def compute() -> None:
        try:
            with Store.open(store_path) as reader:
                for _ in range(2000):  # bounded
                    update(reader, "fraud", now=clock["now"])
                    if done.is_set():
                        break
        except BaseException as exc:  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=ingest), threading.Thread(target=compute)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    with Store.open(store_path) as check:
        update(check, "fraud", now=clock["now"])
        amount = [p for p in stored_points(check, "fraud", window_ms=HOUR_MS) if p.feature == "amount"]
        assert [(p.window_start - DAY0) // HOUR_MS for p in amount] == list(range(hours))
        assert {p.n_current for p in amount} == {batches * per_batch}
        duplicates = check.db.execute("SELECT count(*) FROM drift GROUP BY model, feature, window_start "
                                      "HAVING count(*) > 1").fetchall()
        assert duplicates == []


def test_a_bounded_pass_computes_the_newest_windows_first(store, rng):
    put_baseline(store, "fraud", "v1", rng)
    for hour in range(5):
        traffic(store, "fraud", "v1", hour, rng, n=200)
    now = DAY0 + 5 * HOUR_MS + SETTLE_MS
    assert update(store, "fraud", now=now, max_windows=2).windows == 2
    hours = sorted({(p.window_start - DAY0) // HOUR_MS for p in stored_points(store, "fraud", window_ms=HOUR_MS)})
    assert hours == [3, 4]
    assert update(store, "fraud", now=now, max_windows=2).windows == 2
    assert update(store, "fraud", now=now, max_windows=2).windows == 1
    assert update(store, "fraud", now=now).windows == 0


def test_prediction_distribution_per_window(store, rng):
    from app.drift.windows import prediction_windows

    traffic(store, "fraud", "v1", 0, rng, n=1000)
    traffic(store, "fraud", "v1", 1, rng, n=1000, shift=50)
    windows = prediction_windows(store, "fraud", window_ms=HOUR_MS, since=DAY0, until=DAY0 + 2 * HOUR_MS)
    assert [(w.start - DAY0, w.rows) for w in windows] == [(0, 1000), (HOUR_MS, 1000)]
    scores = [np.array([r[0] for r in store.db.execute(
        "SELECT score FROM predictions WHERE ts >= ? AND ts < ?", (DAY0 + h * HOUR_MS, DAY0 + (h + 1) * HOUR_MS))])
        for h in range(2)]
    for window, values in zip(windows, scores):
        assert window.quantiles == pytest.approx(tuple(np.percentile(values, (10, 50, 90))))
    assert windows[1].quantiles[1] - windows[0].quantiles[1] == pytest.approx(0.5, abs=0.05)


def test_class_predictions_give_shares_per_window(store):
    from app.drift.windows import prediction_windows

    rows = rows_for("router", "r1", DAY0, [1.0] * 4, ["x"] * 4, "c")
    labels = ['"billing"', '"billing"', '"tech"', '"billing"']
    store.predictions.append([row._replace(score=None, prediction=label) for row, label in zip(rows, labels)])
    [window] = prediction_windows(store, "router", window_ms=HOUR_MS, since=DAY0, until=DAY0 + HOUR_MS)
    assert window.quantiles is None and window.shares == {"billing": 0.75, "tech": 0.25}


def test_the_console_monitor_computes_windows_and_fires_rules(store_path, rng):
    from app.config.settings import Settings
    from app.alerts.monitor import monitor_once

    with Store.open(store_path) as setup:
        put_baseline(setup, "fraud", "v1", rng)
        traffic(setup, "fraud", "v1", 0, rng, n=800)
        traffic(setup, "fraud", "v1", 1, rng, n=800, shift=30)
    settings = Settings.model_validate({"models": {"fraud": {"owner": "risk-ml", "alerts": [
        {"metric": "feature_drift:amount", "severity": "critical"}]}}})
    now = DAY0 + 2 * HOUR_MS + SETTLE_MS
    first = monitor_once(store_path, settings, now, max_windows=1)
    assert first.windows == 1  # the newest window: the drifted hour
    assert [(t.state, t.alert.rule, t.alert.owner) for t in first.transitions] == \
        [("firing", "feature_drift:amount", "risk-ml")]
    second = monitor_once(store_path, settings, now, max_windows=1)
    assert second.windows == 1 and second.transitions == []  # an older window does not resolve the alert
    assert monitor_once(store_path, settings, now).windows == 0


def test_a_backfill_ingested_while_drift_runs_leaves_no_window_partial(store_path, rng, tmp_path, monkeypatch):
    """Yesterday's logs are ingested file by file while drift passes run: every window is closed by the
    clock already, so a pass can catch one half-written. The ingest makes such a window pending again and
    the pass that raced it does not store it: in the end each window counts all of its rows."""
    import app.ingest.run
    from app.ingest.run import ingest

    monkeypatch.setattr(app.ingest.run, "BATCH_ROWS", 1)  # commit after every file
    # Incremental mode (commits as it goes) rather than one bulk transaction, which no reader could race.
    monkeypatch.setattr(app.ingest.run._Run, "_bulk_pays_off", lambda self, paths: False)
    with Store.open(store_path) as setup:
        put_baseline(setup, "fraud", "v1", rng)
    hours, halves, per_file = 6, 2, 150
    files = []
    for hour in range(hours):
        for half in range(halves):
            path = tmp_path / f"log-{hour:02d}-{half}.jsonl"
            start = DAY0 + hour * HOUR_MS + half * HOUR_MS // 2
            path.write_bytes(b"".join(orjson.dumps({
                "ts": start + i * 1000, "model": "fraud", "version": "v1", "request_id": f"{hour}-{half}-{i}",
                "features": {"amount": float(a), "colour": "red"}, "score": float(a) / 100}) + b"\n"
                for i, a in enumerate(rng.normal(100, 10, per_file))))
            files.append(str(path))
    now = DAY0 + 2 * 86_400_000  # the next day: every window of the backfill is closed by the clock
    done = threading.Event()
    errors: list[BaseException] = []
    passes = {"n": 0, "windows": 0}

    pass_done = threading.Condition()

    def load() -> None:
        try:
            with Store.open(store_path) as writer:
                for path in files:  # one file at a time; a pass sees each half-written hour at least once
                    ingest(writer, [path])
                    # Wait for a pass that began after this file landed (the one running now may not have
                    # seen it): two more completed passes. Bounded, and generous for a loaded CI machine.
                    seen = passes["n"]
                    with pass_done:
                        pass_done.wait_for(lambda: passes["n"] >= seen + 2, timeout=60)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            done.set()

    def compute() -> None:
        try:
            with Store.open(store_path) as reader:
                for _ in range(5000):  # bounded
                    passes["windows"] += update(reader, "fraud", now=now).windows
                    with pass_done:
                        passes["n"] += 1
                        pass_done.notify_all()
                    if done.is_set():
                        break
        except BaseException as exc:  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=load), threading.Thread(target=compute)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    with Store.open(store_path) as check:
        update(check, "fraud", now=now)
        amount = [p for p in stored_points(check, "fraud", window_ms=HOUR_MS) if p.feature == "amount"]
    assert [(p.window_start - DAY0) // HOUR_MS for p in amount] == list(range(hours))
    assert [p.n_current for p in amount] == [halves * per_file] * hours
    assert passes["windows"] > hours  # half-written hours were computed, then again once complete
