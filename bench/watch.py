"""Benchmark: `modeldeck watch` passes over a big store (issue 15, item 6).

    python bench/watch.py                   # 1,000,000 rows, 4 models x 20 features, 30 days (built once)
    python bench/watch.py --rows 200000     # while developing

The store holds 30 days of hourly traffic for 4 models with 20 numeric features each, a baseline per
feature, and every hourly drift window but the newest already computed (stored directly: computing 2,880
windows one query each is what `modeldeck drift` from scratch costs today, not what a pass does). Measured,
with app.watch.loop.Watcher on a fixed clock:

1. **new hour**: the pass that computes the newest closed window of 4 models x 20 features (+ prediction),
   judges the rules and publishes the figures. Floor: reading that hour's feature JSON of the 4 models and
   decoding it (what any computation of those windows has to do).
2. **steady pass**: the next pass, with nothing new (what every pass costs between window closes). Floor:
   one indexed count over the last hour per model (the least a pass can read to know nothing changed).

3. **from scratch** (issue 15 item 6): every hourly window of one model over 30 days computed with an
   empty drift table, once from one ordered pass over the rows with the statistics of a batch of windows
   computed together (``update``, what `modeldeck drift` does) and once the way it was done before, one
   query per window (``compute_window`` per plan: the same statistics, a batch of one), in the same run.
   Floor: reading that model's 30 days of rows once and decoding their features (measured before and
   after both, the best counts: the first read also brings the rows into the page cache).
4. **no-op `modeldeck drift`** (issue 18 item 2): the real CLI in a subprocess, after every window is
   computed, with the high-water mark (what every later run is) and without it (the mark forgotten:
   what every run cost before, a GROUP BY over the whole history). Floor: the CLI starting
   (`modeldeck drift --help`). Target: under 0.5 s.

Prints medians and the ratio to each floor. Targets (the issue): both passes well under 1 s.

    python bench/watch.py --skip-scratch    # the passes and the no-op CLI only (from scratch takes minutes)
    python bench/watch.py --only-scratch    # the from-scratch comparison only

Each figure is printed with the machine's load average (the machine is shared: compare within a run).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import orjson  # noqa: E402

from app.config.settings import Settings  # noqa: E402
from app.alerts.monitor import LOOKBACK_WINDOWS  # noqa: E402
from app.drift.windows import HOUR_MS, SETTLE_MS  # noqa: E402
from app.store.drift_table import DriftMark  # noqa: E402
from app.models import DriftPoint  # noqa: E402
from app.store import Store  # noqa: E402
from app.store.predictions import PredictionRow  # noqa: E402
from app.timeutil import iso_to_ms  # noqa: E402

CACHE = Path(__file__).resolve().parent / ".cache"
END_MS = iso_to_ms("2026-11-24T00:00:00Z")
DAYS = 30
MODELS = ("m1", "m2", "m3", "m4")
FEATURES = tuple(f"f{i:02d}" for i in range(20))


def build(rows: int, db: Path) -> None:
    import numpy as np

    from app.drift.baselines import compute_baseline
    from app.store.bulk import BulkWriter

    for path in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
        path.unlink(missing_ok=True)
    rng = np.random.default_rng(3)
    hours = DAYS * 24
    per_hour = rows // (len(MODELS) * hours)
    started = time.perf_counter()
    with Store.open(db) as store:
        with BulkWriter(store.conn, drop_indexes=True) as writer:
            for model in MODELS:
                for hour in range(hours):
                    start = END_MS - (hours - hour) * HOUR_MS
                    values = rng.normal(100, 10, (per_hour, len(FEATURES)))
                    batch = []
                    for i in range(per_hour):
                        features = orjson.dumps(dict(zip(FEATURES, values[i].round(3).tolist()))).decode()
                        batch.append(PredictionRow(start + i * (HOUR_MS // per_hour), model, "v1", f"{hour}-{i}", None,
                                                   None, float(values[i, 0]) / 200, None, 12.0, "ok", None, features,
                                                   None, ""))
                    writer.write(batch)
        for model in MODELS:
            for name in (*FEATURES, "__prediction__"):
                reference = rng.normal(100, 10, 5000) / (200 if name == "__prediction__" else 1)
                store.baselines.put(compute_baseline(reference, model=model, version="v1", feature=name))
            # Every hourly window but the newest "already computed" (values as a quiet model gives).
            points = [DriftPoint(model=model, version="v1", feature=name, window_start=END_MS - (hours - h) * HOUR_MS,
                                 window_end=END_MS - (hours - h - 1) * HOUR_MS, n_reference=5000, n_current=per_hour,
                                 method="wasserstein", value=0.03, threshold=0.1, drifted=False)
                      for h in range(hours - 1) for name in (*FEATURES, "__prediction__")]
            store.drift.put_many(points)
    print(f"built {db}: {per_hour * hours * len(MODELS):,} rows, {len(MODELS)} models x {len(FEATURES)} features, "
          f"{hours - 1} windows each already computed, in {time.perf_counter() - started:.1f} s")


def settings() -> Settings:
    return Settings.model_validate({"models": {m: {"owner": "ops", "alerts": [
        {"metric": "feature_drift:f00", "windows": 3}, {"metric": "error_rate", "threshold": 0.05}]}
        for m in MODELS}})


def new_hour_floor(db: Path) -> float:
    with Store.open(db) as store:
        started = time.perf_counter()
        for model in MODELS:
            for (features,) in store.conn.execute(
                    "SELECT features FROM predictions WHERE model = ? AND ts >= ? AND ts < ?",
                    (model, END_MS - HOUR_MS, END_MS)):
                orjson.loads(features)
        return time.perf_counter() - started


def steady_floor(db: Path) -> float:
    with Store.open(db) as store:
        started = time.perf_counter()
        for model in MODELS:
            store.conn.execute("SELECT count(*) FROM predictions WHERE model = ? AND ts >= ?",
                               (model, END_MS - HOUR_MS)).fetchone()
        return time.perf_counter() - started


def passes(db: Path, runs: int) -> list[tuple[float, float, int]]:
    """(new-hour pass, steady pass, windows computed) per run. One Watcher for all runs, as a long-running
    watch is (its imports are paid once, by an untimed warm-up pass); before each run the newest window's
    results are forgotten, so each run computes that hour again."""
    from app.watch.loop import Watcher

    now = END_MS + SETTLE_MS + 1
    watcher = Watcher(settings(), db, clock=lambda: now)
    results = []
    try:
        for run in range(runs + 1):
            with watcher.store.write():
                for model in MODELS:
                    watcher.store.drift.invalidate(model, END_MS - HOUR_MS, END_MS - 1)
                    # As a pass an hour earlier left it: every window planned up to the newest hour, which
                    # closes now (forgetting that hour's results also forgot the mark, as a late log does).
                    watcher.store.drift.set_mark(model, HOUR_MS, DriftMark(
                        now - LOOKBACK_WINDOWS * HOUR_MS - (now - LOOKBACK_WINDOWS * HOUR_MS) % HOUR_MS,
                        END_MS - HOUR_MS, watcher.store.windows.last_id(), "v1"))
            started = time.perf_counter()
            first = watcher.run_pass()
            new_hour = time.perf_counter() - started
            started = time.perf_counter()
            second = watcher.run_pass()
            steady = time.perf_counter() - started
            assert not first.errors and not second.errors, (first.errors, second.errors)
            assert second.windows == 0
            if run:  # run 0 is the warm-up
                results.append((new_hour, steady, first.windows))
    finally:
        watcher.close()
    return results


def scratch(db: Path) -> tuple[float, float, float, int]:
    """(one pass, one query per window, floor) for every window of MODELS[0], and the windows computed."""
    from app.drift.windows import _store_if_unchanged, compute_window, pending_windows, reference_samples, update

    model, now = MODELS[0], END_MS + SETTLE_MS + 1
    with Store.open(db) as store:
        def forget() -> None:
            with store.write():
                store.drift.invalidate(model, 0, END_MS)

        def read_floor() -> float:
            started = time.perf_counter()
            for (features,) in store.conn.execute(
                    "SELECT features FROM predictions WHERE model = ? AND ts >= 0 AND ts < ? ORDER BY ts",
                    (model, END_MS)):
                orjson.loads(features)
            return time.perf_counter() - started

        # The floor first too: the rows are then in the page cache for the one pass, as for the per-window
        # path after it (the store is bigger than what a loaded machine keeps cached); the best floor counts.
        floors = [read_floor()]
        forget()
        started = time.perf_counter()
        windows = update(store, model, now=now).windows
        one_pass = time.perf_counter() - started
        forget()
        started = time.perf_counter()
        baselines = store.baselines.for_version(model, "v1")
        references = reference_samples(baselines)
        for plan in pending_windows(store, model, now=now):
            points = compute_window(store, model, plan, baselines, references=references)
            _store_if_unchanged(store, model, plan, points)
        per_window = time.perf_counter() - started
        floors.append(read_floor())
        floor = min(floors)
    return one_pass, per_window, floor, windows


def noop_cli(db: Path, runs: int) -> tuple[float, float, float]:
    """Median seconds of `modeldeck drift MODEL --summary` with nothing to compute: with the mark, without
    it, and `modeldeck drift --help` (the floor)."""
    import subprocess

    exe = str(Path(sys.executable).parent / "modeldeck")
    command = [exe, "drift", MODELS[0], "--summary", "--db", str(db)]

    def timed(args: list[str]) -> float:
        started = time.perf_counter()
        subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return time.perf_counter() - started

    timed(command)  # computes what is missing (the newest hour the passes above forgot) and sets the mark
    with_mark = statistics.median(timed(command) for _ in range(runs))
    without = []
    for _ in range(runs):
        with Store.open(db) as store, store.write():
            store.drift.forget_marks(MODELS[0])
        without.append(timed(command))
    floor = statistics.median(timed([exe, "drift", "--help"]) for _ in range(runs))
    return with_mark, statistics.median(without), floor


def noop_in_process(db: Path, runs: int) -> tuple[float, float]:
    """The same command inside this process, imports already paid (what the command itself costs, apart
    from Python starting): median seconds with the mark and without it."""
    from click.testing import CliRunner

    from app.cli.main import main as modeldeck

    runner = CliRunner()
    command = ["drift", MODELS[0], "--summary", "--db", str(db)]

    def timed() -> float:
        started = time.perf_counter()
        result = runner.invoke(modeldeck, command)
        assert result.exit_code == 0, result.output
        return time.perf_counter() - started

    timed()
    with_mark = statistics.median(timed() for _ in range(runs))
    without = []
    for _ in range(runs):
        with Store.open(db) as store, store.write():
            store.drift.forget_marks(MODELS[0])
        without.append(timed())
    return with_mark, statistics.median(without)


def load() -> str:
    """The machine's load (1-minute average) when a figure was taken: the machine is shared."""
    return f"   [load {os.getloadavg()[0]:.1f}, {os.cpu_count()} cores]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--skip-scratch", action="store_true", help="leave out the from-scratch comparison")
    parser.add_argument("--only-scratch", action="store_true", help="the from-scratch comparison alone")
    args = parser.parse_args()
    CACHE.mkdir(exist_ok=True)
    db = CACHE / f"watch-{args.rows}.db"
    if not db.exists():
        build(args.rows, db)
    if args.only_scratch:
        report_scratch(db)
        return
    results = passes(db, args.runs)
    windows = results[0][2]
    new_hour = statistics.median(r[0] for r in results)
    steady = statistics.median(r[1] for r in results)
    floor_new = statistics.median(new_hour_floor(db) for _ in range(args.runs))
    floor_steady = statistics.median(steady_floor(db) for _ in range(args.runs))
    print(f"new hour ({windows} windows x {len(FEATURES) + 1} results) {new_hour:8.3f} s   floor (read + decode the hour) "
          f"{floor_new:7.3f} s   ratio {new_hour / floor_new:6.1f}x   target < 1 s: {'met' if new_hour < 1 else 'NOT met'}{load()}")
    print(f"steady pass (nothing new)            {steady:8.3f} s   floor (a count per model)         "
          f"{floor_steady:7.3f} s   ratio {steady / floor_steady:6.1f}x   target well under 1 s: "
          f"{'met' if steady < 0.5 else 'NOT met'}{load()}")
    with_mark, without, floor_cli = noop_cli(db, args.runs)
    print(f"no-op `modeldeck drift {MODELS[0]}`     {with_mark:8.3f} s   floor (drift --help)          "
          f"{floor_cli:7.3f} s   ratio {with_mark / floor_cli:6.1f}x   target < 0.5 s: "
          f"{'met' if with_mark < 0.5 else 'NOT met'}   (without the mark, as before: {without:.3f} s, "
          f"{without / with_mark:.1f}x slower){load()}")
    inside, inside_without = noop_in_process(db, args.runs)
    print(f"  the same in-process, imports paid   {inside:8.3f} s   without the mark, as before          "
          f"{inside_without:7.3f} s   ratio {inside_without / inside:6.1f}x faster{load()}")
    if not args.skip_scratch:
        report_scratch(db)


def report_scratch(db: Path) -> None:
    one_pass, per_window, floor_scratch, windows = scratch(db)
    print(f"from scratch ({windows} windows)       {one_pass:8.3f} s   floor (read + decode 30 days) "
          f"{floor_scratch:7.3f} s   ratio {one_pass / floor_scratch:6.1f}x   one query per window "
          f"{per_window:.3f} s: {per_window / one_pass:.1f}x faster (target 10x: "
          f"{'met' if per_window >= 10 * one_pass else 'NOT met'}){load()}")


if __name__ == "__main__":
    main()
