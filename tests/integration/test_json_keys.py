"""Issue 18 item 5: JSON keys stored once per store. A new store's rows hold short codes for the keys of features
and context; every reader (a record, search, drift, completion) still sees the real names. A store that held
rows before the upgrade is left as it is (nothing rewritten at its first open) and reads back the same."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson

from app.search.searcher import Searcher, ensure_feature_indexes, parse
from app.store import Store
from app.store.bulk import BulkWriter, write_all
from app.store.compact import compact
from app.store.connection import PAGE_SIZE
from app.store.json_keys import json_text, json_value
from app.store.predictions import COLUMNS, record_from_row
from app.store.schema import JSON_KEYS_VERSION, SCHEMA_VERSION
from app.store.search_sql import feature_column
from tests.support.search_records import brute_force, random_records, to_row

CLI = [sys.executable, "-c", "from app.cli.main import main; main()"]
QUERIES = ("features.amount>1000", "features.country=DE", "features.a.b>=3", "features.flag=true",
           "context.trace_id=t-000003", "features.a=\"a real key named a\"", "-features.zip=1234",
           "features.it's=yes", "features.c=1")


def _records() -> list[dict[str, Any]]:
    records = random_records(120, seed=18)
    # Keys and values a code must not disturb: keys spelled like codes, quotes, dots, unicode, nested objects,
    # JSON true/null, a float that needs all 17 digits, a big integer, an empty object.
    records[3]["features"] = {"a": "a real key named a", 'he said "hi"': "quoted", "ünïcode": 1.2345678901234567,
                              "nested": {"deep": [1, {"x": None}], "amount": 7}, "flag": True, "none": None,
                              "big": 2**62, "amount": 1500, "c": 1}
    records[3]["context"] = {"trace_id": "t-000003", "b": False}
    records[4]["features"] = {}
    return records


def _page_size(conn: sqlite3.Connection) -> int:
    return conn.execute("PRAGMA page_size").fetchone()[0]


def _file_of_4k_pages(path: Path) -> None:
    """An empty SQLite file with 4 KiB pages, as stores were made before ``PAGE_SIZE``."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA page_size = 4096")
    conn.execute("PRAGMA journal_mode = WAL")  # writes the header: the page size is fixed from here
    conn.close()


def _raw(conn: sqlite3.Connection) -> dict[str, tuple]:
    """Every row's features and context as stored, by request id."""
    return {r[0]: r[1:] for r in conn.execute("SELECT request_id, features, context FROM predictions")}


def _reads_back(store: Store, records: list[dict[str, Any]]) -> None:
    """Every record reads back as logged through each way a user sees one, and search finds what they say."""
    expected = {r["request_id"]: record_from_row(dict(zip(COLUMNS, to_row(r)))) for r in records}
    searcher = Searcher(store)
    seen = {r["request_id"]: record_from_row(r) for r in searcher.iter_rows(parse(""))}
    assert seen == expected
    row_id = store.conn.execute("SELECT id FROM predictions WHERE request_id = 'r-3'").fetchone()[0]
    assert record_from_row(store.predictions.get(row_id)) == expected["r-3"]
    ids = list(range(len(records)))
    by_request = {r["request_id"]: i for i, r in enumerate(records)}
    for text in QUERIES:
        found = [by_request[r["request_id"]] for r in searcher.iter_rows(parse(text))]
        assert sorted(found) == sorted(brute_force(records, ids, parse(text))), text
    assert store.predictions.recent_keys("features") == sorted({k for r in records for k in (r.get("features") or {})})


def test_a_new_store_holds_codes_and_reads_back_every_record_by_its_names(tmp_path: Path) -> None:
    records = _records()
    with Store(tmp_path / "new.db") as store:
        write_all(store.conn, [[to_row(r) for r in records]], drop_indexes=True)
        ensure_feature_indexes(store, ["amount"])
        assert _page_size(store.conn) == PAGE_SIZE
        stored = store.conn.execute("SELECT group_concat(features) FROM predictions").fetchone()[0]
        assert '"country"' not in stored and '"nested"' not in stored  # top-level keys are codes (nested stay)
        assert store.conn.execute("SELECT count(*) FROM json_keys WHERE name = 'country'").fetchone()[0] == 1
        _reads_back(store, records)
        # The indexed feature's generated column reads the coded key.
        column = feature_column("amount")
        assert store.conn.execute(f'SELECT "{column}" FROM predictions WHERE request_id = \'r-3\'').fetchone() == (1500,)


def test_a_store_with_rows_before_the_upgrade_is_not_rewritten_and_reads_back_the_same(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    records = _records()
    with Store(path, migrate_to=JSON_KEYS_VERSION - 1) as old:
        write_all(old.conn, [[to_row(r) for r in records[:100]]], drop_indexes=True)
        ensure_feature_indexes(old, ["amount"])
        before = _raw(old.conn)
    with Store.open(path) as store:
        assert store.schema_version() == SCHEMA_VERSION
        assert _raw(store.conn) == before  # byte for byte: the upgrade rewrote nothing
        # Rows written after the upgrade keep names too (the store is of one kind), through both writers.
        write_all(store.conn, [[to_row(r) for r in records[100:110]]])
        store.predictions.append([to_row(r) for r in records[110:]])
        assert '"country"' in store.conn.execute("SELECT features FROM predictions WHERE request_id = 'r-119'"
                                                 ).fetchone()[0]
        assert store.conn.execute("SELECT count(*) FROM json_keys").fetchone()[0] == 0
        _reads_back(store, records)


def test_a_new_key_gets_a_code_once_and_writers_that_lost_a_race_do_not_reuse_it(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    first, second = _records()[:2]
    first["features"] = {"region_risk": 0.5}
    second["features"] = {"device": "ios"}
    first["context"] = second["context"] = None
    with Store(path) as one, Store(path) as two:
        writer = BulkWriter(one.conn)
        # A write whose transaction is rolled back takes its new code back with it...
        one.conn.execute("BEGIN IMMEDIATE")
        writer.write([to_row(first)])
        one.conn.execute("ROLLBACK")
        # ... so another writer may hand the same code to another name, and the first writer, writing again,
        # must not keep the code it held for region_risk.
        assert write_all(two.conn, [[to_row(second)]]).accepted == 1
        assert writer.write([to_row(first)]).accepted == 1
        got = {r["request_id"]: json_value(r["features"]) for r in Searcher(one).iter_rows(parse(""))}
        assert got[first["request_id"]] == {"region_risk": 0.5}
        assert got[second["request_id"]] == {"device": "ios"}
        codes = dict(one.conn.execute("SELECT name, code FROM json_keys"))
        assert set(codes) == {"device", "region_risk"} and len(set(codes.values())) == 2


def test_db_compact_writes_a_coded_copy_resumably_and_leaves_the_store_as_it_was(tmp_path: Path) -> None:
    path, out = tmp_path / "old.db", tmp_path / "compact.db"
    records = _records()
    _file_of_4k_pages(path)  # made by an older modeldeck
    with Store(path, migrate_to=JSON_KEYS_VERSION - 1) as old:
        write_all(old.conn, [[to_row(r) for r in records]], drop_indexes=True)
        ensure_feature_indexes(old, ["amount"])
    with Store.open(path) as store:
        before = _raw(store.conn)
        searcher = Searcher(store)  # a console reading the store while the copy is made
        first = compact(store.conn, out, chunk=40, stop_after_chunks=1)  # stopped after its first chunk
        assert (first.recoded, out.exists()) == (40, False)
        store.predictions.append([to_row(random_records(1, seed=5, start=500)[0])])  # the store keeps working
        assert len(list(searcher.iter_rows(parse("features.country=DE")))) > 0
        assert _raw(store.conn).items() >= before.items()  # the store itself is only read
        assert _page_size(store.conn) == 4096  # ... and the store keeps its own
    done = subprocess.run([*CLI, "--db", str(path), "db", "compact", str(out)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert "keys coded (resumed)" in done.stdout and "recode 120/120" in done.stderr
    with Store.open(out) as copy:
        assert copy.conn.execute("SELECT coded FROM json_keys_state").fetchone() == (1,)
        assert _page_size(copy.conn) == PAGE_SIZE  # the copy has the new stores' bigger pages ...
        stored = copy.conn.execute("SELECT group_concat(features) FROM predictions").fetchone()[0]
        assert '"country"' not in stored
        _reads_back(copy, records)  # the row the store got after the snapshot is not in the copy
        column = feature_column("amount")
        assert copy.conn.execute(f'SELECT "{column}" FROM predictions WHERE request_id = \'r-3\'').fetchone() == (1500,)
        plan = " ".join(r[3] for r in copy.conn.execute(
            f'EXPLAIN QUERY PLAN SELECT id FROM predictions WHERE "{column}" > 1000'))
        assert f"{column}_idx" in plan
    again = subprocess.run([*CLI, "--db", str(out), "db", "compact", str(tmp_path / "again.db")],
                           capture_output=True, text=True, timeout=120)
    assert again.returncode != 0 and "already hold coded keys" in again.stderr


def test_a_page_read_before_a_new_key_was_coded_and_read_after_the_store_closed_shows_every_name(
        tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    first, second = _records()[:2]
    first["features"], second["features"] = {"amount": 5}, {"amount": 6, "device": "ios"}
    with Store(path) as writer:
        write_all(writer.conn, [[to_row(first)]])
    with Store.open(path, read_only=True) as reader:
        searcher = Searcher(reader)  # holds no code for "device" yet
        assert len(searcher.page(parse("")).rows) == 1
        with Store(path) as writer:  # another process codes "device" meanwhile
            write_all(writer.conn, [[to_row(second)]])
        rows = searcher.page(parse("")).rows
    # The page's rows are read on another thread (the Logs detail's worker), the store closed: nothing to look up.
    import threading
    seen: list[object] = []
    thread = threading.Thread(target=lambda: seen.extend(json_text(r["features"]) for r in rows))
    thread.start()
    thread.join()
    assert [orjson.loads(text) for text in seen] == [{"amount": 6, "device": "ios"}, {"amount": 5}]
    assert json_text(None) is None and json_text('{"x":1}') == '{"x":1}'  # a store of names: text as it is
