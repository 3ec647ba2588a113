"""Benchmark: what declared success criteria ([models.NAME.success]) add to a model's readiness check, the
evaluation the fleet runs for every model on each refresh (app/views/fleet.readiness_counts).

    python bench/success.py                  # a 300,000-prediction demo store, fraud-scorer (its busiest model)
    python bench/success.py --rows 1000000

On one demo store, times (best of --repeat):
  * floor: ``evaluate`` of the model's checklist with no success criteria declared;
  * modeldeck: the same with accuracy, AUC, error-rate and p95 criteria over 7 days (point values, as readiness
    judges them);
  * with intervals: the same criteria with bootstrap intervals (what the Quality tab and `modeldeck quality`
    show), for scale.
Prints each time and the ratios modeldeck/floor and intervals/floor.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.checklist.evaluate import evaluate  # noqa: E402
from app.config.settings import Settings, SuccessConfig  # noqa: E402
from app.demo.build import build_demo_store  # noqa: E402
from app.quality.success import judge_window  # noqa: E402
from app.store import Store  # noqa: E402
from app.timeutil import now_ms  # noqa: E402

CRITERIA = {"min_accuracy": 0.8, "min_auc": 0.7, "max_error_rate": 0.05, "max_p95_latency_ms": 100}


def best(repeat: int, run) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--model", default="fraud-scorer")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    import scipy.stats  # noqa: F401 - its one-time import (about 2 s) is not what is measured

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "demo.db"
        build_demo_store(path, rows=args.rows, baseline_rows=2_000)
        plain = Settings()
        declared = Settings(models={args.model: {"success": CRITERIA}})
        now = now_ms()
        with Store.open(path) as store:
            floor = best(args.repeat, lambda: evaluate(store, args.model, settings=plain, now=now))
            ours = best(args.repeat, lambda: evaluate(store, args.model, settings=declared, now=now))
            config = SuccessConfig(**CRITERIA)
            wide = best(args.repeat, lambda: (evaluate(store, args.model, settings=plain, now=now),
                                              judge_window(store, config, args.model, now)))
    print(f"{args.rows:,} demo rows, {args.model}, best of {args.repeat}")
    print(f"floor (no success criteria)        {floor * 1000:8.1f} ms")
    print(f"modeldeck (criteria, point values) {ours * 1000:8.1f} ms   ratio modeldeck/floor {ours / floor:.2f}")
    print(f"with bootstrap intervals           {wide * 1000:8.1f} ms   ratio intervals/floor {wide / floor:.2f}")


if __name__ == "__main__":
    main()
