"""Benchmark: first page of each query class through app/search/ vs grep/rg and hand-written SQL.

    python bench/search.py                  # 10,000,000 rows (built once into bench/.cache/, minutes)
    python bench/search.py --rows 1000000   # while developing
    python bench/search.py --store /tmp/demo1m.db   # the scale targets on an existing store (read-only)

Builds (or reuses) a store of N generated predictions and the very same records as JSON Lines,
then times, per query class, modeldeck's first page (parse + compile + run), the SQL a user
would type into the sqlite3 shell, and `grep -m 50` (and `rg -m 50` when installed) over the
JSONL. Prints medians and ratios.

grep reads the file from the top, so `grep -m 50` answers with the OLDEST 50 matches (the log
is in time order), while modeldeck answers with the newest 50. `tac FILE | grep -m 50` gives the
same answer as modeldeck and is printed beside it; both are peers, neither is hidden.
"""

from __future__ import annotations

import argparse
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
from app.store.predictions import PredictionRow  # noqa: E402
from app.timeutil import iso_to_ms, ms_to_iso  # noqa: E402

CACHE = Path(__file__).resolve().parent / ".cache"
END_MS = iso_to_ms("2026-11-24T00:00:00Z")
SPAN_MS = 30 * 86_400_000
MODELS = ("fraud", "churn", "credit", "ranker", "eta")
COUNTRIES = ("DE", "FR", "US", "GB", "NL", "ES", "IT", "PL", "SE", "BR", "IN", "JP", "CA", "AU", "MX", "CH",
             "AT", "BE", "DK", "NO")
DEVICES = ("ios", "android", "web", "pos", "api")
REGIONS = ("eu-west", "eu-central", "us-east", "ap-south")
ERRORS = ("upstream timeout after 3000 ms", "connection reset by peer", "feature store unavailable",
          "model returned NaN", "payload too large", "circuit breaker open")
N_ENTITIES = 200_000
N_MERCHANTS = 20_000


def build(rows: int, db: Path, jsonl: Path, batch: int = 50_000) -> None:
    """Generate ``rows`` predictions (ts ascending, as a serving log is) into the store and the JSONL."""
    import numpy as np
    import orjson

    from app.ingest.parse import fts_text
    from app.store.bulk import BulkWriter

    for path in (db, jsonl, Path(f"{db}-wal"), Path(f"{db}-shm")):
        path.unlink(missing_ok=True)
    rng = np.random.default_rng(7)
    start_ms = END_MS - SPAN_MS
    started = time.perf_counter()
    with Store.open(db) as store, jsonl.open("wb") as out, BulkWriter(store.conn, drop_indexes=True) as writer:
        for offset in range(0, rows, batch):
            n = min(batch, rows - offset)
            ids = np.arange(offset, offset + n)
            ts = start_ms + (ids * SPAN_MS) // rows + rng.integers(0, 1000, n)
            model = rng.integers(0, len(MODELS), n)
            version = rng.integers(1, 4, n)
            entity = rng.integers(0, N_ENTITIES, n)
            amount = np.round(rng.lognormal(4.0, 1.2, n), 2)
            age = rng.integers(18, 90, n)
            country = rng.integers(0, len(COUNTRIES), n)
            device = rng.integers(0, len(DEVICES), n)
            merchant = rng.integers(0, N_MERCHANTS, n)
            region = rng.integers(0, len(REGIONS), n)
            score = np.round(rng.random(n), 4)
            latency = np.round(rng.lognormal(3.0, 0.5, n), 2)
            is_error = rng.random(n) < 0.01
            error_kind = rng.integers(0, len(ERRORS), n)
            labelled = rng.random(n) < 0.3
            out_rows: list[PredictionRow] = []
            lines: list[bytes] = []
            for k in range(n):
                features = {"amount": float(amount[k]), "age": int(age[k]), "country": COUNTRIES[country[k]],
                            "device": DEVICES[device[k]], "merchant": f"m-{merchant[k]:05d}"}
                context = {"region": REGIONS[region[k]], "host": f"srv-{int(ids[k]) % 40:02d}"}
                err = bool(is_error[k])
                s = float(score[k])
                record = {
                    "ts": ms_to_iso(int(ts[k])), "model": MODELS[model[k]], "version": f"v{version[k]}",
                    "request_id": f"req-{int(ids[k]):09d}", "entity_id": f"cust-{entity[k]:06d}",
                    "prediction": None if err else ("positive" if s >= 0.5 else "negative"),
                    "score": None if err else s,
                    "label": ("positive" if (s >= 0.5) != (k % 7 == 0) else "negative") if labelled[k] else None,
                    "latency_ms": float(latency[k]), "status": "error" if err else "ok",
                    "error": ERRORS[error_kind[k]] if err else None,
                    "features": features, "context": context,
                }
                lines.append(orjson.dumps({key: v for key, v in record.items() if v is not None}))
                text = fts_text(features, context)
                out_rows.append(PredictionRow(int(ts[k]), record["model"], record["version"], record["request_id"],
                                              record["entity_id"], record["prediction"], record["score"],
                                              record["label"], record["latency_ms"], record["status"],
                                              record["error"], orjson.dumps(features).decode(),
                                              orjson.dumps(context).decode(), text))
            writer.write(out_rows)
            out.write(b"\n".join(lines) + b"\n")
            done = offset + n
            if done % 1_000_000 < batch:
                print(f"  {done:,} rows, {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
        print("  building indexes", file=sys.stderr, flush=True)
    print(f"built {rows:,} rows in {time.perf_counter() - started:.0f} s", file=sys.stderr)


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


def cases(rows: int, jsonl: Path) -> Iterator[dict]:
    """The query classes, each as modeldeck query, hand SQL and grep/rg command lines."""
    middle = rows // 2
    request = f"req-{middle:09d}"
    entity = "cust-012345"
    window_start = END_MS - 3_600_000
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
    # The last hour (the window sits at the end of the file, as the newest log lines do).
    window_re = '"ts":"2026-11-23T23:[^"]*","model":"fraud"'
    yield {
        "name": "model + window", "query": f"model:fraud since:{window_iso}",
        "sql": f"SELECT * FROM predictions WHERE model = 'fraud' AND ts >= {window_start} ORDER BY ts DESC LIMIT 50",
        "grep": ["grep", "-m", "50", "-E", window_re, f],
        "rg": ["rg", "-m", "50", window_re, f],
    }
    yield {
        "name": "common word", "query": '"eu-west"',
        "sql": ("SELECT p.* FROM predictions p JOIN predictions_fts f ON f.rowid = p.id "
                "WHERE predictions_fts MATCH '\"eu-west\"' ORDER BY p.ts DESC LIMIT 50"),
        "grep": ["grep", "-m", "50", "-F", "eu-west", f],
        "rg": ["rg", "-m", "50", "-F", "eu-west", f],
    }
    yield {
        "name": "status:error", "query": "status:error",
        "sql": "SELECT * FROM predictions WHERE status = 'error' ORDER BY ts DESC LIMIT 50",
        "grep": ["grep", "-m", "50", "-F", '"status":"error"', f],
        "rg": ["rg", "-m", "50", "-F", '"status":"error"', f],
    }
    merchant = "m-01234"
    yield {
        "name": "free text", "query": f'"{merchant}"',
        "sql": ("SELECT p.* FROM predictions p JOIN predictions_fts f ON f.rowid = p.id "
                f"WHERE predictions_fts MATCH '\"{merchant}\"' ORDER BY p.ts DESC LIMIT 50"),
        "grep": ["grep", "-m", "50", "-F", merchant, f],
        "rg": ["rg", "-m", "50", "-F", merchant, f],
    }
    big = '"amount":([5-9][0-9]{2}|[0-9]{4,})[.,]'
    yield {
        "name": "feature in window", "query": f"model:fraud since:{window_iso} features.amount>500",
        "sql": (f"SELECT * FROM predictions WHERE model = 'fraud' AND ts >= {window_start} "
                "AND json_extract(features, '$.amount') > 500 ORDER BY ts DESC LIMIT 50"),
        "grep": f"grep -E '{window_re}' {f} | grep -m 50 -E '{big}'",
        "rg": f"rg '{window_re}' {f} | rg -m 50 '{big}'",
    }


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
    request, entity, model, features, context = conn.execute(
        "SELECT request_id, entity_id, model, features, context FROM predictions "
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
    # Histogram + facets of a day of errors: what the Logs screen reads after the first page.
    from app.search.searcher import OVERVIEW_CAP
    from app.views.logs import overview

    for query in ("status:error", "", f"model:{model}"):
        parsed = searcher.resolve(searcher.parse(query)).query
        ms = median_ms(lambda: overview(searcher, parsed, newest_ts + 1), runs)
        result = overview(searcher, parsed, newest_ts + 1)
        assert result is not None
        note = "at least (capped)" if result.histogram.capped else "exact"
        print(f"{'histogram + facets':<21}{ms:>13.2f}{'':>12}{'':>7}{sum(result.histogram.counts):>6}  "
              f"{query or '(everything)'} over the last day, newest {OVERVIEW_CAP:,} matches: {note}; target 200 ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=int(os.environ.get("BENCH_SEARCH_ROWS", 10_000_000)))
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--build-only", action="store_true")
    parser.add_argument("--store", type=Path, help="time the query classes on this existing store instead")
    args = parser.parse_args()
    if args.store is not None:
        store_targets(args.store, args.runs)
        return

    CACHE.mkdir(exist_ok=True)
    db, jsonl = CACHE / f"search-{args.rows}.db", CACHE / f"search-{args.rows}.jsonl"
    done_marker = CACHE / f"search-{args.rows}.done"
    if not done_marker.exists():
        print(f"building {args.rows:,} rows into {db.name} and {jsonl.name} (once; cached)", file=sys.stderr)
        build(args.rows, db, jsonl)
        done_marker.touch()
    if args.build_only:
        return

    Store.open(db).close()  # migrate a store cached by an older modeldeck
    store = Store.open(db, read_only=True)
    searcher = Searcher(store)
    hand = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
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
    for case in cases(args.rows, jsonl):
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
    count_query = searcher.parse("model:fraud")
    count_ms = median_ms(lambda: searcher.count(count_query), args.runs)
    print(f"\nbounded count (cap 10,000) of model:fraud: {count_ms:.1f} ms")
    store.close()
    hand.close()


if __name__ == "__main__":
    main()
