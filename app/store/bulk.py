"""Fast appends to the prediction log: what ``ingest`` and the demo generator write through.

Per batch, inside one write transaction: look up which (model, request_id) pairs exist,
insert only new rows with ids assigned here (so the FTS rows get the same ids without a
read-back), and fill labels that arrived late for known requests. Around a big load into a
small table the secondary indexes are dropped and rebuilt after, about 3x faster than
maintaining them row by row.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Iterable, Sequence

from app.store.predictions import PredictionRow
from app.store.schema import PREDICTION_INDEXES

_INSERT = ("INSERT INTO predictions (id, ts, model, version, request_id, entity_id, prediction, score, label, "
           "latency_ms, status, error, features, context) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
_INSERT_FTS = "INSERT INTO predictions_fts (rowid, request_id, entity_id, text, error) VALUES (?, ?, ?, ?, ?)"
_FILL_LABEL = "UPDATE predictions SET label = ? WHERE model = ? AND request_id = ? AND label IS NULL"
# Keep IN (...) lists under SQLite's default host-parameter limit.
_LOOKUP_CHUNK = 900


@dataclass
class BatchResult:
    accepted: int = 0
    duplicates: int = 0
    labelled: int = 0

    def add(self, other: "BatchResult") -> None:
        self.accepted += other.accepted
        self.duplicates += other.duplicates
        self.labelled += other.labelled


class BulkWriter:
    """Use as a context manager: ``with BulkWriter(conn, drop_indexes=True) as w: w.write(rows)``."""

    def __init__(self, conn: sqlite3.Connection, *, drop_indexes: bool = False) -> None:
        self._conn = conn
        self._drop_indexes = drop_indexes
        self.total = BatchResult()

    def __enter__(self) -> "BulkWriter":
        if self._drop_indexes:
            with self._conn:
                for name in PREDICTION_INDEXES:
                    self._conn.execute(f"DROP INDEX IF EXISTS {name}")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._drop_indexes:
            self.rebuild_indexes()

    def rebuild_indexes(self) -> None:
        with self._conn:
            for statement in PREDICTION_INDEXES.values():
                self._conn.execute(statement)
            self._conn.execute("ANALYZE predictions")

    def write(self, rows: Sequence[PredictionRow]) -> BatchResult:
        """Append one batch atomically; returns what happened to it."""
        conn = self._conn
        result = BatchResult()
        conn.execute("BEGIN IMMEDIATE")
        try:
            existing = self._existing_keys(rows)
            next_id = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM predictions").fetchone()[0]
            fresh: list[tuple] = []
            fts: list[tuple] = []
            late_labels: list[tuple] = []
            for row in rows:
                key = (row.model, row.request_id)
                if key in existing:
                    result.duplicates += 1
                    if row.label is not None:
                        late_labels.append((row.label, row.model, row.request_id))
                    continue
                existing.add(key)
                fresh.append((next_id, *row[:13]))
                fts.append((next_id, row.request_id, row.entity_id, row.fts_text, row.error))
                next_id += 1
            conn.executemany(_INSERT, fresh)
            conn.executemany(_INSERT_FTS, fts)
            if late_labels:
                before = conn.total_changes
                conn.executemany(_FILL_LABEL, late_labels)
                result.labelled = conn.total_changes - before
            result.accepted = len(fresh)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        self.total.add(result)
        return result

    def _existing_keys(self, rows: Sequence[PredictionRow]) -> set[tuple[str, str]]:
        by_model: dict[str, list[str]] = {}
        for row in rows:
            by_model.setdefault(row.model, []).append(row.request_id)
        found: set[tuple[str, str]] = set()
        for model, request_ids in by_model.items():
            for start in range(0, len(request_ids), _LOOKUP_CHUNK):
                chunk = request_ids[start:start + _LOOKUP_CHUNK]
                cursor = self._conn.execute(
                    f"SELECT request_id FROM predictions WHERE model = ? AND request_id IN ({','.join('?' * len(chunk))})",
                    (model, *chunk),
                )
                found.update((model, r[0]) for r in cursor)
        return found


def write_all(conn: sqlite3.Connection, batches: Iterable[Sequence[PredictionRow]], *,
              drop_indexes: bool = False) -> BatchResult:
    with BulkWriter(conn, drop_indexes=drop_indexes) as writer:
        for batch in batches:
            writer.write(batch)
    return writer.total
