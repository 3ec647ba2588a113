"""A load parsed in worker processes (app/ingest/workers.py), on both backends: SQLite's writer and the store's
own append (PostgreSQL's COPY, app/ingest/batches.py) take the rows as the workers hand them back (plain
tuples, on PostgreSQL with their free-text vector), keep every one, fill late labels, quarantine bad lines, and
reopen a drift window the rows land in."""

from __future__ import annotations

import threading
from pathlib import Path

import orjson
import pytest

from app.ingest.batches import ingest_batches
from app.ingest.run import ingest
from app.models import DriftPoint
from app.search.searcher import Searcher
from app.store.json_keys import json_value
from app.timeutil import iso_to_ms

HOUR_MS = 3_600_000
TEN_O_CLOCK = "2026-11-24T10:00:00Z"


def record(i: int, **fields: object) -> bytes:
    line = {"ts": f"2026-11-24T10:{i // 60 % 60:02d}:{i % 60:02d}Z", "model": "fraud", "version": "v3",
            "request_id": f"req-{i}", "entity_id": f"cust-{i % 7}", "score": (i % 100) / 100,
            "features": {"amount": i * 1.5, "country": "DE" if i % 2 else "FR"}, "latency_ms": 3.5, **fields}
    return orjson.dumps(line) + b"\n"


def load(store, path: Path):
    """As `modeldeck ingest` does (app/cli/ingest.py), with one parser process forced."""
    if store.kind == "postgresql":
        return ingest_batches(store, [str(path)], workers=1)
    return ingest(store, [str(path)], workers=1)


def test_a_load_parsed_in_worker_processes_keeps_every_row_and_reopens_computed_drift(any_store, tmp_path: Path):
    if threading.active_count() > 1:
        pytest.skip("parser workers are forked only from a single-threaded process")
    store = any_store
    first = tmp_path / "first.jsonl"
    first.write_bytes(b"".join(record(i) for i in range(2000)))
    assert load(store, first).accepted == 2000
    window = iso_to_ms(TEN_O_CLOCK)
    store.drift.put_many([DriftPoint(model="fraud", version="v3", feature="amount", window_start=window,
                                     window_end=window + HOUR_MS, n_reference=100, n_current=100, method="psi",
                                     value=0.01, threshold=0.2, drifted=False)])
    assert store.drift.computed_windows("fraud")

    late = tmp_path / "late.jsonl"  # back-filled rows in the computed hour, a bad line, a late label, a repeat
    late.write_bytes(b"".join(record(i, context={"note": "zebra crossing"} if i == 2500 else {})
                              for i in range(2000, 3000)) + b"not json\n" + record(7, label=1) + record(5))
    summary = load(store, late)

    assert (summary.accepted, summary.quarantined, summary.lines) == (1000, 1, 1003)
    assert summary.accepted + summary.duplicates + summary.labelled == 1002
    assert not store.drift.computed_windows("fraud")  # the hour the late rows landed in is pending again
    searcher = Searcher(store)
    rows = {r["request_id"]: r for r in searcher.iter_rows(searcher.parse("model:fraud", now=window + 2 * HOUR_MS))}
    assert len(rows) == 3000
    assert rows["req-7"]["label"] == 1
    assert json_value(rows["req-2500"]["features"]) == {"amount": 3750.0, "country": "FR"}
    assert store.quarantine.count() == 1
    # Free text too (on PostgreSQL the vector was built by the parser process, app.store.pg.predictions.with_vectors).
    zebra = searcher.parse("zebra", now=window + 2 * HOUR_MS)
    assert [r["request_id"] for r in searcher.iter_rows(zebra)] == ["req-2500"]
