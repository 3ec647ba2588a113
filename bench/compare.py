"""Benchmark: champion vs challenger over 1,000,000 paired requests, app/compare.py vs hand-typed SQL.

    python bench/compare.py                  # 1,000,000 pairs (built once into bench/.cache/)
    python bench/compare.py --pairs 100000   # while developing

The store holds a champion answering every request and a challenger answering most of them
with the same request_id (plus unpaired champion traffic). The peer ("floor") is what a
person would type into the sqlite3 shell: the join with the same counts and sums in one
statement, the join materialised once more for the percentiles, each percentile read with
ORDER BY ... LIMIT 1 OFFSET k (nearest rank). Prints medians of a few runs and the ratio.
Target: within 1.5x of the floor and under 2 s.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.compare import compare  # noqa: E402
from app.config import CompareConfig  # noqa: E402
from app.store import Store  # noqa: E402
from app.store.predictions import PredictionRow  # noqa: E402
from app.timeutil import iso_to_ms  # noqa: E402

CACHE = Path(__file__).resolve().parent / ".cache"
END_MS = iso_to_ms("2026-11-24T00:00:00Z")
SPAN_MS = 7 * 86_400_000
UNPAIRED_SHARE = 0.1


def build(pairs: int, db: Path, batch: int = 100_000) -> None:
    """``pairs`` requests answered by both v1 (champion) and v2 (challenger), plus unpaired v1 traffic."""
    import numpy as np

    from app.store.bulk import BulkWriter

    for path in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
        path.unlink(missing_ok=True)
    rng = np.random.default_rng(11)
    total = int(pairs * (1 + UNPAIRED_SHARE))
    started = time.perf_counter()
    with Store.open(db) as store, BulkWriter(store.conn, drop_indexes=True) as writer:
        for lo in range(0, total, batch):
            n = min(batch, total - lo)
            ts = END_MS - SPAN_MS + (np.arange(lo, lo + n) * SPAN_MS // total)  # evenly spread, in order
            truth = rng.random(n) < 0.3
            latent = np.where(truth, 1.0, -1.0) + rng.normal(0, 1.2, n)
            score_a = 1 / (1 + np.exp(-(latent + rng.normal(0, 0.4, n))))
            score_b = 1 / (1 + np.exp(-(latent + rng.normal(0, 0.35, n))))
            lat_a = np.round(20 * np.exp(0.35 * rng.standard_normal(n)), 2)
            lat_b = np.round(18 * np.exp(0.35 * rng.standard_normal(n)), 2)
            err_a = rng.random(n) < 0.002
            err_b = rng.random(n) < 0.0015
            labelled = rng.random(n) < 0.6
            paired = (np.arange(lo, lo + n) % 11) != 10  # one request in 11 has no challenger answer
            rows = []
            for i in range(n):
                rid = f"req-{lo + i:09d}"
                label = int(truth[i]) if labelled[i] else None
                t = int(ts[i])
                for version, score, lat, err, dt in (("v1", score_a[i], lat_a[i], err_a[i], 0),
                                                     ("v2", score_b[i], lat_b[i], err_b[i], 5)):
                    if version == "v2" and not paired[i]:
                        continue
                    rows.append(PredictionRow(
                        t + dt, "bench", version, rid, None, None if err else int(score >= 0.5),
                        None if err else round(float(score), 4), label, float(lat),
                        "error" if err else "ok", "timeout" if err else None, None, None, ""))
            writer.write(rows)
    print(f"built {db} ({total:,} requests) in {time.perf_counter() - started:.1f} s")


FLOOR_AGGREGATES = """
SELECT count(*), sum(c.status = 'ok' AND p.status = 'ok'),
       sum(c.status = 'ok' AND p.status = 'ok' AND c.prediction IS p.prediction),
       count(c.score - p.score), sum(abs(c.score - p.score) <= 0.05), avg(c.score - p.score),
       avg(abs(c.score - p.score)), sum(p.status = 'error'), sum(c.status = 'error'),
       sum(coalesce(p.label, c.label) IS NOT NULL AND c.status = 'ok' AND p.status = 'ok'),
       sum(coalesce(p.label, c.label) IS NOT NULL AND c.status = 'ok' AND p.status = 'ok'
           AND p.prediction = coalesce(p.label, c.label)),
       sum(coalesce(p.label, c.label) IS NOT NULL AND c.status = 'ok' AND p.status = 'ok'
           AND c.prediction = coalesce(p.label, c.label))
FROM predictions c JOIN predictions p ON p.model = c.model AND p.version = 'v1' AND p.request_id = c.request_id
WHERE c.model = 'bench' AND c.version = 'v2' AND c.ts >= ? AND c.ts < ?"""

FLOOR_PAIRS = """
CREATE TEMP TABLE floor_pairs AS
SELECT p.latency_ms AS la, c.latency_ms AS lb, abs(c.score - p.score) AS d, c.prediction AS pb, p.prediction AS pa
FROM predictions c JOIN predictions p ON p.model = c.model AND p.version = 'v1' AND p.request_id = c.request_id
WHERE c.model = 'bench' AND c.version = 'v2' AND c.ts >= ? AND c.ts < ?"""


def floor(conn, since: int, until: int) -> dict:
    """The hand-typed peer: same counts, sums, percentiles and confusion matrix."""
    out = {}
    out["aggregates"] = conn.execute(FLOOR_AGGREGATES, (since, until)).fetchone()
    conn.execute("DROP TABLE IF EXISTS temp.floor_pairs")
    conn.execute(FLOOR_PAIRS, (since, until))
    counts = conn.execute("SELECT count(la), count(lb), count(lb - la), count(d) FROM floor_pairs").fetchone()
    for name, expr, n in (("lat_a", "la", counts[0]), ("lat_b", "lb", counts[1]), ("lat_diff", "lb - la", counts[2]),
                          ("abs_diff", "d", counts[3])):
        for q in ((50, 95) if name != "abs_diff" else (95,)):
            k = max(0, int(round(q / 100 * n)) - 1)
            out[f"{name}_p{q}"] = conn.execute(
                f"SELECT v FROM (SELECT {expr} AS v FROM floor_pairs) WHERE v IS NOT NULL ORDER BY v LIMIT 1 OFFSET ?",
                (k,)).fetchone()[0]
    out["confusion"] = conn.execute("SELECT pa, pb, count(*) FROM floor_pairs GROUP BY pa, pb").fetchall()
    out["counts"] = conn.execute("SELECT version, count(*) FROM predictions WHERE model = 'bench' AND ts >= ? AND "
                                 "ts < ? GROUP BY version", (since, until)).fetchall()
    conn.execute("DROP TABLE floor_pairs")
    return out


def timed(fn, runs: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()
    CACHE.mkdir(exist_ok=True)
    db = CACHE / f"compare-{args.pairs}.db"
    if args.rebuild or not db.exists():
        build(args.pairs, db)
    since, until = END_MS - SPAN_MS, END_MS
    with Store.open(db) as store:
        conn = store.conn
        config = CompareConfig(score_tolerance=0.05)
        timed(lambda: floor(conn, since, until), 1)  # warm the page cache for both
        ours, result = timed(lambda: compare(conn, "bench", "v1", "v2", since, until, config=config), args.runs)
        peer, floor_result = timed(lambda: floor(conn, since, until), args.runs)
        with_chart, _ = timed(lambda: compare(conn, "bench", "v1", "v2", since, until, config=config,
                                              buckets=60), args.runs)
    assert result.paired == floor_result["aggregates"][0], (result.paired, floor_result["aggregates"][0])
    print(f"paired requests      {result.paired:,} ({result.share_paired * 100:.1f}% of the champion's)")
    print(f"agreement            {result.agreement:.4f}   p95 |score diff| {result.p95_abs_diff:.4f}   "
          f"p95 latency {result.champion.p95_latency_ms:.1f} / {result.challenger.p95_latency_ms:.1f} ms")
    print(f"app.compare.compare  {ours * 1000:8.0f} ms (median of {args.runs})")
    print(f"  with 60-bucket timeline {with_chart * 1000:8.0f} ms")
    print(f"hand-typed SQL floor {peer * 1000:8.0f} ms")
    ratio = ours / peer
    print(f"ratio                {ratio:8.2f}x   target <= 1.5x and < 2 s: "
          f"{'met' if ratio <= 1.5 and ours < 2 else 'NOT met'}")


if __name__ == "__main__":
    main()
