"""Exports: JSONL in the ingest format (round trip through `modeldeck ingest`), CSV, no half files."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import orjson
import pytest

from app.search.export import export_file, format_for, write_rows
from app.search.searcher import Searcher
from app.store import Store
from app.store.json_keys import json_value
from app.store.bulk import write_all
from app.store.predictions import COLUMNS, record_from_row
from tests.support.search_records import BASE_MS, SPAN_MS, random_records, to_row

NOW = BASE_MS + SPAN_MS


@pytest.fixture
def filled(store: Store) -> Store:
    write_all(store.conn, [[to_row(r) for r in random_records(300, seed=11)]])
    return store


def test_jsonl_export_is_the_ingest_format(filled: Store, tmp_path: Path) -> None:
    searcher = Searcher(filled)
    query = searcher.parse("model:fraud", now=NOW)
    rows = list(searcher.iter_rows(query))
    progress: list[int] = []
    path = tmp_path / "out.jsonl"
    assert export_file(searcher.iter_rows(query), path, "jsonl", progress=progress.append) == len(rows)
    lines = path.read_bytes().splitlines()
    assert [orjson.loads(line) for line in lines] == [record_from_row(r) for r in rows]
    first = orjson.loads(lines[0])
    assert first["ts"].endswith("Z") and "T" in first["ts"]  # ISO, not epoch ms
    assert "id" not in first and set(first) <= set(COLUMNS)
    assert progress[-1] == len(rows)


def test_csv_export_has_a_header_and_one_row_per_result(filled: Store, tmp_path: Path) -> None:
    searcher = Searcher(filled)
    rows = list(searcher.iter_rows(searcher.parse("status:error", now=NOW)))
    path = tmp_path / "out.csv"
    export_file(iter(rows), path, format_for(path))
    table = list(csv.DictReader(path.open(newline="")))
    assert len(table) == len(rows) and list(table[0]) == list(COLUMNS)
    assert table[0]["request_id"] == rows[0]["request_id"]
    assert table[0]["error"] == rows[0]["error"]
    assert orjson.loads(table[0]["context"]) == json_value(rows[0]["context"])


def test_a_failed_export_leaves_no_file(filled: Store, tmp_path: Path) -> None:
    def rows():
        yield from Searcher(filled).iter_rows(Searcher(filled).parse("", now=NOW), limit=10)
        raise KeyboardInterrupt

    path = tmp_path / "out.jsonl"
    with pytest.raises(KeyboardInterrupt):
        export_file(rows(), path, "jsonl")
    assert not any(p.name.startswith("out.jsonl") for p in tmp_path.iterdir())


def test_streaming_flushes_as_it_goes(filled: Store) -> None:
    out = io.BytesIO()
    flushed: list[int] = []
    out.flush = lambda: flushed.append(len(out.getvalue()))  # type: ignore[method-assign]
    n = write_rows(Searcher(filled).iter_rows(Searcher(filled).parse("", now=NOW)), out, "jsonl", every=50)
    assert n == 300 and len(flushed) >= 6 and flushed[0] > 0
