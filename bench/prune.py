"""Benchmark: `prune`'s delete (rows, their free-text entries read back from the index, catalogue counts) against
the two other ways to do it on the same store.

    python bench/prune.py                    # 200,000 rows, the oldest 10 % pruned
    python bench/prune.py --rows 1000000 --share 0.02

Each run copies one freshly built store three times and times, on each copy:
  * modeldeck: ``app.store.retention.delete_before`` (what `modeldeck prune` runs, without archive or VACUUM);
  * rebuild: delete the rows, then rebuild the contentless FTS index from the rows left (schema step 11's way,
    the only other correct one on SQLite 3.40, which cannot DELETE from a contentless FTS5 table);
  * floor: delete the rows only, leaving their FTS entries behind (wrong: a later row that reuses an id inherits
    the pruned row's words); the least any prune can cost.
Prints each time and the ratios modeldeck/floor and modeldeck/rebuild.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.ingest.parse import fts_text  # noqa: E402
from app.store import Store  # noqa: E402
from app.store.bulk import write_all  # noqa: E402
from app.store.predictions import PredictionRow  # noqa: E402
from app.store.retention import delete_before  # noqa: E402
from app.store.schema import _V11  # noqa: E402

DAY = 86_400_000
START = 1_700_000_000_000
WORDS = [f"w{i}" for i in range(3000)] + ["TimeoutError", "bureau-gateway", "DE", "FR", "eu west"]


def build(path: Path, rows: int) -> None:
    import orjson

    rng = random.Random(1)
    span = 500 * DAY
    batch: list[PredictionRow] = []
    with Store.open(path) as store:
        for i in range(rows):
            features = {"amount": rng.randint(0, 2000), "country": rng.choice(WORDS[-3:]),
                        "note": " ".join(rng.choice(WORDS) for _ in range(4))}
            context = {"region": rng.choice(["eu-west", "us-east"]), "trace_id": f"{rng.getrandbits(64):016x}"}
            batch.append(PredictionRow(START + i * span // rows, "fraud", f"v{1 + i % 3}", f"req-{i:09d}",
                                       f"cust-{i % 50_000}", 1, 0.3, None, 12.0, "ok", None,
                                       orjson.dumps(features).decode(), orjson.dumps(context).decode(),
                                       fts_text(features, context)))
            if len(batch) == 50_000:
                write_all(store.conn, [batch])
                batch = []
        if batch:
            write_all(store.conn, [batch])


def timed(path: Path, cutoff: int, how: str) -> float:
    with Store.open(path) as store:
        started = time.perf_counter()
        with store.write():
            if how == "modeldeck":
                delete_before(store, cutoff)
            else:
                store.conn.execute("DELETE FROM predictions WHERE ts < ?", (cutoff,))
                if how == "rebuild":
                    for statement in _V11.split("-- A re-ingested")[0].split(";\n"):
                        if statement.strip():
                            store.conn.execute(statement)
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--share", type=float, default=0.10, help="Share of the rows pruned (the oldest).")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "base.db"
        t0 = time.perf_counter()
        build(base, args.rows)
        print(f"built {args.rows:,} rows in {time.perf_counter() - t0:.1f} s")
        cutoff = START + int(500 * DAY * args.share)
        results = {}
        for how in ("modeldeck", "rebuild", "floor"):
            copy = Path(tmp) / f"{how}.db"
            with Store.open(base) as store:
                store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            shutil.copy(base, copy)
            results[how] = timed(copy, cutoff, how)
            print(f"{how:<10} {results[how]:7.2f} s")
        print(f"modeldeck/floor {results['modeldeck'] / results['floor']:.2f}x, "
              f"modeldeck/rebuild {results['modeldeck'] / results['rebuild']:.2f}x "
              f"({int(args.rows * args.share):,} of {args.rows:,} rows pruned)")


if __name__ == "__main__":
    main()
