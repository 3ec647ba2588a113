"""Drift benchmark: modeldeck's full drift computation vs Evidently's DataDriftPreset vs scipy alone.

    .venv/bin/python bench/drift.py            # 20 features, 100,000-row reference and current frames
    .venv/bin/python bench/drift.py --rows 20000 --repeat 1

Evidently is heavy (pandas, plotly, ...), so it lives in its own venv, bench/.cache/evidently-venv, created
here on first use (python -m venv + pip). Both sides get the same columns, already in memory, and are timed
without their imports; each side's best of --repeat runs is reported.

- modeldeck: raw columns -> samples (sort / counts) -> method choice, statistic, PSI -> dataset drift.
- Evidently: Report([DataDriftPreset()]).run(current, reference) on pandas frames with the column types given.
- scipy alone (the floor): only the statistic Evidently's choice needs, straight from scipy
  (wasserstein_distance / np.std, or value counts + jensenshannon), no PSI, no method choice.

A second, small run (1,000-row reference) exercises the hypothesis tests (KS, chi-squared, Z) and checks
their values against Evidently's too. Target: >= 5x faster than Evidently, values within 1e-6.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.drift import stats as drift  # noqa: E402

CACHE = ROOT / "bench" / ".cache"
VENV = CACHE / "evidently-venv"
EVIDENTLY_REQUIREMENTS = ["evidently>=0.7,<0.8", "pandas<3"]  # evidently 0.7 breaks on pandas 3

# Evidently's display names -> modeldeck's method ids.
EVIDENTLY_METHODS = {
    "Wasserstein distance (normed)": drift.WASSERSTEIN,
    "Jensen-Shannon distance": drift.JENSEN_SHANNON,
    "K-S p_value": drift.KS,
    "chi-square p_value": drift.CHI_SQUARED,
    "Z-test p_value": drift.Z_TEST,
}

WORKER = r'''
import json, sys, time
import numpy as np, pandas as pd
from evidently import Report, Dataset, DataDefinition
from evidently.presets import DataDriftPreset

data = np.load(sys.argv[1], allow_pickle=False)
spec = json.loads(sys.argv[2])
repeat = int(sys.argv[3])
numeric = [n for n, k in spec.items() if k == "numeric"]
categorical = [n for n, k in spec.items() if k == "categorical"]
ref = pd.DataFrame({n: data["ref_" + n] for n in spec})
cur = pd.DataFrame({n: data["cur_" + n] for n in spec})
definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)
def run(c, r):
    return Report([DataDriftPreset()]).run(Dataset.from_pandas(c, data_definition=definition),
                                           Dataset.from_pandas(r, data_definition=definition)).dict()
run(cur.head(2000), ref.head(2000))  # warm-up: lazy imports and caches, as on the modeldeck side
best = None
for _ in range(repeat):
    start = time.perf_counter()
    result = run(cur, ref)
    elapsed = time.perf_counter() - start
    best = elapsed if best is None else min(best, elapsed)
columns, share = {}, None
for metric in result["metrics"]:
    config = metric["config"]
    if config["type"].endswith("ValueDrift"):
        columns[config["column"]] = {"method": config["method"], "value": metric["value"],
                                     "threshold": config["threshold"]}
    elif config["type"].endswith("DriftedColumnsCount"):
        share = metric["value"]["share"]
print(json.dumps({"seconds": best, "columns": columns, "share": share}))
'''


def ensure_evidently() -> Path:
    python = VENV / "bin" / "python"
    if python.exists() and subprocess.run([str(python), "-c", "import evidently"], capture_output=True).returncode == 0:
        return python
    print(f"creating {VENV.relative_to(ROOT)} and installing {' '.join(EVIDENTLY_REQUIREMENTS)} (once)...",
          flush=True)
    CACHE.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", *EVIDENTLY_REQUIREMENTS], check=True)
    return python


def make_frames(rows: int, current_rows: int, seed: int) -> tuple[dict, dict, dict[str, str]]:
    """20 features of every shape DataDriftPreset meets; about a third of them drift."""
    rng = np.random.default_rng(seed)
    ref, cur, kinds = {}, {}, {}

    def numeric(name, make_ref, make_cur):
        ref[name], cur[name], kinds[name] = make_ref(rows), make_cur(current_rows), "numeric"

    def categorical(name, categories, p_ref, p_cur):
        ref[name] = rng.choice(categories, rows, p=p_ref)
        cur[name] = rng.choice(categories, current_rows, p=p_cur)
        kinds[name] = "categorical"

    for i in range(6):  # continuous, steady
        numeric(f"num_{i}", lambda n, i=i: rng.normal(i, 1 + i, n), lambda n, i=i: rng.normal(i, 1 + i, n))
    for i in range(6, 10):  # continuous, drifting in location or scale
        numeric(f"num_{i}", lambda n: rng.lognormal(0, 0.5, n), lambda n, i=i: rng.lognormal(0.05 * i, 0.6, n))
    numeric("amount", lambda n: np.round(rng.exponential(50, n), 2), lambda n: np.round(rng.exponential(55, n), 2))
    numeric("uniform", lambda n: rng.uniform(0, 1, n), lambda n: rng.uniform(0, 1, n))
    numeric("visits", lambda n: rng.integers(0, 4, n).astype(float),  # few values: Jensen-Shannon / chi-squared
            lambda n: rng.integers(0, 4, n).astype(float))
    numeric("retries", lambda n: rng.choice([0.0, 1.0, 2.0], n, p=[0.8, 0.15, 0.05]),
            lambda n: rng.choice([0.0, 1.0, 2.0], n, p=[0.6, 0.3, 0.1]))
    numeric("flag_num", lambda n: rng.integers(0, 2, n).astype(float), lambda n: rng.integers(0, 2, n).astype(float))
    categorical("country", ["de", "fr", "it", "es", "nl", "pl"], [0.3, 0.2, 0.2, 0.1, 0.1, 0.1],
                [0.3, 0.2, 0.2, 0.1, 0.1, 0.1])
    categorical("channel", ["web", "app", "pos"], [0.5, 0.3, 0.2], [0.3, 0.5, 0.2])
    categorical("tier", ["bronze", "silver", "gold", "platinum"], [0.4, 0.3, 0.2, 0.1], [0.4, 0.3, 0.2, 0.1])
    categorical("device", [f"d{i:02d}" for i in range(12)], None, None)
    categorical("is_new", ["no", "yes"], [0.7, 0.3], [0.55, 0.45])
    return ref, cur, kinds


def modeldeck_run(ref: dict, cur: dict, kinds: dict[str, str]) -> tuple[list[drift.FeatureDrift], drift.DatasetDrift]:
    references = {name: drift.Sample.of_kind(kinds[name], ref[name]) for name in kinds}
    currents = {name: drift.Sample.of_kind(kinds[name], cur[name]) for name in kinds}
    results = drift.compare(references, currents)
    return results, drift.dataset_drift(results)


def scipy_run(ref: dict, cur: dict, methods: dict[str, str]) -> dict[str, float]:
    from scipy.spatial.distance import jensenshannon
    from scipy.stats import wasserstein_distance

    values = {}
    for name, method in methods.items():
        r, c = ref[name], cur[name]
        if method == drift.WASSERSTEIN:
            values[name] = wasserstein_distance(r, c) / max(np.std(r), 0.001)
        else:  # Jensen-Shannon over value shares (every JS column here has few values)
            keys = np.union1d(r, c)
            rc = np.unique(r, return_counts=True)
            cc = np.unique(c, return_counts=True)
            p = np.zeros(keys.size)
            q = np.zeros(keys.size)
            p[np.searchsorted(keys, rc[0])] = rc[1] / r.size
            q[np.searchsorted(keys, cc[0])] = cc[1] / c.size
            values[name] = float(jensenshannon(p, q))
    return values


def best_of(repeat: int, fn, *args):
    best, out = None, None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn(*args)
        elapsed = time.perf_counter() - start
        best = elapsed if best is None else min(best, elapsed)
    return best, out


def run_evidently(python: Path, ref: dict, cur: dict, kinds: dict[str, str], repeat: int, tag: str) -> dict:
    path = CACHE / f"drift-{tag}.npz"
    np.savez(path, **{f"ref_{k}": v for k, v in ref.items()}, **{f"cur_{k}": v for k, v in cur.items()})
    worker = CACHE / "evidently_worker.py"
    worker.write_text(WORKER)
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    done = subprocess.run([str(python), str(worker), str(path), json.dumps(kinds), str(repeat)],
                          capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise SystemExit(f"evidently run failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def disagreement(results: list[drift.FeatureDrift], evidently: dict) -> tuple[float, str, int, list[str]]:
    worst, where, same, differ = 0.0, "-", 0, []
    for r in results:
        theirs = evidently["columns"].get(r.feature)
        if theirs is None:
            differ.append(f"{r.feature}: missing in Evidently")
            continue
        method = EVIDENTLY_METHODS.get(theirs["method"], theirs["method"])
        if method != r.method:
            differ.append(f"{r.feature}: modeldeck {r.method}, Evidently {theirs['method']}")
            continue
        same += 1
        gap = abs(r.value - theirs["value"])
        if gap >= worst:
            worst, where = gap, f"{r.feature} ({r.method})"
    return worst, where, same, differ


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=int(os.environ.get("DRIFT_BENCH_ROWS", 100_000)),
                        help="rows in the reference and in the current frame (default 100,000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per side; the best is reported")
    parser.add_argument("--seed", type=int, default=20261125)
    args = parser.parse_args()

    python = ensure_evidently()
    print(f"drift benchmark: 20 features, {args.rows:,}-row reference and current, best of {args.repeat}")

    ref, cur, kinds = make_frames(args.rows, args.rows, args.seed)
    # Warm-up on a slice: imports (scipy.stats is ~0.5 s) and first-call costs stay out of the timings.
    warm = {n: v[:2000] for n, v in ref.items()}, {n: v[:2000] for n, v in cur.items()}
    warm_results, _ = modeldeck_run(*warm, kinds)
    scipy_run(*warm, {r.feature: r.method for r in warm_results})
    ours_s, (results, summary) = best_of(args.repeat, modeldeck_run, ref, cur, kinds)
    methods = {r.feature: r.method for r in results}
    scipy_s, scipy_values = best_of(args.repeat, scipy_run, ref, cur, methods)
    evidently = run_evidently(python, ref, cur, kinds, args.repeat, "large")

    print(f"  modeldeck (choice + statistic + PSI, all features) {ours_s * 1000:9.1f} ms")
    print(f"  Evidently DataDriftPreset                           {evidently['seconds'] * 1000:9.1f} ms   "
          f"modeldeck is {evidently['seconds'] / ours_s:.1f}x faster")
    print(f"  scipy alone (statistic only, the floor)             {scipy_s * 1000:9.1f} ms   "
          f"modeldeck / floor = {ours_s / scipy_s:.2f}")
    worst, where, same, differ = disagreement(results, evidently)
    scipy_gap = max(abs(r.value - scipy_values[r.feature]) for r in results)
    print(f"  methods: " + ", ".join(f"{m} x{list(methods.values()).count(m)}" for m in sorted(set(methods.values()))))
    print(f"  largest |modeldeck - Evidently| over {same} same-method features: {worst:.3g} at {where}")
    print(f"  largest |modeldeck - scipy|: {scipy_gap:.3g}")
    print(f"  dataset drift share: modeldeck {summary.share:.3f} ({summary.n_drifted}/{summary.n_features}), "
          f"Evidently {evidently['share']:.3f}")
    for line in differ:
        print(f"  method differs: {line}")

    # Small reference: the hypothesis tests (KS, chi-squared, Z), values only.
    small_ref, small_cur, small_kinds = make_frames(1000, 800, args.seed + 1)
    small_results, small_summary = modeldeck_run(small_ref, small_cur, small_kinds)
    small_evidently = run_evidently(python, small_ref, small_cur, small_kinds, 1, "small")
    worst, where, same, differ = disagreement(small_results, small_evidently)
    small_methods = [r.method for r in small_results]
    print(f"small run (1,000-row reference, 800 current): methods "
          + ", ".join(f"{m} x{small_methods.count(m)}" for m in sorted(set(small_methods))))
    print(f"  largest |modeldeck - Evidently| over {same} same-method features: {worst:.3g} at {where}")
    print(f"  dataset drift share: modeldeck {small_summary.share:.3f}, Evidently {small_evidently['share']:.3f}")
    for line in differ:
        print(f"  method differs: {line}")


if __name__ == "__main__":
    main()
