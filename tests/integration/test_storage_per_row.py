"""Storage per row (issue 18 item 5): ids leave the free-text index, one request-led unique index; an
existing store is converted once (saying so), and an operator still finds a record by its id."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from app.search.searcher import Searcher, parse
from app.store import Store
from app.store.bulk import write_all
from app.store.connection import _statements
from app.store.schema import FTS_IDS_OUT_VERSION, FTS_REBUILD_VERSION, MIGRATIONS, SCHEMA_VERSION
from tests.support.search_records import random_records, to_row

CLI = [sys.executable, "-c", "from app.cli.main import main; main()"]
REQUEST = "01a1707f6b7d-8fa8f2b6"


def _records(n: int = 50) -> list[dict]:
    records = random_records(n, seed=11)
    records[7].update(request_id=REQUEST, entity_id="cust-851", error="TimeoutError: bureau-gateway 504",
                      status="error", context={"trace_id": "563d45cd3d978f6f"})
    return records


def _indexes(path: Path) -> set[str]:
    conn = sqlite3.connect(path)
    try:
        return {r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'predictions' AND sql IS NOT NULL")}
    finally:
        conn.close()


def _finds(store: Store) -> None:
    searcher = Searcher(store)
    by_field = [r["request_id"] for r in searcher.iter_rows(parse(f"request:{REQUEST}"))]
    assert by_field == [REQUEST]
    # Typed alone, the id still finds its record (routed to request:), and so does an entity id.
    assert [r["request_id"] for r in searcher.iter_rows(parse(REQUEST))] == [REQUEST]
    assert REQUEST in [r["request_id"] for r in searcher.iter_rows(parse("cust-851"))]
    assert REQUEST not in [r["request_id"] for r in searcher.iter_rows(parse(f"-{REQUEST}"))]
    # A piece of an id is not a word of the record any more: the index holds what people read.
    assert searcher.count(parse("8fa8f2b6")).value == 0
    # Words of the error and of context values are found as before.
    for text in ("TimeoutError", "bureau", '"bureau-gateway 504"', "563d45cd3d978f6f", "trace_id"):
        assert REQUEST in [r["request_id"] for r in searcher.iter_rows(parse(text))], text


def test_a_new_store_keeps_one_request_index_and_no_ids_in_free_text(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    records = _records()
    with Store.open(path) as store:
        write_all(store.conn, [[to_row(r) for r in records]], drop_indexes=True)
        # Re-ingesting (incremental, then bulk) adds nothing: the request-led index is the unique key.
        assert write_all(store.conn, [[to_row(r) for r in records]]).accepted == 0
        assert write_all(store.conn, [[to_row(r) for r in records]], drop_indexes=True).accepted == 0
        assert store.conn.execute("SELECT count(*) FROM predictions").fetchone()[0] == len(records)
        _finds(store)
    names = _indexes(path)
    assert "predictions_request_key" in names
    assert not names & {"predictions_request_answer", "predictions_model_version_request"}


def test_an_existing_store_is_converted_once_and_the_cli_says_so(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    records = _records()
    with Store(path, migrate_to=FTS_IDS_OUT_VERSION - 1) as old:  # the store before ids left the index
        write_all(old.conn, [[to_row(r) for r in records]], drop_indexes=True)
        # As the writer of that schema indexed them: the ids too (step 11's rebuild of the index from the rows).
        for statement in _statements(MIGRATIONS[FTS_REBUILD_VERSION - 1]):
            if "predictions_fts" in statement:
                old.conn.execute(statement)
        assert old.conn.execute("SELECT count(*) FROM predictions_fts WHERE predictions_fts MATCH '8fa8f2b6'"
                                ).fetchone()[0] == 1  # the old index held the id's pieces
    assert "predictions_request_answer" in _indexes(path)
    done = subprocess.run([*CLI, "--db", str(path), "search", "status:error"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "upgrading the store" in done.stderr and "free-text index" in done.stderr
    again = subprocess.run([*CLI, "--db", str(path), "search", "status:error"],
                           capture_output=True, text=True, timeout=120)
    assert "upgrading" not in again.stderr  # once
    with Store.open(path) as store:
        assert store.schema_version() == SCHEMA_VERSION
        assert store.conn.execute("SELECT count(*) FROM predictions").fetchone()[0] == len(records)
        _finds(store)
        # The unique key survived the conversion.
        assert write_all(store.conn, [[to_row(r) for r in records]]).accepted == 0
    names = _indexes(path)
    assert "predictions_request_key" in names and "predictions_request_answer" not in names
