"""Benchmark: bytes per prediction, per component of the store (issue 18 item 5), from SQLite's dbstat.

    python bench/storage.py                       # a 1,000,000-row demo store (built once into bench/.cache/)
    python bench/storage.py --rows 200000         # while developing
    python bench/storage.py --store A.db --store B.db   # existing stores side by side (e.g. before/after)
    python bench/storage.py --migrated A.db       # also: a copy of A.db migrated by this tree, beside A.db
    python bench/storage.py --what-if             # also: what each way of shrinking a row would save, measured

Each store's pages are summed per table and index (``dbstat``: what the file really holds, free space
inside pages included) and divided by its prediction count; the table's JSON columns are split out
by their average stored length. The peer is the same rows as compact JSON Lines (the records as
ingest reads them, written from the store) and gzip of that: what the log costs outside a store.
"""

from __future__ import annotations

import argparse
import gzip
import os
import re
import sqlite3
import string
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CACHE = Path(os.environ.get("BENCH_CACHE") or ROOT / "bench" / ".cache")
END_MS = 1_795_478_400_000  # 2026-11-24T00:00:00Z, as bench/search.py


def build(rows: int, db: Path) -> None:
    """``rows`` predictions from the demo's generator (the same builder as ``modeldeck demo``)."""
    from app.demo.build import build_demo_store

    started = time.perf_counter()
    build_demo_store(db, rows=rows, now_ms=END_MS, baseline_rows=1000)
    print(f"built {rows:,} rows in {time.perf_counter() - started:.0f} s", file=sys.stderr)


def _group(name: str) -> str:
    """The component a dbstat object belongs to: FTS5's shadow tables are one component."""
    if name.startswith("predictions_fts"):
        return "FTS (predictions_fts*)"
    if name.startswith("zone_"):
        return "zone maps (zone_*)"
    return name


def components(db: Path) -> tuple[int, dict[str, int], dict[str, float]]:
    """(rows, bytes per component, average stored bytes of the table's big columns)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT count(*) FROM predictions").fetchone()[0]
        sizes: dict[str, int] = {}
        for name, size in conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name"):
            sizes[_group(name)] = sizes.get(_group(name), 0) + size
        columns = dict(zip(("features", "context", "request_id", "entity_id", "error"), conn.execute(
            "SELECT avg(coalesce(length(CAST(features AS BLOB)), 0)), avg(coalesce(length(CAST(context AS BLOB)), 0)), "
            "avg(coalesce(length(CAST(request_id AS BLOB)), 0)), avg(coalesce(length(CAST(entity_id AS BLOB)), 0)), "
            "avg(coalesce(length(CAST(error AS BLOB)), 0)) FROM predictions").fetchone()))
        return rows, sizes, {k: v or 0.0 for k, v in columns.items()}
    finally:
        conn.close()


def jsonl_bytes(db: Path) -> tuple[int, int]:
    """(compact JSON Lines, gzip -6 of it) for the store's predictions (the peer: the log as a file)."""
    import orjson

    from app.store.json_keys import register
    from app.store.predictions import COLUMNS, SELECT_COLUMNS, record_from_row

    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    register(conn)  # rows hold coded JSON keys: the log is written with their names
    raw = 0
    packer = gzip.compress  # whole-chunk compression approximates `gzip -6` of the file
    packed = 0
    chunk: list[bytes] = []
    for row in conn.execute(f"SELECT {SELECT_COLUMNS} FROM predictions ORDER BY id"):
        line = orjson.dumps(record_from_row(dict(zip(COLUMNS, row)))) + b"\n"
        raw += len(line)
        chunk.append(line)
        if len(chunk) == 50_000:
            packed += len(packer(b"".join(chunk)))
            chunk = []
    if chunk:
        packed += len(packer(b"".join(chunk)))
    conn.close()
    return raw, packed


def report(stores: list[Path], peers: bool) -> None:
    measured = [(db, *components(db)) for db in stores]
    names = sorted({name for _, _, sizes, _ in measured for name in sizes},
                   key=lambda n: -max(sizes.get(n, 0) / max(rows, 1) for _, rows, sizes, _ in measured))
    width = max(12, *(len(db.name) for db in stores))
    print(f"\nbytes per prediction (dbstat pages / rows)")
    print(f"{'component':<40}" + "".join(f"{db.name:>{width + 2}}" for db in stores))
    totals = [0.0] * len(measured)
    for name in names:
        cells = []
        for i, (_, rows, sizes, _) in enumerate(measured):
            per_row = sizes.get(name, 0) / max(rows, 1)
            totals[i] += per_row
            cells.append(f"{per_row:>{width + 2}.1f}" if name in sizes else f"{'-':>{width + 2}}")
        if any(sizes.get(name, 0) / max(rows, 1) >= 0.5 for _, rows, sizes, _ in measured):
            print(f"{name:<40}" + "".join(cells))
    print(f"{'total':<40}" + "".join(f"{t:>{width + 2}.1f}" for t in totals))
    print(f"\n{'inside the table (average stored bytes)':<40}")
    for column in ("features", "context", "request_id", "entity_id", "error"):
        print(f"  {column:<38}" + "".join(f"{columns[column]:>{width + 2}.1f}" for _, _, _, columns in measured))
    print(f"{'rows':<40}" + "".join(f"{rows:>{width + 2},}" for _, rows, _, _ in measured))
    if len(measured) > 1 and totals[0]:
        print(f"\n{measured[-1][0].name} / {measured[0][0].name}: {totals[-1] / totals[0]:.3f}x bytes per row "
              f"({(1 - totals[-1] / totals[0]) * 100:.1f}% less; target: at least 33% less)")
    if peers:
        raw, packed = jsonl_bytes(stores[-1])
        rows = measured[-1][1]
        print(f"\npeers for {stores[-1].name}: JSON Lines {raw / rows:.1f} B/row "
              f"(store {totals[-1] / (raw / rows):.2f}x), gzip {packed / rows:.1f} B/row "
              f"(store {totals[-1] / (packed / rows):.1f}x)")


_ID_LIKE = re.compile(r"^(?:[0-9a-f]{12,}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$")


def _keys_coded(value: Any, codes: dict[str, str]) -> Any:
    """``value`` with every object key replaced by a short code, given in order of first sight (a, b, ..., aa)."""
    if isinstance(value, dict):
        out = {}
        for key, inner in value.items():
            if key not in codes:
                n, code = len(codes), ""
                while True:
                    code = string.ascii_letters[n % 52] + code
                    n = n // 52 - 1
                    if n < 0:
                        break
                codes[key] = code
            out[codes[key]] = _keys_coded(inner, codes)
        return out
    if isinstance(value, list):
        return [_keys_coded(inner, codes) for inner in value]
    return value


def what_if(db: Path, scratch: Path, sample: int) -> None:
    """Measured, on the newest ``sample`` rows of ``db``, what each candidate change would save per row:
    JSON keys kept once per store (rows hold short codes), and free-text indexes built by other rules
    (the sizes of a FTS5 index, like its words, depend on the rows, so each is built and measured)."""
    import orjson

    from app.ingest.parse import fts_text

    from app.store.json_keys import names_sql, register

    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    register(conn)  # measured on the records as logged (a store of step 18 on holds codes)
    rows = conn.execute(f"SELECT id, {names_sql('features')}, {names_sql('context')}, error FROM predictions "
                        "ORDER BY id DESC LIMIT ?",
                        (sample,)).fetchall()
    conn.close()
    codes: dict[str, str] = {}
    raw = {"features": 0, "context": 0}
    coded = {"features": 0, "context": 0}
    parsed = []
    for _, features, context, error in rows:
        objects = []
        for name, text in (("features", features), ("context", context)):
            value = orjson.loads(text) if text else None
            objects.append(value)
            raw[name] += len(text or "")
            coded[name] += len(orjson.dumps(_keys_coded(value, codes))) if text else 0
        parsed.append((objects, error))
    n = max(len(rows), 1)
    print(f"\nwhat if (measured on the newest {len(rows):,} rows of {db.name})")
    saved = sum(raw.values()) - sum(coded.values())
    print(f"  JSON keys once per store ({len(codes)} keys), rows hold short codes: features {raw['features'] / n:.1f} -> "
          f"{coded['features'] / n:.1f} B, context {raw['context'] / n:.1f} -> {coded['context'] / n:.1f} B: "
          f"about {saved / n:.1f} B/row less in the table")

    def values_only(objects: list[Any]) -> str:
        return " ".join(v for o in objects if o for v in o.values() if isinstance(v, str))

    rules = {
        "ingest's rule (keys and text values of features and context)": (lambda o: fts_text(*o), "full"),
        "ingest's rule, detail=column (no positions: phrase queries refused)": (lambda o: fts_text(*o), "column"),
        "values only, no keys (the demo generator's rule)": (values_only, "full"),
        "ingest's rule without id-like values (hex >= 12, uuid)": (
            lambda o: " ".join(w for w in fts_text(*o).split(" ") if not _ID_LIKE.match(w)), "full"),
        "features only (no context)": (lambda o: fts_text(o[0]), "full"),
    }
    for label, (text_of, detail) in rules.items():
        path = scratch / "fts.db"
        path.unlink(missing_ok=True)
        fts = sqlite3.connect(path)
        fts.execute(f"CREATE VIRTUAL TABLE f USING fts5 (text, error, content = '', columnsize = 0, detail = {detail}, "
                    "tokenize = 'unicode61')")
        fts.executemany("INSERT INTO f (rowid, text, error) VALUES (?, ?, ?)",
                        ((row[0], text_of(objects), error) for row, (objects, error) in zip(rows, parsed)))
        fts.execute("INSERT INTO f (f) VALUES ('optimize')")
        fts.commit()
        size = fts.execute("SELECT sum(pgsize) FROM dbstat WHERE name LIKE 'f_%'").fetchone()[0]
        fts.close()
        print(f"  free text by {label:<66} {size / n:6.1f} B/row")


def migrated_copy(db: Path, scratch: Path) -> Path:
    """A copy of ``db`` opened (so migrated) by this tree, then VACUUMed so free pages do not count."""
    from app.store import Store

    copy = scratch / f"{db.stem}-migrated.db"
    src = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    dst = sqlite3.connect(copy)
    src.backup(dst)
    src.close()
    dst.close()
    started = time.perf_counter()
    with Store.open(copy):
        pass
    print(f"migrated a copy of {db.name} in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    conn = sqlite3.connect(copy)
    conn.execute("VACUUM")
    conn.close()
    return copy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--store", type=Path, action="append", default=[],
                        help="measure this store (repeatable; the last is compared with the first)")
    parser.add_argument("--migrated", type=Path, default=None,
                        help="measure this store and a copy of it migrated by this tree")
    parser.add_argument("--no-peers", action="store_true", help="skip the JSON Lines and gzip figures")
    parser.add_argument("--what-if", action="store_true", help="also measure what candidate changes would save")
    parser.add_argument("--sample", type=int, default=200_000, help="rows the --what-if figures are measured on")
    args = parser.parse_args()
    stores = list(args.store)
    with tempfile.TemporaryDirectory(prefix="modeldeck-storage-", dir=CACHE if CACHE.exists() else None) as scratch:
        if args.migrated is not None:
            stores += [args.migrated, migrated_copy(args.migrated, Path(scratch))]
        if not stores:
            CACHE.mkdir(parents=True, exist_ok=True)
            db = CACHE / f"storage-{args.rows}.db"
            if not db.exists():
                print(f"building {args.rows:,} rows into {db} (once; cached)", file=sys.stderr)
                build(args.rows, db)
            stores = [db]
        report(stores, not args.no_peers)
        if args.what_if:
            what_if(stores[-1], Path(scratch), args.sample)
    load = os.getloadavg()[0]
    print(f"\nload average {load:.1f} on {os.cpu_count()} cores (sizes do not depend on it)")


if __name__ == "__main__":
    main()
