"""``modeldeck ingest`` end to end on real files and real SQLite stores: counts, quarantine, dedup, labels."""

from __future__ import annotations

import gzip
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from app.cli.main import main
from app.ingest.run import ingest
from app.store import Store

CLI = [sys.executable, "-c", "from app.cli.main import main; main()"]


def record(i: int, **fields: object) -> dict:
    base = {
        "ts": f"2026-11-24T10:{i // 60 % 60:02d}:{i % 60:02d}Z", "model": "fraud", "version": "v3",
        "request_id": f"req-{i}", "entity_id": f"cust-{i % 7}", "score": (i % 100) / 100,
        "features": {"amount": i * 1.5, "country": "DE" if i % 2 else "FR"}, "latency_ms": 3.5,
    }
    return {**base, **fields}


def jsonl(*records: dict | bytes) -> bytes:
    return b"".join((r if isinstance(r, bytes) else orjson.dumps(r)) + b"\n" for r in records)


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No config file or environment of the machine running the tests leaks in."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    for name in list(os.environ):
        if name.startswith("MODELDECK_"):
            monkeypatch.delenv(name)


def run(store_path: Path, *args: str, input: bytes | None = None) -> tuple[int, dict | str, str]:
    result = CliRunner().invoke(main, ["--db", str(store_path), "ingest", *args], input=input)
    out = result.stdout
    return result.exit_code, (json.loads(out) if "--json" in args and out.strip() else out), result.stderr


def counts(summary: dict) -> tuple[int, ...]:
    return tuple(summary[k] for k in ("accepted", "duplicates", "labelled", "quarantined", "blank", "lines"))


def query(store_path: Path, sql: str, params: tuple = ()) -> list[tuple]:
    with sqlite3.connect(store_path) as conn:
        return conn.execute(sql, params).fetchall()


BAD_LINES = [
    (b"{not json at all", "not JSON: "),
    (b"[1, 2]", "not a JSON object (got an array)"),
    (orjson.dumps({"ts": "2026-11-24T10:00:00Z", "model": "fraud", "version": "v3"}), "request_id: missing"),
    (orjson.dumps(record(900, score="very high")), "score: Input should be a valid number"),
    (orjson.dumps(record(901, features=["amount", 3])), "features: Input should be a valid dictionary"),
    (orjson.dumps(record(902, ts="last tuesday")), "ts: not an ISO-8601 timestamp"),
    (orjson.dumps(record(903, ts="2026-11-24T10:00:00")), "ts: timestamp has no UTC offset"),
    (orjson.dumps(record(904))[:-1] + b', "note": "\xff\xfe"}', "invalid UTF-8: byte 0xff"),
    (orjson.dumps(record(905, status="timeout")), "status: String should match pattern"),
]


def test_every_kind_of_bad_line_is_quarantined_and_the_run_goes_on(tmp_path: Path, store_path: Path):
    lines = [orjson.dumps(record(1))]
    for raw, _ in BAD_LINES:
        lines += [raw, b""]  # a blank line after each: skipped, not quarantined
    lines += [orjson.dumps(record(2))]
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")

    code, summary, _ = run(store_path, str(path), "--json")

    assert code == 0  # quarantined lines do not fail the run
    assert counts(summary) == (2, 0, 0, 9, 9, 20)
    stored = query(store_path, "SELECT source, line_no, raw, error FROM quarantine ORDER BY line_no")
    assert [row[1] for row in stored] == list(range(2, 20, 2))
    for (source, _, raw, error), (bad, expected) in zip(stored, BAD_LINES):
        assert source == str(path)
        assert error.startswith(expected)
        assert raw == bad.decode("utf-8", "backslashreplace")
    assert stored[7][2].endswith('"note": "\\xff\\xfe"}')  # invalid bytes shown, not lost
    assert query(store_path, "SELECT request_id FROM predictions ORDER BY id") == [("req-1",), ("req-2",)]


def test_reingesting_the_same_file_adds_nothing(tmp_path: Path, store_path: Path):
    path = tmp_path / "day.jsonl"
    path.write_bytes(jsonl(*(record(i) for i in range(50)), record(3)))  # req-3 twice in the file

    first = run(store_path, str(path), "--json")[1]
    second = run(store_path, str(path), "--json")[1]

    assert counts(first) == (50, 1, 0, 0, 0, 51)
    assert counts(second) == (0, 51, 0, 0, 0, 51)
    assert query(store_path, "SELECT count(*) FROM predictions") == [(50,)]


@pytest.mark.parametrize(("stored_first", "new_rows"), [(10, 200), (2000, 0)], ids=["bulk", "incremental"])
def test_a_late_label_fills_an_empty_label_and_is_counted(tmp_path: Path, store_path: Path, stored_first: int,
                                                          new_rows: int):
    (tmp_path / "predictions.jsonl").write_bytes(
        jsonl(*(record(i) for i in range(stored_first)), record(stored_first + 1, label=0)))
    # Label records: two fill empty labels, one repeats a label already there (a duplicate),
    # one is for a request never seen (a new row), one fills then a second one cannot.
    # New rows alongside make the input big next to the store: that run loads in bulk.
    (tmp_path / "labels.jsonl").write_bytes(jsonl(
        record(1, label=1), record(2, label="fraud"), record(stored_first + 1, label=1),
        record(stored_first + 5, label=0), record(3, label=1), record(3, label=0),
        *(record(100_000 + i) for i in range(new_rows)),
    ))
    run(store_path, str(tmp_path / "predictions.jsonl"))
    code, summary, _ = run(store_path, str(tmp_path / "labels.jsonl"), "--json")

    assert code == 0
    assert summary["mode"] == ("bulk" if new_rows else "incremental")
    assert counts(summary) == (1 + new_rows, 2, 3, 0, 0, 6 + new_rows)
    labels = dict(query(store_path, "SELECT request_id, label FROM predictions WHERE label IS NOT NULL"))
    assert labels == {"req-1": 1, "req-2": "fraud", f"req-{stored_first + 1}": 0, f"req-{stored_first + 5}": 0,
                      "req-3": 1}


def test_a_label_later_in_the_same_file_fills_the_label(tmp_path: Path, store_path: Path):
    path = tmp_path / "day.jsonl"
    path.write_bytes(jsonl(record(1), record(2), record(1, label=1)))
    assert counts(run(store_path, str(path), "--json")[1]) == (2, 0, 1, 0, 0, 3)
    assert query(store_path, "SELECT label FROM predictions WHERE request_id = 'req-1'") == [(1,)]


def test_gzip_files_are_read(tmp_path: Path, store_path: Path):
    path = tmp_path / "day.jsonl.gz"
    path.write_bytes(gzip.compress(jsonl(*(record(i) for i in range(30)), b"broken")))
    code, summary, _ = run(store_path, str(path), "--json")
    assert code == 0 and counts(summary) == (30, 0, 0, 1, 0, 31)
    assert query(store_path, "SELECT line_no, raw FROM quarantine") == [(31, "broken")]


def test_stdin_through_a_real_pipe(tmp_path: Path, store_path: Path):
    data = jsonl(*(record(i) for i in range(20)), b"oops", record(5))
    done = subprocess.run([*CLI, "--db", str(store_path), "ingest", "-", "--json"], input=data, capture_output=True,
                          timeout=60, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert counts(json.loads(done.stdout)) == (20, 1, 0, 1, 0, 22)
    assert query(store_path, "SELECT source, line_no FROM quarantine") == [("<stdin>", 21)]


def test_gzip_on_stdin_is_refused_with_a_hint(store_path: Path):
    code, _, err = run(store_path, "-", input=gzip.compress(jsonl(record(1))))
    assert code == 1 and "pipe it through zcat" in err


def test_a_missing_file_is_one_line_and_the_other_files_are_still_read(tmp_path: Path, store_path: Path):
    good = tmp_path / "good.jsonl"
    good.write_bytes(jsonl(record(1), record(2)))
    code, summary, err = run(store_path, str(tmp_path / "nope.jsonl"), str(good), "--json")
    assert code == 1
    assert err.strip() == f"modeldeck: {tmp_path / 'nope.jsonl'}: no such file"
    assert summary["accepted"] == 2 and summary["errors"] == [f"{tmp_path / 'nope.jsonl'}: no such file"]


def test_model_option_fills_missing_models_and_quarantines_others(tmp_path: Path, store_path: Path):
    nameless = {k: v for k, v in record(1).items() if k != "model"}
    path = tmp_path / "churn.jsonl"
    path.write_bytes(jsonl(nameless, record(2, model="churn"), record(3, model="fraud")))
    code, summary, _ = run(store_path, str(path), "--model", "churn", "--json")
    assert code == 0 and counts(summary) == (2, 0, 0, 1, 0, 3)
    assert query(store_path, "SELECT model, request_id FROM predictions ORDER BY id") == [("churn", "req-1"),
                                                                                        ("churn", "req-2")]
    assert query(store_path, "SELECT line_no, error FROM quarantine") == [
        (3, "model: 'fraud' is not the --model given ('churn')")]


def test_text_summary(tmp_path: Path, store_path: Path):
    path = tmp_path / "day.jsonl"
    path.write_bytes(jsonl(record(1), b"", b"bad"))
    code, out, _ = run(store_path, str(path))
    assert code == 0
    assert out.startswith("3 lines in ")
    assert out.rstrip().endswith("1 accepted, 0 duplicates, 0 labelled, 1 quarantined, 1 blank")


def test_usage_errors(store_path: Path):
    assert run(store_path)[0] == 2
    code, _, err = run(store_path, "-", "--follow")
    assert code == 2 and "--follow reads files" in err


def test_schema_option_prints_the_published_schema(store_path: Path):
    code, out, _ = run(store_path, "--schema")
    published = (Path(__file__).parents[2] / "data" / "prediction.schema.json").read_text(encoding="utf-8")
    assert code == 0 and out == published


def test_stored_rows_are_searchable_and_keep_every_index(tmp_path: Path, store_path: Path):
    with Store.open(store_path) as store:
        indexes_before = query(store_path, "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND "
                                           "tbl_name = 'predictions' ORDER BY name")
    path = tmp_path / "day.jsonl"
    path.write_bytes(jsonl(record(1, context={"region": "eu-west-1"}), record(2, error="upstream timeout",
                                                                              status="error")))
    run(store_path, str(path))
    with Store.open(store_path) as store:
        match = store.conn.execute("SELECT rowid FROM predictions_fts WHERE predictions_fts MATCH ?", ('"eu-west-1"',))
        assert [store.predictions.get(r[0])["request_id"] for r in match] == ["req-1"]
        timeout = store.conn.execute("SELECT rowid FROM predictions_fts WHERE predictions_fts MATCH 'timeout'")
        assert [store.predictions.get(r[0])["request_id"] for r in timeout] == ["req-2"]
        number = store.conn.execute("SELECT count(*) FROM predictions_fts WHERE predictions_fts MATCH ?",
                                    ('"1.5"',))
        assert number.fetchone()[0] == 0  # numbers are not indexed
    assert query(store_path, "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND "
                             "tbl_name = 'predictions' ORDER BY name") == indexes_before


def test_parser_workers_give_the_same_store_as_parsing_in_process(tmp_path: Path):
    if threading.active_count() > 1:
        pytest.skip("parser workers are forked only from a single-threaded process")
    path = tmp_path / "day.jsonl"
    path.write_bytes(jsonl(*(record(i) for i in range(3000)), b"bad", record(7, label=1)))
    results = []
    for workers in (0, 1):
        with Store.open(tmp_path / f"w{workers}.db") as store:
            summary = ingest(store, [str(path)], workers=workers)
            rows = store.conn.execute("SELECT * FROM predictions ORDER BY id").fetchall()
            fts = store.conn.execute("SELECT count(*) FROM predictions_fts WHERE predictions_fts MATCH 'DE'").fetchone()
            results.append((counts(summary.model_dump()), rows, fts))
    assert results[0] == results[1]
    assert results[0][0] == (3000, 0, 1, 1, 0, 3002)


def test_readers_keep_reading_while_a_load_runs_and_see_all_of_it_after(tmp_path: Path, store_path: Path):
    Store.open(store_path).close()
    path = tmp_path / "big.jsonl"
    path.write_bytes(jsonl(*(record(i) for i in range(40_000))))
    loader = subprocess.Popen([*CLI, "--db", str(store_path), "ingest", str(path), "--json"], cwd=tmp_path,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    seen = set()
    try:
        reader = sqlite3.connect(f"file:{store_path}?mode=ro", uri=True, timeout=5)
        deadline = time.monotonic() + 120
        while loader.poll() is None and time.monotonic() < deadline:
            seen.add(reader.execute("SELECT count(*) FROM predictions").fetchone()[0])  # never "locked"
            time.sleep(0.05)
        out, err = loader.communicate(timeout=60)
    finally:
        if loader.poll() is None:
            loader.kill()
            loader.wait()
    assert loader.returncode == 0, err
    assert seen <= {0, 40_000}  # a bulk load is all or nothing for readers
    assert reader.execute("SELECT count(*) FROM predictions").fetchone()[0] == 40_000
    reader.close()


def test_a_load_killed_midway_leaves_the_store_as_it_was_with_its_indexes(tmp_path: Path, store_path: Path):
    first = tmp_path / "first.jsonl"
    first.write_bytes(jsonl(*(record(i) for i in range(100))))
    run(store_path, str(first))
    indexes = query(store_path, "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'predictions'")
    big = tmp_path / "big.jsonl"
    big.write_bytes(jsonl(*(record(i, model="churn") for i in range(100_000))))
    loader = subprocess.Popen([*CLI, "--db", str(store_path), "ingest", str(big)], cwd=tmp_path,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wal = Path(f"{store_path}-wal")
        deadline = time.monotonic() + 60
        # Kill it once it has written a good part of the load (the WAL grows as it goes).
        while loader.poll() is None and time.monotonic() < deadline:
            if wal.exists() and wal.stat().st_size > 8 << 20:
                break
            time.sleep(0.01)
        assert loader.poll() is None, "the load finished before it could be killed"
        loader.send_signal(signal.SIGKILL)
        loader.wait(timeout=30)
    finally:
        if loader.poll() is None:
            loader.kill()
            loader.wait()
    with Store.open(store_path) as store:
        assert store.conn.execute("SELECT count(*) FROM predictions").fetchone()[0] == 100
        assert store.conn.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND "
                                  "tbl_name = 'predictions'").fetchall() == indexes
        assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_features_declared_for_search_are_indexed_by_the_ingest_that_loads_them(tmp_path: Path, store_path: Path):
    from app.store.search_sql import feature_column

    config = tmp_path / "modeldeck.toml"
    config.write_text('[search]\nindexed_features = ["amount"]\n')
    path = tmp_path / "day.jsonl"
    path.write_bytes(jsonl(*(record(i) for i in range(50))))
    result = CliRunner().invoke(main, ["--config", str(config), "--db", str(store_path), "ingest", str(path)])
    assert result.exit_code == 0, result.output
    assert "indexed features amount for search" in result.stderr
    with Store.open(store_path, read_only=True) as store:
        plan = " ".join(r[3] for r in store.conn.execute(
            f'EXPLAIN QUERY PLAN SELECT id FROM predictions WHERE "{feature_column("amount")}" > 30'))
        hits = store.conn.execute(f'SELECT count(*) FROM predictions WHERE "{feature_column("amount")}" > 30')
        assert hits.fetchone()[0] == sum(1 for i in range(50) if i * 1.5 > 30)
    assert feature_column("amount") in plan

    again = CliRunner().invoke(main, ["--config", str(config), "--db", str(store_path), "ingest", str(path)])
    assert again.exit_code == 0 and "indexed" not in again.stderr  # once
