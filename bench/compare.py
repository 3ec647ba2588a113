"""Benchmark: champion vs challenger over 1,000,000 paired requests, app/compare/ vs hand-typed SQL.

    python bench/compare.py                  # 1,000,000 pairs (built once into bench/.cache/)
    python bench/compare.py --pairs 100000   # while developing
    python bench/compare.py --ids random     # request ids in random order (UUID-like) instead of sequential

The store holds a champion answering every request and a challenger answering most of them
with the same request_id (plus unpaired champion traffic). The peer ("floor") is what a
person would type into the sqlite3 shell: the join with the same counts and sums in one
statement, the join materialised once more for the percentiles, each percentile read with
ORDER BY ... LIMIT 1 OFFSET k (nearest rank). Request ids are sequential by default
(req-000000001, ...: each lookup of the champion's answer lands next to the previous one);
``--ids random`` gives every request a random id, as UUIDs do, so each lookup lands on a
random index page (slower for both). Both run on the same connection and store,
with the store's indexes (built by the load, which is timed once when the cache is built; a
cache from before schema 5 is migrated once by Store.open, untimed). Prints medians of a few
runs and the ratio. Target: within 1.5x of the floor and under 2 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.compare.pairing import compare  # noqa: E402
from app.store import compare as q  # noqa: E402
from app.config.settings import CompareConfig  # noqa: E402
from app.store import Store  # noqa: E402
from app.store.predictions import PredictionRow  # noqa: E402
from app.timeutil import iso_to_ms  # noqa: E402

CACHE = Path(__file__).resolve().parent / ".cache"
END_MS = iso_to_ms("2026-11-24T00:00:00Z")
SPAN_MS = 7 * 86_400_000
UNPAIRED_SHARE = 0.1


def build(pairs: int, db: Path, batch: int = 100_000, *, random_ids: bool = False) -> None:
    """``pairs`` requests answered by both v1 (champion) and v2 (challenger), plus unpaired v1 traffic.

    ``random_ids``: the same rows, but request ids in random order (a random hex prefix)."""
    import numpy as np

    from app.store.bulk import BulkWriter

    for path in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
        path.unlink(missing_ok=True)
    rng = np.random.default_rng(11)
    id_rng = np.random.default_rng(12)  # separate, so the rows' values are the same either way
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
            prefixes = id_rng.integers(0, 1 << 60, n) if random_ids else None
            rows = []
            for i in range(n):
                rid = f"{prefixes[i]:015x}-{lo + i}" if random_ids else f"req-{lo + i:09d}"
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


FLOOR_PAIRS = """
CREATE TEMP TABLE floor_pairs AS
SELECT c.ts AS ts, p.prediction AS pa, c.prediction AS pb, p.score AS sa, c.score AS sb,
       coalesce(p.label, c.label) AS label, p.latency_ms AS la, c.latency_ms AS lb,
       p.status = 'error' AS ea, c.status = 'error' AS eb
FROM predictions c JOIN predictions p ON p.model = c.model AND p.version = 'v1' AND p.request_id = c.request_id
WHERE c.model = 'bench' AND c.version = 'v2' AND c.ts >= ? AND c.ts < ?"""

FLOOR_AGGREGATES = """
SELECT count(*), sum(NOT ea AND NOT eb), sum(NOT ea AND NOT eb AND pa IS pb),
       count(sb - sa), sum(abs(sb - sa) <= 0.05), avg(sb - sa), avg(abs(sb - sa)), sum(ea), sum(eb),
       count(la), count(lb), count(lb - la),
       sum(label IS NOT NULL AND NOT ea AND NOT eb),
       sum(label IS NOT NULL AND NOT ea AND NOT eb AND pa = label),
       sum(label IS NOT NULL AND NOT ea AND NOT eb AND pb = label)
FROM floor_pairs"""

JOIN_ONLY = """
SELECT count(*) FROM predictions c JOIN predictions p
  ON p.model = c.model AND p.version = 'v1' AND p.request_id = c.request_id
WHERE c.model = 'bench' AND c.version = 'v2' AND c.ts >= ? AND c.ts < ?"""


def floor(conn, since: int, until: int) -> dict:
    """The hand-typed peer: the join once into a temp table, the same counts and sums in one
    statement, each percentile by ORDER BY ... LIMIT 1 OFFSET k, the confusion matrix, the counts."""
    out = {}
    out["counts"] = conn.execute("SELECT version, count(*) FROM predictions WHERE model = 'bench' AND ts >= ? AND "
                                 "ts < ? GROUP BY version", (since, until)).fetchall()
    conn.execute("DROP TABLE IF EXISTS temp.floor_pairs")
    conn.execute(FLOOR_PAIRS, (since, until))
    out["aggregates"] = row = conn.execute(FLOOR_AGGREGATES).fetchone()
    for name, expr, n in (("lat_a", "la", row[9]), ("lat_b", "lb", row[10]), ("lat_diff", "lb - la", row[11]),
                          ("abs_diff", "abs(sb - sa)", row[3])):
        for q in ((50, 95) if name != "abs_diff" else (95,)):
            k = max(0, int(round(q / 100 * n)) - 1)
            out[f"{name}_p{q}"] = conn.execute(
                f"SELECT v FROM (SELECT {expr} AS v FROM floor_pairs) WHERE v IS NOT NULL ORDER BY v LIMIT 1 OFFSET ?",
                (k,)).fetchone()[0]
    out["confusion"] = conn.execute("SELECT pa, pb, count(*) FROM floor_pairs WHERE NOT ea AND NOT eb "
                                    "GROUP BY pa, pb").fetchall()
    conn.execute("DROP TABLE floor_pairs")
    return out


def timed(fn, runs: int) -> tuple[float, float, object]:
    """Median wall and median CPU seconds of ``runs`` calls (CPU time: the machine is shared). CPU counts
    this process and the helper processes it waited for (a long pairing reads half its ids in one)."""
    walls, cpus, result = [], [], None

    def cpu() -> float:
        t = os.times()
        return t.user + t.system + t.children_user + t.children_system

    for _ in range(runs):
        t0, c0 = time.perf_counter(), cpu()
        result = fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(cpu() - c0)
    return statistics.median(walls), statistics.median(cpus), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--ids", choices=("sequential", "random"), default="sequential")
    args = parser.parse_args()
    CACHE.mkdir(exist_ok=True)
    db = CACHE / f"compare-{args.pairs}{'-random' if args.ids == 'random' else ''}.db"
    if args.rebuild or not db.exists():
        build(args.pairs, db, random_ids=args.ids == "random")
    since, until = END_MS - SPAN_MS, END_MS
    with Store.open(db) as store:
        conn = store.conn
        config = CompareConfig(score_tolerance=0.05)
        timed(lambda: floor(conn, since, until), 1)  # warm the page cache for both
        ours, ours_cpu, result = timed(lambda: compare(store, "bench", "v1", "v2", since, until, config=config),
                                       args.runs)
        peer, peer_cpu, floor_result = timed(lambda: floor(conn, since, until), args.runs)
        join, join_cpu, _ = timed(lambda: conn.execute(JOIN_ONLY, (since, until)).fetchone(), args.runs)
        chart, chart_cpu, _ = timed(lambda: compare(store, "bench", "v1", "v2", since, until, config=config,
                                                    buckets=60), args.runs)
        # The same comparison read in one process (no helper for the upper half of the ids): the change's before.
        split_at, q.SPLIT_MIN_PAIRS = q.SPLIT_MIN_PAIRS, sys.maxsize
        try:
            single, single_cpu, single_result = timed(
                lambda: compare(store, "bench", "v1", "v2", since, until, config=config), args.runs)
        finally:
            q.SPLIT_MIN_PAIRS = split_at
    assert single_result == result, "one process and two must give the same comparison"
    assert result.paired == floor_result["aggregates"][0], (result.paired, floor_result["aggregates"][0])
    print(f"paired requests      {result.paired:,} ({result.share_paired * 100:.1f}% of the champion's; "
          f"{args.ids} request ids)")
    print(f"agreement            {result.agreement:.4f}   p95 |score diff| {result.p95_abs_diff:.4f}   "
          f"p95 latency {result.champion.p95_latency_ms:.1f} / {result.challenger.p95_latency_ms:.1f} ms")
    print(f"                           wall      cpu   (medians of {args.runs})")
    print(f"app.compare.pairing.compare    {ours:8.2f} s {ours_cpu:7.2f} s")
    print(f"  + 60-bucket timeline {chart:8.2f} s {chart_cpu:7.2f} s")
    print(f"  read in one process  {single:8.2f} s {single_cpu:7.2f} s   (two processes: {ours / single:.2f}x)")
    print(f"hand-typed SQL floor   {peer:8.2f} s {peer_cpu:7.2f} s")
    print(f"the join alone (count) {join:8.2f} s {join_cpu:7.2f} s")
    ratio, ratio_cpu = ours / peer, ours_cpu / peer_cpu
    print(f"ratio to the floor     {ratio:8.2f}x {ratio_cpu:7.2f}x   target <= 1.5x: {'met' if ratio <= 1.5 else 'NOT met'}; "
          f"< 2 s: {'met' if ours < 2 else 'NOT met'} (wall), {'met' if ours_cpu < 2 else 'NOT met'} (cpu)")


if __name__ == "__main__":
    main()
