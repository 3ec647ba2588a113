"""Benchmark: what a million predictions cost on PostgreSQL, for the billion-row plan (ARCHITECTURE.md).

    python bench/pg_scale.py --db local --rows 1000000     # a throwaway server (tests/support/postgres.py)
    python bench/pg_scale.py --db postgresql://owner@host/postgres --rows 1000000   # a role with CREATEDB
    python bench/pg_scale.py --keep /tmp/pg10m --rows 10000000   # a server whose load is kept between runs

``--keep DIR`` runs the throwaway server in DIR and keeps it (stopped) with its database afterwards: a
later run with the same DIR and ``--rows`` measures again without loading (a 10M load takes most of an
hour on a shared machine). Delete DIR when done (about 13 GB at 10M rows).

Loads bench/ingest.py's log (``--seed-rows`` records, generated once into bench/.cache/) through the
store's own ``predictions.append`` (validated rows, keys claimed, day partitions, every index), then copies
those rows server-side until the log holds ``--rows`` (each copy a few ms later with its own request ids,
through the same partitioned table and indexes; the tsvector keeps the seed's words), summarises the zone
map again (the copies go around ingest's upkeep), VACUUM ANALYZE.
Prints:

* bytes per million rows: the log's heap (with TOAST), each index summed over the day partitions, and
  ``prediction_keys`` (the cross-ingester uniqueness) with its indexes; rows and bytes of a day partition;
* the first page (50 rows) of each search class through ``app.search`` (parse, resolve the names against the
  catalogue, compile, run; median of ``--runs``, warm) beside the same page written by hand in SQL (the
  floor: the page's columns, as the console needs them), and the ratio; then the hand SQL selecting ids
  only, for reference (the (..., ts, id) indexes answer that from the index alone, without the rows).

Sizes do not depend on the machine's load; the timings do, so the ratio is what compares.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

MB = 1 << 20

# (class, modeldeck query, the same first page by hand)
CLASSES = [
    ("request id", "request:{request}",
     "SELECT id FROM predictions WHERE request_id = %(request)s ORDER BY ts DESC, id DESC LIMIT 50"),
    ("entity id", "entity:{entity}",
     "SELECT id FROM predictions WHERE entity_id = %(entity)s ORDER BY ts DESC, id DESC LIMIT 50"),
    ("model, newest", "model:fraud-scorer",
     "SELECT id FROM predictions WHERE model = 'fraud-scorer' ORDER BY ts DESC, id DESC LIMIT 50"),
    ("model+version, a day", "model:fraud-scorer version:v2.4.0-rc1 since:{day} until:{day_end}",
     "SELECT id FROM predictions WHERE model = 'fraud-scorer' AND version = 'v2.4.0-rc1' AND ts >= %(day_ms)s "
     "AND ts < %(day_end_ms)s ORDER BY ts DESC, id DESC LIMIT 50"),
    ("errors of a model", "model:credit-limit status:error",
     "SELECT id FROM predictions WHERE model = 'credit-limit' AND status = 'error' ORDER BY ts DESC, id DESC LIMIT 50"),
    ("free text", '"feature store unavailable"',
     "SELECT id FROM predictions WHERE tsv @@ phraseto_tsquery('simple', 'feature store unavailable') "
     "ORDER BY ts DESC, id DESC LIMIT 50"),
    ("rare score", "score>=0.9",
     "SELECT id FROM predictions WHERE score >= 0.9 ORDER BY ts DESC, id DESC LIMIT 50"),
    ("slow requests", "latency_ms>400",
     "SELECT id FROM predictions WHERE latency_ms > 400 ORDER BY ts DESC, id DESC LIMIT 50"),
]


def _medians_ms(fns: list, runs: list[int]) -> list[float]:
    """Each function's median time over its runs, warm; the runs taken in turn (ours, the hand SQL, ...), so
    a load that changes over the minute (other engineers' jobs) weighs on each alike."""
    for fn in fns:
        fn()  # warm
    times: list[list[float]] = [[] for _ in fns]
    for turn in range(max(runs)):
        for fn, n, taken in zip(fns, runs, times):
            if turn < n:
                started = time.perf_counter()
                fn()
                taken.append((time.perf_counter() - started) * 1000)
    return [statistics.median(taken) for taken in times]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="local")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed-rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", type=Path, default=None, help="keep the server and its load in this dir")
    args = parser.parse_args()

    import psycopg

    from app.store.pg.store import PgStore
    from app.store.pg.url import PgUrl
    from ingest import CACHE, generate  # bench/ingest.py's log

    jsonl = CACHE / f"ingest-{args.seed_rows}.jsonl"
    if not jsonl.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        generate(args.seed_rows, jsonl)
    server = None
    if args.keep is not None:
        from tests.support.postgres import PostgresServer

        server = PostgresServer.start_kept(args.keep.resolve())
        base = server.url()
        os.environ["PGPASSWORD"] = server.password
    elif args.db == "local":
        from tests.support.postgres import PostgresServer

        server = PostgresServer.start()
        base = server.url()
        os.environ["PGPASSWORD"] = server.password
    else:
        base = args.db
    admin = PgUrl.parse(base)
    scratch = f"modeldeck_scale_{args.rows}" if args.keep else f"modeldeck_scale_{os.getpid()}"
    try:
        with psycopg.connect(**admin.connect_kwargs(), autocommit=True) as conn:  # type: ignore[arg-type]
            print(f"PostgreSQL {conn.execute('SHOW server_version').fetchone()[0]}, {os.cpu_count()} cores")
            loaded = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (scratch,)).fetchone()
            if loaded and not args.keep:
                raise SystemExit(f"{scratch} exists already")
            if not loaded:
                conn.execute(f'CREATE DATABASE "{scratch}"')
        url = PgUrl(admin.user, admin.host, admin.port, scratch, admin.options, admin.password_env)
        store = PgStore.open(url)
        pg = store.pg
        if not loaded:
            _load(store, jsonl, args.rows)
        elif not pg.execute("SELECT to_regclass('load_done') IS NOT NULL").fetchone()[0]:
            raise SystemExit(f"{scratch} in {args.keep} was not fully loaded: delete {args.keep} and run again")
        _report(store, args.runs)
        store.close()
    finally:
        if args.keep is None:
            with psycopg.connect(**admin.connect_kwargs(), autocommit=True) as conn:  # type: ignore[arg-type]
                conn.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
        if server is not None:
            server.halt() if args.keep is not None else server.stop()


def _load(store, jsonl: Path, total_rows: int) -> None:
    """The seed log through ``predictions.append``, then server-side copies up to ``total_rows``."""
    from app.ingest.parse import parse_block
    from app.store.pg.schema import ZONE_BACKFILL, split_statements

    pg = store.pg
    started = time.perf_counter()
    rows = parse_block(jsonl.read_bytes(), 1).rows
    for at in range(0, len(rows), 50_000):
        store.predictions.append(rows[at:at + 50_000])
    print(f"seed: {len(rows):,} rows through predictions.append in {time.perf_counter() - started:.1f} s", flush=True)
    copies = -(-total_rows // len(rows)) - 1
    # The copies read the seed from its own table: filtering it out of a growing log would read the log again
    # for every copy (quadratic at 10M rows).
    pg.execute("CREATE UNLOGGED TABLE seed AS SELECT * FROM predictions ORDER BY ts")
    for k in range(1, copies + 1):
        take = min(len(rows), total_rows - k * len(rows))
        started = time.perf_counter()
        pg.execute(
            "WITH src AS (SELECT * FROM seed ORDER BY ts LIMIT %s), "
            "ins AS (INSERT INTO predictions (id, ts, model, version, request_id, entity_id, prediction, score, "
            "label, latency_ms, status, error, features, context, tsv) "
            "SELECT nextval('predictions_id_seq'), ts + %s, model, version, request_id || '~' || %s, entity_id, "
            "prediction, score, label, latency_ms, status, error, features, context, tsv FROM src ORDER BY ts "
            "RETURNING model, version, request_id, id, ts) "
            "INSERT INTO prediction_keys (model, version, request_id, id, ts) SELECT * FROM ins", (take, k, k))
        print(f"  copy {k}: {take:,} rows in {time.perf_counter() - started:.1f} s", flush=True)
    pg.execute("DROP TABLE seed")
    pg.execute("UPDATE versions v SET logged_rows = (SELECT count(*) FROM prediction_keys k "
               "WHERE k.model = v.model AND k.version = v.version)")
    # The copies went around ingest's zone-map upkeep: summarise the log again, as the migration does.
    with pg.transaction():
        for statement in split_statements(ZONE_BACKFILL):
            pg.execute(statement)  # type: ignore[arg-type]
    pg.execute("VACUUM ANALYZE")
    pg.execute("CREATE TABLE load_done ()")  # a kept load is measured again without loading


def _report(store, runs: int) -> None:
    """Bytes per million rows, then the first page of each search class beside the hand SQL."""
    from app.search.searcher import Searcher
    from app.store.pg.predictions import SELECT_COLUMNS
    from app.timeutil import ms_to_iso

    pg = store.pg
    total = pg.execute("SELECT count(*) FROM prediction_keys").fetchone()[0]
    per_m = 1_000_000 / total
    print(f"\n{total:,} rows; bytes per million rows (summed over the day partitions):")
    parts = pg.execute("SELECT c.oid, c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                       "WHERE i.inhparent = 'predictions'::regclass").fetchall()
    heap = sum(pg.execute("SELECT pg_table_size(%s)", (oid,)).fetchone()[0] for oid, _ in parts)
    print(f"  {'log heap + TOAST':<36} {heap * per_m / MB:>8.1f} MB")
    by_index: dict[str, int] = {}
    for parent, in pg.execute("SELECT indexrelid::regclass::text FROM pg_index "
                              "WHERE indrelid = 'predictions'::regclass").fetchall():
        size = pg.execute("SELECT sum(pg_relation_size(relid)) FROM pg_partition_tree(%s::regclass) "
                          "WHERE isleaf", (parent,)).fetchone()[0] or 0
        by_index[parent] = int(size)
    for name, size in sorted(by_index.items(), key=lambda kv: -kv[1]):
        print(f"  {'index ' + name:<36} {size * per_m / MB:>8.1f} MB")
    keys = pg.execute("SELECT pg_total_relation_size('prediction_keys')").fetchone()[0]
    print(f"  {'prediction_keys (+ its indexes)':<36} {keys * per_m / MB:>8.1f} MB")
    zones = pg.execute("SELECT pg_total_relation_size('zone_blocks') + pg_total_relation_size('zone_features')"
                       ).fetchone()[0]
    print(f"  {'zone map (+ its indexes)':<36} {zones * per_m / MB:>8.1f} MB")
    everything = heap + sum(by_index.values()) + keys + zones
    print(f"  {'total':<36} {everything * per_m / MB:>8.1f} MB")
    days = pg.execute("SELECT count(*) FILTER (WHERE n > 0), max(n) FROM (SELECT (ts / 86400000) AS d, count(*) AS n "
                      "FROM prediction_keys GROUP BY d) AS x").fetchone()
    print(f"  {days[0]} day partitions with rows, the fullest {days[1]:,} rows")

    sample = pg.execute("SELECT request_id, entity_id FROM predictions ORDER BY ts DESC LIMIT 1 OFFSET 5000").fetchone()
    newest = pg.execute("SELECT max(ts) FROM prediction_keys").fetchone()[0]
    day_end = newest - newest % 86_400_000
    values = {"request": sample[0], "entity": sample[1], "day": ms_to_iso(day_end - 86_400_000),
              "day_end": ms_to_iso(day_end)}
    params = {**values, "day_ms": day_end - 86_400_000, "day_end_ms": day_end}
    searcher = Searcher(store)
    print(f"\nfirst page (50 rows), median of {runs} warm runs taken in turn, ms:")
    print(f"  {'class':<24} {'modeldeck':>10} {'hand SQL':>10} {'ratio':>7} {'ids only':>9}")
    for name, query, sql in CLASSES:
        text = query.format(**values)
        # What the console does for a query typed: parse, resolve its names against the catalogue, one page.
        page_sql = sql.replace("SELECT id FROM", f"SELECT {SELECT_COLUMNS} FROM", 1)
        # The hand SQL of the rare classes reads every row (seconds at 10M): once is a fair floor for it.
        floor_runs = 1 if name in ("rare score", "slow requests") else runs
        ours, hand, ids = _medians_ms([lambda: searcher.page(searcher.resolve(searcher.parse(text)).query),
                                       lambda: pg.execute(page_sql, params).fetchall(),
                                       lambda: pg.execute(sql, params).fetchall()], [runs, floor_runs, floor_runs])
        print(f"  {name:<24} {ours:>10.2f} {hand:>10.2f} {ours / hand:>6.1f}x {ids:>9.2f}", flush=True)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
