"""Benchmark: first page of each query class through app/search/ vs grep/rg and hand-written SQL.

    python bench/search.py                  # 10,000,000 rows (built once into bench/.cache/, minutes)
    python bench/search.py --rows 1000000   # while developing
    python bench/search.py --store /tmp/demo1m.db   # the scale targets on an existing store (read-only)
    python bench/search.py --rows 1000000 --no-cold # skip the cold-cache runs (they drop the page cache)

Builds (or reuses) a store of N predictions with the demo's generator (``app.demo.build``: the
same vectorised traffic as ``modeldeck demo``, one function call, no copy of it here) and the
very same records as JSON Lines (exported from the store), then times, per query class,
modeldeck's first page (parse + compile + run), the SQL a user would type into the sqlite3
shell, and `grep -m 50` (and `rg -m 50` when installed) over the JSONL. Prints medians and ratios.

The rare classes (issue 18: a version never logged, a rare score, a rare feature value, a value
nothing matches) are also timed against DuckDB on the same rows (loaded from the JSONL into
bench/.cache/search-N.duckdb; DuckDB lives in its own venv, bench/.cache/duckdb-venv, created on
first use like bench/drift.py's Evidently venv), warm (median) and cold: one run in a fresh process
each, which loads its program and then drops the page cache (``echo 3 > /proc/sys/vm/drop_caches``,
as root) before it opens the file, so the database comes from the disk and the code does not.

grep reads the file from the top, so `grep -m 50` answers with the OLDEST 50 matches (the log
is in time order), while modeldeck answers with the newest 50. `tac FILE | grep -m 50` gives the
same answer as modeldeck and is printed beside it; both are peers, neither is hidden.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Iterator

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.search.searcher import ROW_COLUMNS, Searcher  # noqa: E402
from app.store import Store  # noqa: E402
from app.timeutil import iso_to_ms, ms_to_iso  # noqa: E402

CACHE = Path(os.environ.get("BENCH_CACHE") or Path(__file__).resolve().parent / ".cache")
END_MS = iso_to_ms("2026-11-24T00:00:00Z")


def build(rows: int, db: Path, jsonl: Path) -> None:
    """``rows`` predictions from the demo's generator into the store, then the same records as JSONL."""
    from app.demo.build import build_demo_store

    for path in (db, jsonl, Path(f"{db}-wal"), Path(f"{db}-shm")):
        path.unlink(missing_ok=True)
    started = time.perf_counter()
    # The demo's traffic (30 days ending END_MS); small drift baselines: the bench never reads them.
    build_demo_store(db, rows=rows, now_ms=END_MS, baseline_rows=1000,
                     progress=lambda done, total: done % 1_000_000 < 50_000 and print(
                         f"  {done:,} rows, {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True))
    built = time.perf_counter() - started
    export_jsonl(db, jsonl)
    print(f"built {rows:,} rows in {built:.0f} s (store), JSONL in {time.perf_counter() - started - built:.0f} s",
          file=sys.stderr)


# features and context read back with their keys' names (rows hold codes: app/store/json_keys.py).
_EXPORT = ("SELECT ts, model, version, request_id, entity_id, prediction, score, label, latency_ms, status, error, "
           "json_names(features, (SELECT json_group_object(code, name) FROM json_keys)), "
           "json_names(context, (SELECT json_group_object(code, name) FROM json_keys)) "
           "FROM predictions WHERE id BETWEEN ? AND ? ORDER BY id")
_KEYS = ("ts", "model", "version", "request_id", "entity_id", "prediction", "score", "label", "latency_ms",
         "status", "error", "features", "context")


def export_jsonl(db: Path, jsonl: Path, workers: int | None = None) -> None:
    """The store's predictions as ingest-format JSON Lines, in log (id) order: one process per core, each
    writing a contiguous id range to a part file, then the parts joined in order (10M rows: ~3 min a
    core single-process on this machine, the longest step after the build)."""
    from concurrent.futures import ProcessPoolExecutor

    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    low, high = conn.execute("SELECT coalesce(min(id), 1), coalesce(max(id), 0) FROM predictions").fetchone()
    conn.close()
    workers = max(1, workers or os.cpu_count() or 1)
    step = max(1, -(-(high - low + 1) // workers))
    ranges = [(lo, min(high, lo + step - 1)) for lo in range(low, high + 1, step)]
    parts = [jsonl.with_name(f"{jsonl.name}.part{k}") for k in range(len(ranges))]
    with ProcessPoolExecutor(len(ranges) or 1) as pool:
        list(pool.map(_export_range, [str(db)] * len(ranges), ranges, [str(p) for p in parts]))
    with jsonl.open("wb") as out:
        for part in parts:
            with part.open("rb") as source:
                shutil.copyfileobj(source, out, 16 << 20)
            part.unlink()


def _export_range(db: str, ids: tuple[int, int], part: str) -> None:
    import orjson

    from app.store.json_keys import register

    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    register(conn)
    with open(part, "wb") as out:
        cursor = conn.execute(_EXPORT, ids)
        while batch := cursor.fetchmany(50_000):
            lines = []
            for row in batch:
                record = {key: value for key, value in zip(_KEYS, row) if value is not None}
                record["ts"] = ms_to_iso(row[0])
                for key in ("features", "context"):
                    if key in record:
                        record[key] = orjson.Fragment(record[key])  # stored JSON, copied as is
                lines.append(orjson.dumps(record))
            out.write(b"\n".join(lines) + b"\n")
    conn.close()


def median_ms(fn: Callable[[], object], runs: int, *, sample_s: float = 0.005) -> float:
    """Median over ``runs`` samples of one call's time (ms).

    A call of a few microseconds is timed in a loop filling ``sample_s`` per sample (the same
    for modeldeck and its peers): single ~10 us readings are mostly scheduler noise.
    """
    t0 = time.perf_counter()
    fn()  # warm
    once = time.perf_counter() - t0
    loops = max(1, int(sample_s / once)) if once > 0 else 1
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        for _ in range(loops):
            fn()
        samples.append((time.perf_counter() - t0) * 1000 / loops)
    return statistics.median(samples)


def interleaved_medians_ms(fns: list[Callable[[], object]], runs: int, *,
                           sample_s: float = 0.005) -> list[float]:
    """Each function's median (ms), sampled in turn (A B C, A B C, ...).

    The machine is shared: a burst of load elsewhere lands on whichever function is being
    timed, so timing one function's samples all before the next's skews their ratio. Taken in
    turn, load hits them alike. Fast calls are looped for ``sample_s`` a sample (peers alike),
    and get three times the samples when all of them are quick (< 50 ms).
    """
    loops: list[int] = []
    slowest = 0.0
    for fn in fns:
        t0 = time.perf_counter()
        fn()  # warm
        once = time.perf_counter() - t0
        slowest = max(slowest, once)
        loops.append(max(1, int(sample_s / once)) if once > 0 else 1)
    samples: list[list[float]] = [[] for _ in fns]
    for _ in range(runs * 3 if slowest < 0.05 else runs):
        for fn, n, out in zip(fns, loops, samples):
            t0 = time.perf_counter()
            for _ in range(n):
                fn()
            out.append((time.perf_counter() - t0) * 1000 / n)
    return [statistics.median(x) for x in samples]


def newest(command: list[str] | str, path: str) -> str:
    """The same grep, over the file read backwards: the newest matches first, as modeldeck answers."""
    if isinstance(command, list):
        return "tac " + shlex.quote(path) + " | " + " ".join(shlex.quote(c) for c in command if c != path)
    head, _, tail = command.partition(f" {path}")
    return f"tac {shlex.quote(path)} | {head}{tail}"


def shell(command: list[str] | str) -> Callable[[], object]:
    # Output goes to a pipe that is read, as on a terminal: GNU grep writing to /dev/null stops
    # at the first match (like -q), which would time a different job.
    return lambda: subprocess.run(command, shell=isinstance(command, str), stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, check=False)


def store_values(conn: sqlite3.Connection) -> dict:
    """Values the query classes ask for, picked from the store (a middle row, the newest hour ...)."""
    import orjson

    from app.store.json_keys import key_path_sql, names_sql, register

    register(conn)  # rows hold coded JSON keys: read them back with their names
    newest = conn.execute("SELECT max(ts) FROM predictions").fetchone()[0]
    request, entity, model, context, features = conn.execute(
        f"SELECT request_id, entity_id, model, {names_sql('context')}, {names_sql('features')} FROM predictions WHERE id >= "
        "(SELECT max(id) / 2 FROM predictions) AND entity_id IS NOT NULL AND features IS NOT NULL "
        "AND context IS NOT NULL LIMIT 1").fetchone()
    context, features = orjson.loads(context), orjson.loads(features)
    common = next(v for v in context.values() if isinstance(v, str))
    text = next((v for v in features.values() if isinstance(v, str)), common)
    # A numeric feature, declared in [search] indexed_features as an operator would (its generated column,
    # index and zone map), and a threshold only a handful of rows pass: the 20th highest block maximum.
    key = conn.execute("SELECT feature FROM zone_feature_columns ORDER BY feature LIMIT 1").fetchone()[0]
    rare, top = conn.execute("SELECT (SELECT hi FROM zone_features WHERE feature = :k ORDER BY hi DESC LIMIT 1 "
                             "OFFSET 19), (SELECT max(hi) FROM zone_features WHERE feature = :k)",
                             {"k": key}).fetchone()
    models = [r[0] for r in conn.execute("SELECT name FROM models ORDER BY name LIMIT 2")] or [model]
    # The hand SQL names the key as the rows hold it: its code (app/store/json_keys.py).
    path = conn.execute(f"SELECT {key_path_sql()}", (key,)).fetchone()[0]
    return {"models": models, "newest": newest, "request": request, "entity": entity, "model": model, "common": common,
            "text": text, "key": key, "path": path, "rare": rare, "nothing": top * 10 + 1,
            "number": next((v for k, v in features.items() if k == key), rare)}


def _numeric_key(store: Store) -> str:
    import orjson

    from app.store.json_keys import names_sql

    features = orjson.loads(store.conn.execute(f"SELECT {names_sql('features')} FROM predictions WHERE id >= "
                                               "(SELECT max(id) / 2 FROM predictions) AND features IS NOT NULL "
                                               "LIMIT 1").fetchone()[0])
    return next(k for k, x in features.items() if isinstance(x, (int, float)) and not isinstance(x, bool))


def cases(v: dict, jsonl: Path) -> Iterator[dict]:
    """The query classes, each as modeldeck query, hand SQL and grep/rg command lines."""
    request, entity, model = v["request"], v["entity"], v["model"]
    window_start = v["newest"] - 3_600_000
    window_iso = ms_to_iso(window_start)
    f = str(jsonl)
    yield {
        "name": "request:", "query": f"request:{request}",
        "sql": f"SELECT * FROM predictions WHERE request_id = '{request}' ORDER BY ts DESC LIMIT 50",
        "grep": ["grep", "-m", "50", "-F", f'"request_id":"{request}"', f],
        "rg": ["rg", "-m", "50", "-F", f'"request_id":"{request}"', f],
    }
    yield {
        "name": "entity:", "query": f"entity:{entity}",
        "sql": f"SELECT * FROM predictions WHERE entity_id = '{entity}' ORDER BY ts DESC LIMIT 50",
        "grep": ["grep", "-m", "50", "-F", f'"entity_id":"{entity}"', f],
        "rg": ["rg", "-m", "50", "-F", f'"entity_id":"{entity}"', f],
    }
    # The last hour (at the end of the file, as the newest log lines are): ts prefix to the minute's tens.
    hour = ms_to_iso(v["newest"])[:13]
    window_re = f'"ts":"{hour}:[^"]*","model":"{model}"'
    yield {
        "name": "model + window", "query": f"model:{model} since:{window_iso}",
        "sql": f"SELECT * FROM predictions WHERE model = '{model}' AND ts >= {window_start} ORDER BY ts DESC LIMIT 50",
        "grep": ["grep", "-m", "50", "-E", window_re, f],
        "rg": ["rg", "-m", "50", window_re, f],
    }
    common = v["common"]
    yield {
        "name": "common word", "query": f'"{common}"',
        "sql": ("SELECT p.* FROM predictions p JOIN predictions_fts f ON f.rowid = p.id "
                f"WHERE predictions_fts MATCH '\"{common}\"' ORDER BY p.ts DESC LIMIT 50"),
        "grep": ["grep", "-m", "50", "-F", common, f],
        "rg": ["rg", "-m", "50", "-F", common, f],
    }
    yield {
        "name": "status:error", "query": "status:error",
        "sql": "SELECT * FROM predictions WHERE status = 'error' ORDER BY ts DESC LIMIT 50",
        "grep": ["grep", "-m", "50", "-F", '"status":"error"', f],
        "rg": ["rg", "-m", "50", "-F", '"status":"error"', f],
    }
    models = v["models"]
    either = f'"model":"({"|".join(models)})",.*"status":"error"'
    yield {
        "name": "OR of models", "query": f"status:error ({' OR '.join(f'model:{m}' for m in models)})",
        "sql": (f"SELECT * FROM predictions WHERE status = 'error' AND model IN ({', '.join(repr(m) for m in models)}) "
                "ORDER BY ts DESC LIMIT 50"),
        "grep": ["grep", "-m", "50", "-E", either, f],
        "rg": ["rg", "-m", "50", either, f],
    }
    # An OR across indexed columns (issue 14): read as one index seek per alternative; by hand, one statement.
    across = f'"model":"{models[0]}"|"entity_id":"{entity}"'
    yield {
        "name": "OR of columns", "query": f"model:{models[0]} OR entity:{entity}",
        "sql": (f"SELECT * FROM predictions WHERE model = '{models[0]}' OR entity_id = '{entity}' "
                "ORDER BY ts DESC LIMIT 50"),
        "grep": ["grep", "-m", "50", "-E", across, f],
        "rg": ["rg", "-m", "50", across, f],
    }
    text = v["text"]
    yield {
        "name": "free text", "query": f'"{text}"',
        "sql": ("SELECT p.* FROM predictions p JOIN predictions_fts f ON f.rowid = p.id "
                f"WHERE predictions_fts MATCH '\"{text}\"' ORDER BY p.ts DESC LIMIT 50"),
        "grep": ["grep", "-m", "50", "-F", text, f],
        "rg": ["rg", "-m", "50", "-F", text, f],
    }


def rare_cases(v: dict) -> list[tuple[str, str, str, str]]:
    """(class, modeldeck query, SQLite hand SQL WHERE, DuckDB hand SQL WHERE): issue 18's rare classes."""
    key, path, rare, nothing = v["key"], v["path"], v["rare"], v["nothing"]
    return [
        ("absent version", "version:v99", "version = 'v99'", "version = 'v99'"),
        ("rare score", "score>=0.9999", "score >= 0.9999", "score >= 0.9999"),
        ("rare feature", f"features.{key}>{rare}", f"json_extract(features, '{path}') > {rare}",
         f"features.{key} > {rare}"),
        ("no match", f"features.{key}>{nothing}", f"json_extract(features, '{path}') > {nothing}",
         f"features.{key} > {nothing}"),
        ("rare latency", "latency_ms>5000", "latency_ms > 5000", "latency_ms > 5000"),
    ]


# The targets for a first page (ms), by query class.
TARGETS = {"request:": 10, "entity:": 10, "model + window": 50, "common word": 200, "free text": 200,
           "feature in window": 500}


def _times(ratio: float) -> str:
    return f"{ratio:>7.1f}x" if ratio < 100 else f"{ratio:>7.0f}x"


def _verdict(name: str, ms: float) -> str:
    target = TARGETS.get(name)
    return "" if target is None else ("ok" if ms < target else f">{target}")


def store_targets(path: Path, runs: int) -> None:
    """The query classes on an existing store (values picked from it), against the targets."""
    import orjson

    from app.timeutil import ms_to_iso

    store = Store.open(path, read_only=True)
    searcher = Searcher(store)
    conn = store.conn
    newest_ts = conn.execute("SELECT max(ts) FROM predictions").fetchone()[0]
    from app.store.json_keys import names_sql

    request, entity, model, features, context = conn.execute(
        f"SELECT request_id, entity_id, model, {names_sql('features')}, {names_sql('context')} FROM predictions "
        "WHERE id >= (SELECT max(id) / 2 FROM predictions) AND features IS NOT NULL AND context IS NOT NULL "
        "AND entity_id IS NOT NULL LIMIT 1").fetchone()
    features, context = orjson.loads(features), orjson.loads(context)
    common = next((v for v in context.values() if isinstance(v, str)), "ok")
    text = next((v for v in features.values() if isinstance(v, str)), common)
    number_key, number = next(((k, v) for k, v in features.items()
                               if isinstance(v, (int, float)) and not isinstance(v, bool)), ("x", 0))
    hour, day = ms_to_iso(newest_ts - 3_600_000), ms_to_iso(newest_ts - 86_400_000)
    classes = [("request:", f"request:{request}"), ("entity:", f"entity:{entity}"),
               ("model + window", f"model:{model} since:{hour}"), ("common word", f'"{common}"'),
               ("free text", f'"{text}"'), ("status:error", "status:error"),
               ("feature in window", f"model:{model} since:{day} features.{number_key}>{number}")]
    rows = conn.execute("SELECT max(id) FROM predictions").fetchone()[0]
    print(f"\n{path}: about {rows:,} rows; median of {runs} warm samples "
          "(a fast call is looped for 5 ms a sample), first page of 50\n")
    print(f"{'class':<19}{'modeldeck ms':>13}{'rows':>6}{'target':>8}  query")
    for name, query in classes:
        ours = median_ms(lambda: searcher.page(searcher.parse(query)), runs)
        got = len(searcher.page(searcher.parse(query)).rows)
        print(f"{name:<19}{ours:>13.2f}{got:>6}{_verdict(name, ours):>8}  {query}")
    new_classes(store, searcher, runs, model, newest_ts)
    store.close()


def new_classes(store: Store, searcher: Searcher, runs: int, model: str, newest_ts: int) -> None:
    """Issue 14's classes: a word inside punctuation, a prefix, OR, and the histogram + facets of a result
    set, each against the SQL typed by hand for the same first page (or the same GROUP BY)."""
    conn = store.conn
    error = conn.execute("SELECT error FROM predictions WHERE status = 'error' AND error IS NOT NULL "
                         "ORDER BY ts DESC LIMIT 1").fetchone()
    words = [w for w in re.findall(r"[A-Za-z]{4,}", error[0] if error else "")] or ["error"]
    word = words[0]
    models = [r[0] for r in conn.execute("SELECT name FROM models ORDER BY name LIMIT 2")] or [model]
    page = f"SELECT {', '.join(ROW_COLUMNS)} FROM predictions WHERE {{}} ORDER BY ts DESC, id DESC LIMIT 50"
    fts = "id IN (SELECT rowid FROM predictions_fts WHERE predictions_fts MATCH ?)"
    classes = [
        ("word in punctuation", word, page.format(fts), (f'"{word}"',)),
        ("prefix", f"{word[:4]}*", page.format(fts), (f'"{word[:4]}" *',)),
        ("OR of models", f"status:error ({' OR '.join(f'model:{m}' for m in models)})",
         page.format(f"status = 'error' AND model IN ({', '.join('?' * len(models))})"), tuple(models)),
    ]
    print(f"\n{'new class':<21}{'modeldeck ms':>13}{'hand SQL ms':>12}{'ratio':>7}{'rows':>6}  query")
    for name, query, sql, params in classes:
        parsed = searcher.resolve(searcher.parse(query)).query
        ours = median_ms(lambda: searcher.page(parsed), runs)
        hand = median_ms(lambda: conn.execute(sql, params).fetchall(), runs)
        got = len(searcher.page(parsed).rows)
        print(f"{name:<21}{ours:>13.2f}{hand:>12.2f}{ours / hand:>7.2f}{got:>6}  {query}")
    # Histogram + facets of the result set (its own time range, no since:): what the Logs screen reads after the
    # first page (app.views.logs.overview: the range, then the histogram and the facets; 76 bars at most: an
    # 80-column terminal). Target (issue 14 item 6): within 200 ms, "at least" where exact costs more.
    from app.search.searcher import OVERVIEW_CAP
    from app.views.logs import overview, overview_fields

    print(f"\n{'histogram + facets':<21}{'both ms':>9}{'histogram':>10}{'facets':>8}{'hand SQL':>9}{'bars':>6}"
          f"{'matches':>9}  query (the matches' range; newest {OVERVIEW_CAP:,} matches or ~0.1 s of reading)")
    print("hand SQL = the exact answer typed by hand: one GROUP BY per bar width and per facet field over the "
          "overview's window")
    hand_where = {"": "1", f"model:{model}": "model = :m", "status:error": "status = 'error'",
                  f"model:{model} status:error": "model = :m AND status = 'error'",
                  word: "id IN (SELECT rowid FROM predictions_fts WHERE predictions_fts MATCH :w)",
                  f"model:{model} {word}": "model = :m AND id IN (SELECT rowid FROM predictions_fts "
                                           "WHERE predictions_fts MATCH :w)"}
    for query, where in hand_where.items():
        parsed = searcher.resolve(searcher.parse(query)).query
        both = median_ms(lambda: overview(searcher, parsed, newest_ts + 1, buckets=76), runs)
        result = overview(searcher, parsed, newest_ts + 1, buckets=76)
        assert result is not None
        h = result.histogram
        start, end = h.start, h.start + len(h.counts) * h.width  # the window the overview chose
        hist_ms = median_ms(lambda: searcher.histogram(parsed, start, end, buckets=len(h.counts)), runs)
        from app.search.language import Query, TimeTerm

        windowed = Query(parsed.text, (*parsed.terms, TimeTerm("since", start), TimeTerm("until", end)), parsed.now)
        facet_ms = median_ms(lambda: searcher.facets(windowed, overview_fields(parsed)), runs)
        day = {"m": model, "w": f'"{word}"', "s": start, "e": end, "width": h.width}
        hand_sql = [f"SELECT (ts - :s) / :width, count(*) FROM predictions WHERE {where} AND ts >= :s AND ts < :e "
                    "GROUP BY 1"] + [f"SELECT {c}, count(*) AS n FROM predictions WHERE {where} AND ts >= :s AND ts < :e "
                                     f"GROUP BY {c} ORDER BY n DESC LIMIT 5" for c in ("error", "version", "status")]
        hand_ms = median_ms(lambda: [conn.execute(q, day).fetchall() for q in hand_sql], max(1, runs // 2))
        how = ("exact, zone map" if h.width % 3_600_000 == 0 and not h.capped and h.start % 3_600_000 == 0
               else "at least (capped)" if h.capped else "exact")
        facet_note = "facets at least" if any(f.capped for f in result.facets) else "facets exact"
        print(f"{'':<21}{both:>9.1f}{hist_ms:>10.1f}{facet_ms:>8.1f}{hand_ms:>9.1f}{len(h.counts):>6}{sum(h.counts):>9,}  "
              f"{query or '(everything)'}: {how}; {facet_note}{'' if both <= 200 else '  > 200 ms'}", flush=True)


DUCK_VENV = CACHE / "duckdb-venv"
DUCK_WORKER = r"""
import json, statistics, sys, time
import duckdb
db, mode, runs, source = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
if mode == "load":
    con = duckdb.connect(db)
    con.execute("CREATE TABLE predictions AS SELECT * FROM read_json(?, format = 'newline_delimited', "
                "sample_size = -1) ORDER BY ts", [source])
    con.close()
    sys.exit(0)
sqls = json.loads(source)
if mode == "cold":  # the program is loaded: now drop the page cache, so the database comes from the disk
    import os
    os.sync()
    open("/proc/sys/vm/drop_caches", "w").write("3\n")
started = time.perf_counter()
con = duckdb.connect(db, read_only=True)
out = []
for sql in sqls:
    if mode == "cold":  # one run, connection included (the page cache was dropped by the caller)
        rows = con.execute(sql).fetchall()
        out.append([(time.perf_counter() - started) * 1000, len(rows)])
        continue
    rows = con.execute(sql).fetchall()  # warm
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        con.execute(sql).fetchall()
        times.append((time.perf_counter() - t0) * 1000)
    out.append([statistics.median(times), len(rows)])
print(json.dumps(out))
"""


def ensure_duckdb() -> Path:
    """DuckDB in its own venv (created once), as bench/drift.py does for Evidently."""
    python = DUCK_VENV / "bin" / "python"
    if python.exists() and subprocess.run([str(python), "-c", "import duckdb"], capture_output=True).returncode == 0:
        return python
    print(f"creating {DUCK_VENV} and installing duckdb (once)...", file=sys.stderr, flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(DUCK_VENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "duckdb"], check=True)
    return python


def duck(python: Path, db: Path, mode: str, runs: int, payload: str) -> list:
    worker = CACHE / "duckdb_worker.py"
    worker.write_text(DUCK_WORKER)
    done = subprocess.run([str(python), str(worker), str(db), mode, str(runs), payload], capture_output=True,
                          text=True)
    if done.returncode != 0:
        raise SystemExit(f"duckdb run failed:\n{done.stderr[-3000:]}")
    return [] if mode == "load" else json.loads(done.stdout)


def drop_page_cache() -> bool:
    """Drop the OS page cache (root only): the next read of each file comes from the disk."""
    try:
        os.sync()
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        return True
    except OSError:
        return False


def one_cold(kind: str, db: str, text: str) -> None:
    """Worker: load modeldeck's code (a throwaway store), drop the page cache, then time one first page
    with its connection: the database's pages come from the disk, the program's code does not."""
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        Store.open(Path(scratch) / "warm.db").close()  # Store imports its table modules lazily: load them now
    if not drop_page_cache():
        raise SystemExit("cannot drop the page cache (needs root)")
    started = time.perf_counter()
    if kind == "ours":
        store = Store.open(db, read_only=True)
        searcher = Searcher(store)
        rows = searcher.page(searcher.resolve(searcher.parse(text)).query).rows
    else:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        rows = conn.execute(text).fetchall()
    print(json.dumps([(time.perf_counter() - started) * 1000, len(rows)]))


def _cold_sqlite(kind: str, db: Path, text: str) -> list:
    done = subprocess.run([sys.executable, __file__, "--one-cold", kind, str(db), text], capture_output=True,
                          text=True, check=True)
    return json.loads(done.stdout)


def rare_table(db: Path, jsonl: Path, values: dict, searcher: Searcher, hand: sqlite3.Connection, runs: int,
               cold: bool) -> None:
    """Issue 18's rare classes: modeldeck vs the hand SQL on the same SQLite file vs DuckDB, warm and cold."""
    python = ensure_duckdb()
    duck_db = db.with_suffix(".duckdb")
    if not duck_db.exists():
        print(f"loading {jsonl.name} into {duck_db.name} (once)", file=sys.stderr, flush=True)
        started = time.perf_counter()
        duck(python, duck_db, "load", 0, str(jsonl))
        print(f"  {time.perf_counter() - started:.0f} s", file=sys.stderr)
    classes = rare_cases(values)
    page = f"SELECT {', '.join(ROW_COLUMNS)} FROM predictions WHERE {{}} ORDER BY ts DESC, id DESC LIMIT 50"
    duck_sql = [f"SELECT * FROM predictions WHERE {w} ORDER BY ts DESC LIMIT 50" for _, _, _, w in classes]
    duck_warm = duck(python, duck_db, "warm", runs, json.dumps(duck_sql))
    print(f"\nrare classes (issue 18): first page of 50, ms; warm = median of {runs}; cold = page cache dropped, "
          "one run in a fresh process, connection included")
    print(f"{'class':<16}{'modeldeck':>10}{'hand SQL':>10}{'x':>8}{'DuckDB':>9}{'x':>8}{'rows':>6}"
          f"{'cold: ours':>12}{'hand SQL':>10}{'DuckDB':>9}  query")
    for (name, query, where, _), (duck_ms, duck_rows), dsql in zip(classes, duck_warm, duck_sql):
        ours = median_ms(lambda: searcher.page(searcher.resolve(searcher.parse(query)).query), runs)
        got = len(searcher.page(searcher.resolve(searcher.parse(query)).query).rows)
        hand_ms = median_ms(lambda: hand.execute(page.format(where)).fetchall(), max(1, runs // 2))
        line = (f"{name:<16}{ours:>10.2f}{hand_ms:>10.1f}{_times(hand_ms / ours)}{duck_ms:>9.2f}"
                f"{_times(duck_ms / ours)}{got:>6}")
        if cold and drop_page_cache():  # each worker loads its program, drops the cache again, then times
            ours_cold = _cold_sqlite("ours", db, query)[0]
            hand_cold = _cold_sqlite("hand", db, page.format(where))[0]
            duck_cold = duck(python, duck_db, "cold", 1, json.dumps([dsql]))[0][0]
            line += f"{ours_cold:>12.1f}{hand_cold:>10.1f}{duck_cold:>9.1f}"
        elif cold:
            line += f"{'(cannot drop the page cache: not root)':>31}"
        print(line + f"  {query}" + ("" if got == duck_rows else f"  (DuckDB rows: {duck_rows})"), flush=True)
    print("x = times slower than modeldeck")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=int(os.environ.get("BENCH_SEARCH_ROWS", 10_000_000)))
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--build-only", action="store_true")
    parser.add_argument("--rebuild", action="store_true", help="build the store again even if one is cached")
    parser.add_argument("--store", type=Path, help="time the query classes on this existing store instead")
    parser.add_argument("--no-cold", action="store_true", help="skip the cold-cache runs (page cache drops)")
    parser.add_argument("--rare-only", action="store_true", help="only the rare classes against hand SQL and DuckDB")
    parser.add_argument("--skip-rare", action="store_true",
                        help="leave out the rare classes (their hand SQL scans the whole table: minutes at 10M)")
    parser.add_argument("--one-cold", nargs=3, metavar=("KIND", "DB", "QUERY"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one_cold:
        one_cold(*args.one_cold)
        return
    if args.store is not None:
        store_targets(args.store, args.runs)
        return

    CACHE.mkdir(exist_ok=True)
    db, jsonl = CACHE / f"search-{args.rows}.db", CACHE / f"search-{args.rows}.jsonl"
    done_marker = CACHE / f"search-{args.rows}.done"
    if not done_marker.exists() and db.exists() and not args.rebuild:
        # The store was built, its JSONL was not (an interrupted run): export it only.
        print(f"exporting {db.name} to {jsonl.name} (once; cached)", file=sys.stderr)
        started = time.perf_counter()
        export_jsonl(db, jsonl)
        print(f"  JSONL in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        done_marker.touch()
    if not done_marker.exists():
        print(f"building {args.rows:,} rows into {db.name} and {jsonl.name} (once; cached)", file=sys.stderr)
        build(args.rows, db, jsonl)
        done_marker.touch()
    if args.build_only:
        return

    with Store.open(db) as writable:  # migrate a store cached by an older modeldeck
        from app.store.search import ensure_feature_indexes

        ensure_feature_indexes(writable, [_numeric_key(writable)])
    store = Store.open(db, read_only=True)
    searcher = Searcher(store)
    hand = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    values = store_values(hand)
    if not args.skip_rare:
        rare_table(db, jsonl, values, searcher, hand, args.runs, not args.no_cold)
    if args.rare_only:
        return
    has_rg = shutil.which("rg") is not None
    size_mb = jsonl.stat().st_size / 1e6
    print(f"\n{args.rows:,} rows; JSONL {size_mb:,.0f} MB; median of {args.runs} warm "
          "samples (grep, rg) / 3x that (modeldeck, SQL: taken in turn; a fast call looped for 5 ms a sample), ms; "
          "first page of 50\n")
    print("modeldeck = parse + compile + first page as records; its SQL = the generated SQL alone;")
    print("ratio = modeldeck / hand SQL (sql ratio: its SQL / hand SQL)")
    print("grep -m50: oldest 50 (from the top); tac|grep: newest 50, modeldeck's answer; x = times slower than modeldeck\n")
    header = (f"{'class':<19}{'modeldeck':>10}{'its SQL':>9}{'hand SQL':>10}{'ratio':>7}{'sql ratio':>10}"
              f"{'grep -m50':>11}{'x':>8}{'tac|grep':>10}{'x':>8}")
    if has_rg:
        header += f"{'rg -m50':>10}{'x':>8}{'tac|rg':>9}{'x':>8}"
    print(header + f"{'rows':>6}{'target':>8}")
    for case in cases(values, jsonl):
        text = case["query"]
        got = len(searcher.page(searcher.parse(text)).rows)
        # The SQL modeldeck generates, run the way the hand SQL is (no parsing, tuples out).
        parsed = searcher.parse(text)
        ours_sql, ours_params = searcher.page_sql(parsed)
        ours, gen_ms, sql_ms = interleaved_medians_ms([
            lambda: searcher.page(searcher.parse(text)),
            lambda: hand.execute(ours_sql, (*ours_params, 51)).fetchall(),
            lambda: hand.execute(case["sql"]).fetchall(),
        ], args.runs)
        grep_ms = median_ms(shell(case["grep"]), max(1, args.runs // 2))
        tac_ms = median_ms(shell(newest(case["grep"], str(jsonl))), max(1, args.runs // 2))
        line = (f"{case['name']:<19}{ours:>10.3f}{gen_ms:>9.3f}{sql_ms:>10.3f}{ours / sql_ms:>7.2f}"
                f"{gen_ms / sql_ms:>10.2f}{grep_ms:>11.1f}{_times(grep_ms / ours)}{tac_ms:>10.1f}{_times(tac_ms / ours)}")
        if has_rg:
            rg_ms = median_ms(shell(case["rg"]), max(1, args.runs // 2))
            tac_rg_ms = median_ms(shell(newest(case["rg"], str(jsonl))), max(1, args.runs // 2))
            line += f"{rg_ms:>10.1f}{_times(rg_ms / ours)}{tac_rg_ms:>9.1f}{_times(tac_rg_ms / ours)}"
        print(line + f"{got:>6}{_verdict(case['name'], ours):>8}", flush=True)
        print(f"  {text}")
    new_classes(store, searcher, args.runs, values["model"], values["newest"])
    count_query = searcher.resolve(searcher.parse(f"model:{values['model']}")).query
    count_ms = median_ms(lambda: searcher.count(count_query), args.runs)
    print(f"\nbounded count (cap 10,000) of model:{values['model']}: {count_ms:.1f} ms")
    store.close()
    hand.close()


if __name__ == "__main__":
    main()
