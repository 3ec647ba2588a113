"""The store file: pragmas, migrations, refusals and the append-only audit trail, on real SQLite files."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from app.models import ModelInfo
from app.store import SCHEMA_VERSION, Store, StoreError
from app.store.locks import LockHeld


def test_new_store_has_wal_busy_timeout_and_foreign_keys(store: Store):
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 5000
    assert store.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert store.schema_version() == SCHEMA_VERSION
    tables = {r[0] for r in store.conn.execute("SELECT name FROM sqlite_master")}
    assert {"predictions", "predictions_fts", "quarantine", "audit", "checklist", "baselines", "drift",
            "metric_samples", "alerts", "locks", "ingest_offsets", "models", "versions"} <= tables


def test_older_store_is_migrated_and_keeps_its_data(store_path: Path):
    with Store(store_path, migrate_to=1) as old:
        assert old.schema_version() == 1
        old.audit.append("rollback", "fraud", detail={"to": "v2"}, outcome="succeeded")
        assert "checklist" not in {r[0] for r in old.conn.execute("SELECT name FROM sqlite_master")}
    with Store.open(store_path) as upgraded:
        assert upgraded.schema_version() == SCHEMA_VERSION
        assert [e.detail for e in upgraded.audit.entries("fraud")] == [{"to": "v2"}]
        upgraded.registry.upsert_model(ModelInfo(name="fraud"))
        assert upgraded.checklist.items("fraud") == []


def test_store_from_a_newer_modeldeck_is_refused(store_path: Path):
    Store.open(store_path).close()
    conn = sqlite3.connect(store_path)
    conn.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 5,))
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="newer modeldeck"):
        Store.open(store_path)


@pytest.mark.parametrize("content", [b"this is a CSV file, not a database\n" * 50, b"SQLite format 3\x00" + b"\xff" * 4000])
def test_a_file_that_is_not_sqlite_gives_one_line_naming_it(tmp_path: Path, content: bytes):
    path = tmp_path / "notes.db"
    path.write_bytes(content)
    with pytest.raises(StoreError) as raised:
        Store.open(path)
    message = str(raised.value)
    assert str(path) in message and "\n" not in message


def test_a_foreign_sqlite_database_is_refused(tmp_path: Path):
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE invoices (id INTEGER)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="not a modeldeck store"):
        Store.open(path)


def test_audit_is_append_only(store: Store):
    entry_id = store.audit.append("sign-off", "fraud", detail={"area": "model_card"})
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        store.conn.execute("UPDATE audit SET actor = 'someone else' WHERE id = ?", (entry_id,))
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        store.conn.execute("DELETE FROM audit")
    assert [e.id for e in store.audit.entries()] == [entry_id]


def test_second_lock_holder_is_told_who_holds_it(store_path: Path):
    with Store.open(store_path) as first, Store.open(store_path) as second:
        lock = first.locks.acquire("rollback:fraud", holder="alice@bastion")
        with pytest.raises(LockHeld) as raised:
            second.locks.acquire("rollback:fraud", holder="bob@bastion")
        assert raised.value.holder.holder == "alice@bastion"
        first.locks.release(lock)
        assert second.locks.acquire("rollback:fraud", holder="bob@bastion").holder == "bob@bastion"


def _rows(model: str, latencies: list[float], *, start: int, errors_every: int):
    from app.store.predictions import PredictionRow

    return [PredictionRow(start + i, model, "v1", f"{model}-{i}", None, 0.5, None, None, latency,
                          "error" if i % errors_every == 0 else "ok", None, None, None, "")
            for i, latency in enumerate(latencies)]


def test_window_stats_count_exactly_and_estimate_a_busy_models_p95_from_a_bounded_sample(store: Store):
    import random

    from app.store.predictions import LATENCY_SAMPLE, percentile

    rng = random.Random(7)
    busy = [rng.lognormvariate(3.5, 0.6) for _ in range(3 * LATENCY_SAMPLE)]
    quiet = [float(i) for i in range(1, 101)]
    store.predictions.append(_rows("busy", busy, start=1_000_000, errors_every=50))
    store.predictions.append(_rows("quiet", quiet, start=1_000_000, errors_every=10))

    stats = store.predictions.window_stats("busy", 1_000_000, 1_000_000 + len(busy))
    assert (stats.requests, stats.errors) == (len(busy), len(busy) // 50)
    exact = percentile(busy, 95)
    assert abs(stats.p95_latency_ms - exact) / exact < 0.03  # a sample of ~20,000 values

    small = store.predictions.window_stats("quiet", 1_000_000, 1_000_000 + 100)
    assert (small.requests, small.errors, small.p95_latency_ms) == (100, 10, percentile(quiet, 95))  # exact
    assert store.predictions.window_stats("quiet", 0, 1).requests == 0
