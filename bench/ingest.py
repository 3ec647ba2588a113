"""Benchmark: `modeldeck ingest` of a 1,000,000-record JSON Lines file vs the bare floor and sqlite-utils.

    python bench/ingest.py                 # 1,000,000 records (the file is generated once into bench/.cache/)
    python bench/ingest.py --rows 200000   # while developing

Three loads of the very same file into fresh stores, each timed end to end (process start to exit):

* modeldeck: ``modeldeck ingest FILE`` - every line validated by the pydantic contract, dedup on
  (model, request_id), all indexes and the FTS5 table in place when it returns;
* floor: the plain ``sqlite3`` module, ``orjson.loads`` per line and one ``executemany`` of tuples
  into a bare table with the same columns and no index, no FTS, no validation, one transaction
  (WAL, synchronous=NORMAL): what any loader of this file must at least spend;
* peer: ``sqlite-utils insert DB predictions FILE --nl --alter``, the usual command-line way to load JSON Lines.

Prints rows/s for each and the ratios. Target: modeldeck >= 100,000 rows/s, within 3x of the
floor, and faster than sqlite-utils.

    python bench/ingest.py --db postgresql://owner@host/postgres --rows 200000   # the PostgreSQL store
    python bench/ingest.py --db local --rows 200000    # a throwaway server (tests/support/postgres.py)

On PostgreSQL (the role needs CREATEDB: each load gets a scratch database, dropped after), two loads:
``modeldeck ingest`` (validated, deduplicated across ingesters, partitioned, indexed, tsvector) against
the floor: psycopg ``COPY`` of orjson-parsed tuples into a bare table with the same column types
(jsonb), no index, one transaction. Target: within 2x of the floor.

A second floor, the schema floor, splits the gap between the two into what the mandated schema costs by
itself and what modeldeck's own code costs: the very same rows, already made by an untimed step with
ingest's own parser and row preparing (ids, prediction/label JSON, features/context, the lowercased
free-text vector: COPY text, byte for byte what ``append`` sends), COPYed in one transaction straight into
the schema ``modeldeck db init`` made (day partitions, every b-tree, BRIN, GIN over the tsvector) and into
``prediction_keys``. No parsing, validation, dedup, key claim, zone map or catalogue tally is timed.
``--indexes-after`` adds the schema floor once more with the log's indexes dropped before the COPY and built
once after it: the best a bulk mode (a fresh day loaded bare, indexed at the end) could give.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CACHE = ROOT / "bench" / ".cache"
BIN = Path(sys.executable).parent
END_MS = 1_795_478_400_000  # 2026-11-24T00:00:00Z
SPAN_MS = 30 * 86_400_000

MODELS = (("fraud-scorer", ("v2.3.1", "v2.4.0-rc1")), ("churn-predictor", ("v6", "v7")),
          ("credit-limit", ("v3.1.2", "v3.2.1")), ("ticket-router", ("r19", "r20")))
COUNTRIES = ("DE", "FR", "US", "GB", "NL", "ES", "IT", "PL", "SE", "BR")
DEVICES = ("ios", "android", "web", "pos")
REGIONS = ("eu-west-1", "us-east-1", "ap-southeast-2")
ERRORS = ("upstream timeout after 3000 ms", "feature store unavailable", "connection reset by peer")


def generate(rows: int, path: Path) -> None:
    """A realistic serving log: ts ascending, four models, nested features and context, late labels,
    about 1% errors. About 400 bytes a record."""
    import numpy as np
    import orjson

    from app.timeutil import ms_to_iso

    rng = np.random.default_rng(11)
    ts = np.sort(rng.integers(END_MS - SPAN_MS, END_MS, rows))
    model = rng.integers(0, len(MODELS), rows)
    challenger = rng.random(rows) < 0.1
    amount = np.round(rng.lognormal(3.5, 1.1, rows), 2)
    country = rng.integers(0, len(COUNTRIES), rows)
    device = rng.integers(0, len(DEVICES), rows)
    merchant = rng.integers(1, 20_000, rows)
    entity = rng.integers(1, 200_000, rows)
    score = np.round(rng.beta(1.2, 8, rows), 4)
    labelled = rng.random(rows) < 0.3
    failed = rng.random(rows) < 0.01
    latency = np.round(rng.lognormal(3.0, 0.5, rows), 1)
    region = rng.integers(0, len(REGIONS), rows)
    tmp = path.with_suffix(".part")
    with tmp.open("wb") as out:
        for i in range(rows):
            name, versions = MODELS[model[i]]
            record: dict = {
                "ts": ms_to_iso(int(ts[i])), "model": name, "version": versions[int(challenger[i])],
                "request_id": f"req-{i:08d}-{int(merchant[i]):05d}", "entity_id": f"cust-{int(entity[i])}",
                "features": {"amount": float(amount[i]), "country": COUNTRIES[country[i]],
                             "device": DEVICES[device[i]], "merchant_id": int(merchant[i]),
                             "hour": int(ts[i] // 3_600_000 % 24)},
                "latency_ms": float(latency[i]),
                "context": {"region": REGIONS[region[i]], "trace_id": f"{i * 2654435761 % (1 << 64):016x}"},
            }
            if failed[i]:
                record.update(status="error", error=ERRORS[i % len(ERRORS)])
            else:
                record.update(status="ok", prediction=int(score[i] > 0.5), score=float(score[i]))
                if labelled[i]:
                    record["label"] = int(score[i] + rng.normal(0, 0.2) > 0.5)
            out.write(orjson.dumps(record))
            out.write(b"\n")
    tmp.replace(path)


CPU_SECONDS: list[float] = []  # CPU time (user + system) of each timed command, its parser workers included


def timed(command: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> tuple[float, str]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=cwd)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU_SECONDS.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr}")
    return seconds, done.stdout


def load_modeldeck(jsonl: Path, db: Path, executable: Path | None = None) -> float:
    # No MODELDECK_* variable of the machine leaks in; the run happens in the scratch directory,
    # so no ./modeldeck.toml either.
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELDECK_")}
    seconds, out = timed([str(executable or BIN / "modeldeck"), "--db", str(db), "ingest", str(jsonl), "--json"], env=env,
                       cwd=db.parent)
    summary = json.loads(out)
    print(f"  modeldeck summary: {summary['accepted']:,} accepted, {summary['quarantined']:,} quarantined, "
          f"mode {summary['mode']}")
    return seconds


FLOOR = """
import sqlite3, sys, orjson
db, path = sys.argv[1], sys.argv[2]
conn = sqlite3.connect(db, isolation_level=None)
conn.execute("PRAGMA journal_mode = WAL")
conn.execute("PRAGMA synchronous = NORMAL")
conn.execute("CREATE TABLE predictions (id INTEGER PRIMARY KEY, ts TEXT, model TEXT, version TEXT, request_id TEXT, "
             "entity_id TEXT, prediction TEXT, score REAL, label TEXT, latency_ms REAL, status TEXT, error TEXT, "
             "features TEXT, context TEXT)")
def rows():
    with open(path, "rb") as handle:
        for line in handle:
            r = orjson.loads(line)
            yield (r["ts"], r["model"], r["version"], r["request_id"], r.get("entity_id"),
                   orjson.dumps(r.get("prediction")), r.get("score"), orjson.dumps(r.get("label")),
                   r.get("latency_ms"), r.get("status"), r.get("error"), orjson.dumps(r.get("features")),
                   orjson.dumps(r.get("context")))
conn.execute("BEGIN")
conn.executemany("INSERT INTO predictions (ts, model, version, request_id, entity_id, prediction, score, label, "
                 "latency_ms, status, error, features, context) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows())
conn.execute("COMMIT")
conn.close()
"""


def load_floor(jsonl: Path, db: Path) -> float:
    seconds, _ = timed([sys.executable, "-c", FLOOR, str(db), str(jsonl)])
    return seconds


def load_sqlite_utils(jsonl: Path, db: Path) -> float | None:
    tool = BIN / "sqlite-utils"
    if not tool.exists():
        found = shutil.which("sqlite-utils")
        if found is None:
            return None
        tool = Path(found)
    # --alter: the columns of the first records (no error column yet) are not all the columns.
    seconds, _ = timed([str(tool), "insert", str(db), "predictions", str(jsonl), "--nl", "--alter"])
    return seconds


def count(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT count(*) FROM predictions").fetchone()[0]


PG_FLOOR = """
import sys, orjson, psycopg
url, path = sys.argv[1], sys.argv[2]
with psycopg.connect(url) as conn:
    conn.execute("CREATE TABLE predictions (id bigserial, ts bigint, model text, version text, request_id text, "
                 "entity_id text, prediction jsonb, score double precision, label jsonb, latency_ms double precision, "
                 "status text, error text, features jsonb, context jsonb)")
    def dump(value):
        return None if value is None else orjson.dumps(value).decode()
    with conn.cursor().copy("COPY predictions (ts, model, version, request_id, entity_id, prediction, score, label, "
                            "latency_ms, status, error, features, context) FROM STDIN") as copy:
        with open(path, "rb") as handle:
            for line in handle:
                r = orjson.loads(line)
                copy.write_row((0, r["model"], r["version"], r["request_id"], r.get("entity_id"),
                                dump(r.get("prediction")), r.get("score"), dump(r.get("label")), r.get("latency_ms"),
                                r.get("status"), r.get("error"), dump(r.get("features")), dump(r.get("context"))))
"""


# The schema floor's timed step: the day partitions (through the owner's door, as ingest creates them), then
# the prepared COPY text, as is, into the log and into the key table, in one transaction.
PG_SCHEMA_FLOOR = """
import json, sys, psycopg
url, log, keys, meta, indexes_after = *sys.argv[1:5], sys.argv[5] == "after"
with psycopg.connect(url) as conn:
    meta = json.loads(open(meta).read())
    # indexes_after: the log's indexes dropped, then built once over the loaded rows (a bulk mode's best case)
    indexes = conn.execute("SELECT indexname, replace(indexdef, ' ON ONLY ', ' ON ') FROM pg_indexes "
                           "WHERE tablename = 'predictions'").fetchall() if indexes_after else []
    for name, _ in indexes:
        conn.execute(f"DROP INDEX {name}")
    for day in meta["days"]:
        conn.execute("SELECT deck_ensure_partition(%s)", (day,))
    for statement, path in ((meta["copy_log"], log), (meta["copy_keys"], keys)):
        with conn.cursor().copy(statement) as copy, open(path, "rb") as handle:
            while chunk := handle.read(1 << 20):
                copy.write(chunk)
    for _, definition in indexes:
        conn.execute(definition)
    conn.execute("SELECT setval('predictions_id_seq', %s)", (meta["rows"],))
"""

_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_field(value: object) -> str:
    """One field in COPY's text format."""
    if value is None:
        return "\\N"
    return str(value).translate(_COPY_ESCAPES) if isinstance(value, str) else repr(value)


def prepare_schema_floor(jsonl: Path, out: Path) -> tuple[Path, Path, Path]:
    """The schema floor's rows, made untimed by ingest's own parser and row preparing (``parse_block``,
    ``PredictionsTable.prepare_rows``), the vector lowercased as ``append`` lowercases an ASCII one, ids
    1..n: COPY text for ``predictions`` and ``prediction_keys``, and the days whose partitions they need."""
    from app.ingest.parse import parse_block
    from app.store.pg.predictions import PredictionsTable
    from app.store.pg.schema import DAY_MS, day_start

    log, keys, meta = out / "schema-floor-log.copy", out / "schema-floor-keys.copy", out / "schema-floor.json"
    days: set[int] = set()
    rows = 0
    with jsonl.open("rb") as source, log.open("w") as log_out, keys.open("w") as keys_out:
        while True:
            block = source.read(8 << 20)
            block += source.readline()  # whole lines only
            if not block:
                break
            parsed = PredictionsTable.prepare_rows(parse_block(block, rows + 1).rows)
            for row in parsed:
                rows += 1
                ts, model, version, request_id = row[:4]
                days.add(day_start(ts))
                fields = (rows, *row[:13], row[14].lower())
                log_out.write("\t".join(map(_copy_field, fields)) + "\n")
                keys_out.write("\t".join(map(_copy_field, (model, version, request_id, rows, ts))) + "\n")
    days |= {day + DAY_MS for day in days}  # and the next day's, as ingest creates it ahead
    meta.write_text(json.dumps({
        "rows": rows, "days": sorted(days),
        "copy_log": "COPY predictions (id, ts, model, version, request_id, entity_id, prediction, score, label, "
                    "latency_ms, status, error, features, context, tsv) FROM STDIN",
        "copy_keys": "COPY prediction_keys (model, version, request_id, id, ts) FROM STDIN"}))
    return log, keys, meta


def server_cpu(server: object) -> float | None:
    """CPU seconds the local server's processes have used (the postmaster's own and its reaped backends'),
    or None for a server not started here: the server's share of a load, whatever else the machine runs."""
    if server is None:
        return None
    pid = int((server.data / "postmaster.pid").read_text().split()[0])  # type: ignore[attr-defined]
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")  # utime, stime, cutime, cstime


def pg_main(args: argparse.Namespace, jsonl: Path) -> None:
    """The PostgreSQL loads of the same file (modeldeck, the schema floor, the bare floor, and the before if
    given), each into a fresh scratch database; prints the ratios."""
    import psycopg

    from app.store.pg.url import PgUrl

    server = None
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELDECK_")}
    if args.db == "local":
        from tests.support.postgres import PostgresServer

        server = PostgresServer.start()
        base, env["PGPASSWORD"] = server.url(), server.password
        os.environ["PGPASSWORD"] = server.password
    else:
        base = args.db
    admin = PgUrl.parse(base)
    prepared = Path(tempfile.mkdtemp(prefix="modeldeck-bench-"))
    try:
        with psycopg.connect(**admin.connect_kwargs(), autocommit=True) as conn:  # type: ignore[arg-type]
            version = conn.execute("SHOW server_version").fetchone()[0]
        print(f"PostgreSQL {version}, {os.cpu_count()} cores")
        results: dict[str, float] = {}
        names = ["modeldeck ingest (PostgreSQL)", "schema floor: COPY of made rows, db init schema",
                 "floor: psycopg COPY, bare table"]
        if args.indexes_after:
            names.insert(2, "schema floor, the log's indexes built after")
        print("making the schema floor's rows (untimed) ...", flush=True)
        schema_floor_files = prepare_schema_floor(jsonl, prepared)
        if args.before is not None:
            names.append("before: " + str(args.before))
        for name in names:
            times = []
            for run in range(args.repeat):
                scratch = f"modeldeck_bench_{os.getpid()}_{len(results)}_{run}"
                with psycopg.connect(**admin.connect_kwargs(), autocommit=True) as conn:  # type: ignore[arg-type]
                    conn.execute(f'CREATE DATABASE "{scratch}"')
                url = PgUrl(admin.user, admin.host, admin.port, scratch, admin.options, admin.password_env).display()
                served = server_cpu(server)
                try:
                    if name.startswith("schema floor"):
                        subprocess.run([str(BIN / "modeldeck"), "--db", url, "db", "init"], env=env, check=True,
                                       capture_output=True)  # untimed: the schema is what is measured against
                        kwargs = PgUrl.parse(url).connect_kwargs()
                        dsn = psycopg.conninfo.make_conninfo(**{k: str(v) for k, v in kwargs.items()})
                        served = server_cpu(server)
                        seconds, _ = timed([sys.executable, "-c", PG_SCHEMA_FLOOR, dsn, *map(str, schema_floor_files),
                                            "after" if "built after" in name else "in place"], env=env)
                        table = "predictions"
                    elif not name.startswith("floor"):
                        executable = args.before if name.startswith("before") else BIN / "modeldeck"
                        seconds, out = timed([str(executable), "--db", url, "ingest", str(jsonl), "--json"], env=env)
                        print(f"  modeldeck summary: {json.loads(out)['accepted']:,} accepted")
                        table = "prediction_keys"
                    else:
                        kwargs = PgUrl.parse(url).connect_kwargs()
                        dsn = psycopg.conninfo.make_conninfo(**{k: str(v) for k, v in kwargs.items()})
                        seconds, _ = timed([sys.executable, "-c", PG_FLOOR, dsn, str(jsonl)], env=env)
                        table = "predictions"
                    with psycopg.connect(**PgUrl.parse(url).connect_kwargs()) as conn:  # type: ignore[arg-type]
                        stored = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                    if stored != args.rows:
                        raise SystemExit(f"{name}: stored {stored:,} rows, expected {args.rows:,}")
                    times.append(seconds)
                    # Backends are reaped once their connection closes: the count is in after the one above.
                    served = None if served is None else server_cpu(server) - served  # type: ignore[operator]
                    on_server = "" if served is None else f", {served:.2f} s CPU server side"
                    print(f"  {name}: {seconds:.2f} s wall, {CPU_SECONDS[-1]:.2f} s CPU client side{on_server}",
                          flush=True)
                finally:
                    with psycopg.connect(**admin.connect_kwargs(), autocommit=True) as conn:  # type: ignore[arg-type]
                        conn.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
            results[name] = min(times)
        print()
        ours, schema, *after, floor = (args.rows / results[name] for name in names[:len(names) - bool(args.before)])
        then = [args.rows / results[names[-1]]] if args.before is not None else []
        for name, seconds in results.items():
            print(f"{name:<48} {seconds:>8.2f} s {args.rows / seconds:>10,.0f} rows/s")
        print(f"modeldeck / COPY floor:      {ours / floor:.2f}x   (floor is {floor / ours:.2f}x faster; target: <= 2x)")
        print(f"modeldeck / schema floor:    {ours / schema:.2f}x   (schema floor is {schema / ours:.2f}x faster: "
              "what modeldeck's own code costs over the schema)")
        print(f"schema floor / COPY floor:   {schema / floor:.2f}x   (floor is {floor / schema:.2f}x faster: "
              "what the mandated schema costs by itself)")
        if after:
            print(f"indexes built after / in place: {after[0] / schema:.2f}x   (a bulk load's best case, same rows)")
        if then:
            print(f"before / COPY floor:         {then[0] / floor:.2f}x   (modeldeck is {ours / then[0]:.2f}x the before)")
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    finally:
        shutil.rmtree(prepared, ignore_errors=True)
        if server is not None:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=1, help="best of N runs for each loader")
    parser.add_argument("--before", type=Path, default=None,
                        help="another modeldeck executable (e.g. main's) loaded the same way, for a before/after")
    parser.add_argument("--indexes-after", action="store_true",
                        help="with --db: also the schema floor with the log's indexes dropped and built once after the "
                             "COPY (what loading a fresh day without its indexes could at best give)")
    parser.add_argument("--db", default=None, metavar="URL",
                        help="postgresql://... (a role with CREATEDB), or 'local' for a throwaway server: "
                             "benchmark the PostgreSQL store against COPY instead")
    args = parser.parse_args()

    CACHE.mkdir(parents=True, exist_ok=True)
    jsonl = CACHE / f"ingest-{args.rows}.jsonl"
    if not jsonl.exists():
        print(f"generating {args.rows:,} records into {jsonl} (once) ...", flush=True)
        generate(args.rows, jsonl)
    size_mb = jsonl.stat().st_size / 1e6
    if args.db is not None:
        print(f"{args.rows:,} records, {size_mb:,.0f} MB")
        pg_main(args, jsonl)
        return
    print(f"{args.rows:,} records, {size_mb:,.0f} MB, {os.cpu_count()} cores, SQLite {sqlite3.sqlite_version}")

    loaders = {"modeldeck ingest (indexes + FTS)": load_modeldeck,
               "floor: sqlite3 executemany, bare table": load_floor,
               "peer: sqlite-utils insert --nl --alter": load_sqlite_utils}
    if args.before is not None:
        before: Path = args.before
        loaders["before: " + before.parent.parent.parent.name] = \
            lambda jsonl, db: load_modeldeck(jsonl, db, before)
    best: dict[str, float | None] = {}
    cpu: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="modeldeck-bench-") as scratch:
        for name, load in loaders.items():
            times = []
            for run in range(args.repeat):
                db = Path(scratch) / f"{len(best)}-{run}.db"
                seconds = load(jsonl, db)
                if seconds is None:
                    break
                stored = count(db)
                if stored != args.rows:
                    raise SystemExit(f"{name}: stored {stored:,} rows, expected {args.rows:,}")
                times.append(seconds)
                cpu[name] = min(cpu.get(name, float("inf")), CPU_SECONDS[-1])
                print(f"  {name}: {seconds:.2f} s wall, {CPU_SECONDS[-1]:.2f} s CPU", flush=True)
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{db}{suffix}").unlink(missing_ok=True)
            best[name] = min(times) if times else None

    print()
    # CPU time says how much work each loader does whatever else the machine is running; wall time
    # (rows/s) is what a user waits for. modeldeck spreads its work over the cores (parser processes).
    print(f"{'loader':<42} {'seconds':>8} {'rows/s':>10} {'CPU s':>8} {'us CPU/row':>11}")
    rate = {}
    for name, seconds in best.items():
        if seconds is None:
            print(f"{name:<42} {'(not installed)':>19}")
            continue
        rate[name] = args.rows / seconds
        print(f"{name:<42} {seconds:>8.2f} {rate[name]:>10,.0f} {cpu[name]:>8.2f} {cpu[name] / args.rows * 1e6:>11.1f}")
    ours, floor, peer = (rate.get(name) for name in list(loaders)[:3])
    if args.before is not None and ours and (then := rate.get(list(loaders)[3])):
        print(f"modeldeck / before:       {ours / then:.2f}x   (this tree against {args.before})")
    print()
    if ours and floor:
        print(f"modeldeck / floor:        {ours / floor:.2f}x   (floor is {floor / ours:.2f}x faster; target: <= 3x)")
    if ours and peer:
        print(f"modeldeck / sqlite-utils: {ours / peer:.2f}x   (target: > 1x)")
    if ours:
        print(f"modeldeck rows/s:         {ours:,.0f}   (target: >= 100,000)")
    load = os.getloadavg()[0]
    if load > (os.cpu_count() or 1):
        print(f"note: load average {load:.1f} on {os.cpu_count()} cores: other processes shared the CPU; "
              "wall-clock figures are pessimistic")


if __name__ == "__main__":
    main()
