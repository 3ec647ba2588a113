"""The prediction log: appending records and the aggregate reads the screens need.

Rows cross this boundary as ``PredictionRow`` tuples in ``COLUMNS`` order (already
validated and serialised by ``app.ingest``): tuples are what ``executemany`` eats fastest.
"""

from __future__ import annotations

import sqlite3
from typing import Any, NamedTuple, Sequence

import orjson
from app.store.connection import Database
from app.store.json_keys import KeyCodes, json_value, names_sql

from app.store.log_aggregates import (LATENCY_SAMPLE, LogAggregates, TrafficBucket, WindowStats,  # noqa: F401
                                      percentile)
from app.timeutil import ms_to_iso

COLUMNS = ("ts", "model", "version", "request_id", "entity_id", "prediction", "score", "label",
           "latency_ms", "status", "error", "features", "context")
# COLUMNS as a SELECT list that reads a row as it was logged: features and context with their keys' names.
SELECT_COLUMNS = ", ".join(names_sql(c) if c in ("features", "context") else c for c in COLUMNS)


class PredictionRow(NamedTuple):
    ts: int
    model: str
    version: str
    request_id: str
    entity_id: str | None
    prediction: Any  # number or text as-is, objects as JSON text
    score: float | None
    label: Any
    latency_ms: float | None
    status: str
    error: str | None
    features: str | None  # JSON text
    context: str | None  # JSON text
    fts_text: str  # the text values of features and context, for the FTS index only


def record_from_row(row: dict[str, Any]) -> dict[str, Any]:
    """A stored row as a record in the ingest format (ISO timestamp, JSON objects decoded)."""
    record = {key: row.get(key) for key in COLUMNS}
    record["ts"] = ms_to_iso(row["ts"])
    for key in ("features", "context"):
        if record[key] is not None:
            record[key] = json_value(record[key])  # JSON text, or a search page's coded JSON read with names
    prediction = record["prediction"]
    if isinstance(prediction, str) and prediction[:1] in ("{", "["):
        try:
            record["prediction"] = orjson.loads(prediction)
        except orjson.JSONDecodeError:
            pass
    return {key: value for key, value in record.items() if value is not None}


class PredictionsTable(LogAggregates):
    """Appending (SQLite's own) and the aggregate reads the screens need (``LogAggregates``: written once,
    PostgreSQL's table has the same)."""

    def __init__(self, db: Database) -> None:
        from app.store.dialect import SqliteDb

        super().__init__(SqliteDb(db.conn))
        self._db = db

    def append(self, rows: Sequence[PredictionRow]) -> tuple[int, int]:
        """Insert rows in one transaction; returns (accepted, duplicates).

        A duplicate (same model, version and request_id) is not inserted again, but a label that
        arrives later for a known request fills the empty label in place.
        """
        from app.store.logged import record_logged
        from app.store.zonemap import record_zone_ids

        conn = self._db.conn
        inserted: list[PredictionRow] = []
        inserted_ids: list[int] = []
        with conn:
            codes = KeyCodes(conn)
            for row in rows:
                cursor = conn.execute(
                    "INSERT INTO predictions (ts, model, version, request_id, entity_id, prediction, score, label, "
                    "latency_ms, status, error, features, context) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (model, version, request_id) DO NOTHING",
                    (*row[:11], codes.encode(row[11]), codes.encode(row[12])),
                )
                if cursor.rowcount == 1:
                    inserted.append(row)
                    inserted_ids.append(cursor.lastrowid)
                    conn.execute(
                        "INSERT INTO predictions_fts (rowid, text, error) VALUES (?, ?, ?)",
                        (cursor.lastrowid, row.fts_text, row.error),
                    )
                elif row.label is not None:
                    conn.execute(
                        "UPDATE predictions SET label = ? WHERE model = ? AND version = ? AND request_id = ? "
                        "AND label IS NULL",
                        (row.label, row.model, row.version, row.request_id),
                    )
            record_logged(conn, inserted)
            record_zone_ids(conn, inserted_ids)
        return len(inserted), len(rows) - len(inserted)

    def get(self, row_id: int) -> dict[str, Any] | None:
        cursor = self._db.execute(f"SELECT id, {SELECT_COLUMNS} FROM predictions WHERE id = ?", (row_id,))
        row = cursor.fetchone()
        if row is None:
            return None
        return dict(zip(("id", *COLUMNS), row))

    def latest_id(self) -> int:
        """The highest row id: a cheap 'has anything changed' probe (no count of a big table)."""
        return int(self._db.execute("SELECT coalesce(max(id), 0) FROM predictions").fetchone()[0])

    def latest_ts(self, model: str) -> int | None:
        row = self._db.execute("SELECT max(ts) FROM predictions WHERE model = ?", (model,)).fetchone()
        return row[0]

    def logged_models(self, limit: int = 1000) -> list[str]:
        """Models that have logs, by a skip-scan of the (model, ts) index: one seek per model."""
        return [r[0] for r in self._db.execute(
            "WITH RECURSIVE m(name) AS (SELECT min(model) FROM predictions UNION ALL "
            "SELECT (SELECT min(model) FROM predictions WHERE model > m.name) FROM m WHERE m.name IS NOT NULL) "
            "SELECT name FROM m WHERE name IS NOT NULL LIMIT ?", (limit,))]

    def logged_versions(self, model: str, limit: int = 1000) -> list[str]:
        """The versions of ``model`` that have logs, by a skip-scan of the (model, version, ts) index."""
        return [r[0] for r in self._db.execute(
            "WITH RECURSIVE v(name) AS (SELECT min(version) FROM predictions WHERE model = :m UNION ALL "
            "SELECT (SELECT min(version) FROM predictions WHERE model = :m AND version > v.name) FROM v "
            "WHERE v.name IS NOT NULL) SELECT name FROM v WHERE name IS NOT NULL LIMIT :n",
            {"m": model, "n": limit})]

    def logged_names(self) -> tuple[list[str], dict[str, list[str]]]:
        """Every logged model and each one's logged versions (what ``model:``/``version:`` resolve against);
        SQLite errors leave as the store's own types."""
        from app.store.connection import store_error

        try:
            models = self.logged_models()
            return models, {model: self.logged_versions(model) for model in models}
        except sqlite3.Error as exc:
            raise store_error(exc) from exc
