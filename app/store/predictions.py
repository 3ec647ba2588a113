"""The prediction log: appending records and the aggregate reads the screens need.

Rows cross this boundary as ``PredictionRow`` tuples in ``COLUMNS`` order (already
validated and serialised by ``app.ingest``): tuples are what ``executemany`` eats fastest.
"""

from __future__ import annotations

import math
import sqlite3
from dataclasses import dataclass
from typing import Any, NamedTuple, Sequence

import orjson
from app.store.connection import Database

from app.timeutil import ms_to_iso

COLUMNS = ("ts", "model", "version", "request_id", "entity_id", "prediction", "score", "label",
           "latency_ms", "status", "error", "features", "context")


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


# Latencies read for one window's p95: beyond this many requests the p95 is estimated from a sample.
LATENCY_SAMPLE = 20_000


@dataclass(frozen=True)
class WindowStats:
    """Traffic of one model over a time window, from the prediction log."""

    requests: int
    errors: int
    p95_latency_ms: float | None
    minutes: float

    @property
    def requests_per_minute(self) -> float:
        return self.requests / self.minutes if self.minutes else 0.0

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.requests if self.requests else None


@dataclass(frozen=True)
class TrafficBucket:
    start: int
    requests: int
    errors: int
    mean_latency_ms: float | None


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile (numpy's default), without importing numpy on the UI path."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def record_from_row(row: dict[str, Any]) -> dict[str, Any]:
    """A stored row as a record in the ingest format (ISO timestamp, JSON objects decoded)."""
    record = {key: row.get(key) for key in COLUMNS}
    record["ts"] = ms_to_iso(row["ts"])
    for key in ("features", "context"):
        if record[key] is not None:
            record[key] = orjson.loads(record[key])
    prediction = record["prediction"]
    if isinstance(prediction, str) and prediction[:1] in ("{", "["):
        try:
            record["prediction"] = orjson.loads(prediction)
        except orjson.JSONDecodeError:
            pass
    return {key: value for key, value in record.items() if value is not None}


class PredictionsTable:
    def __init__(self, db: Database) -> None:
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
            for row in rows:
                cursor = conn.execute(
                    "INSERT INTO predictions (ts, model, version, request_id, entity_id, prediction, score, label, "
                    "latency_ms, status, error, features, context) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (model, version, request_id) DO NOTHING",
                    row[:13],
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
        cursor = self._db.execute(f"SELECT id, {', '.join(COLUMNS)} FROM predictions WHERE id = ?", (row_id,))
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

    def window_stats(self, model: str, since: int, until: int) -> WindowStats:
        """Counts are exact. The p95 is exact up to LATENCY_SAMPLE requests; above that it comes from
        every k-th row by id (ids interleave with time, not with latency), so a busy model's refresh
        reads a bounded number of values into Python, whatever its traffic."""
        requests, errors = self._db.execute(
            "SELECT count(*), coalesce(sum(status = 'error'), 0) FROM predictions "
            "WHERE model = ? AND ts >= ? AND ts < ?", (model, since, until)).fetchone()
        step = max(1, requests // LATENCY_SAMPLE)
        latencies = [r[0] for r in self._db.execute(
            "SELECT latency_ms FROM predictions WHERE model = ? AND ts >= ? AND ts < ? "
            "AND latency_ms IS NOT NULL AND (? = 1 OR id % ? = 0)", (model, since, until, step, step))]
        return WindowStats(
            requests=requests,
            errors=errors,
            p95_latency_ms=percentile(latencies, 95),
            minutes=(until - since) / 60_000,
        )

    def version_stats(self, model: str, since: int, until: int) -> dict[str, WindowStats]:
        """``window_stats`` per version of ``model`` that answered in [since, until) (metrics exposition)."""
        out: dict[str, WindowStats] = {}
        for version, requests, errors in self._db.execute(
                "SELECT version, count(*), coalesce(sum(status = 'error'), 0) FROM predictions "
                "WHERE model = ? AND ts >= ? AND ts < ? GROUP BY version", (model, since, until)).fetchall():
            step = max(1, requests // LATENCY_SAMPLE)
            latencies = [r[0] for r in self._db.execute(
                "SELECT latency_ms FROM predictions WHERE model = ? AND version = ? AND ts >= ? AND ts < ? "
                "AND latency_ms IS NOT NULL AND (? = 1 OR id % ? = 0)", (model, version, since, until, step, step))]
            out[str(version)] = WindowStats(requests=requests, errors=errors, p95_latency_ms=percentile(latencies, 95),
                                            minutes=(until - since) / 60_000)
        return out

    def label_stats(self, model: str, since: int, until: int) -> tuple[int, int, float | None]:
        """(labelled answers, answers equal to their label, mean absolute error of numeric ones) among the
        ok answers logged in [since, until): labels arrive late, so the count says how far they got."""
        row = self._db.execute(
            "SELECT count(*), coalesce(sum(prediction = label), 0), "
            "avg(CASE WHEN typeof(prediction) IN ('integer', 'real') AND typeof(label) IN ('integer', 'real') "
            "THEN abs(prediction - label) END) FROM predictions "
            "WHERE model = ? AND ts >= ? AND ts < ? AND label IS NOT NULL AND status = 'ok'",
            (model, since, until)).fetchone()
        return int(row[0]), int(row[1]), None if row[2] is None else float(row[2])

    def latest_version(self, model: str) -> str | None:
        """The version of the model's newest logged prediction (what an alert's ``version`` label says)."""
        row = self._db.execute("SELECT version FROM predictions WHERE model = ? ORDER BY ts DESC LIMIT 1",
                               (model,)).fetchone()
        return None if row is None else str(row[0])

    def traffic(self, model: str, since: int, until: int, bucket_ms: int) -> list[TrafficBucket]:
        """Requests, errors and mean latency per bucket (empty buckets included, for sparklines)."""
        rows = self._db.execute(
            "SELECT (ts - ?) / ?, count(*), sum(status = 'error'), avg(latency_ms) FROM predictions "
            "WHERE model = ? AND ts >= ? AND ts < ? GROUP BY 1",
            (since, bucket_ms, model, since, until),
        ).fetchall()
        by_index = {r[0]: r for r in rows}
        buckets = []
        for index in range(max(0, math.ceil((until - since) / bucket_ms))):
            r = by_index.get(index)
            buckets.append(TrafficBucket(start=since + index * bucket_ms, requests=r[1] if r else 0,
                                         errors=r[2] if r else 0, mean_latency_ms=r[3] if r else None))
        return buckets

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

    def recent_keys(self, column: str, rows: int = 300) -> list[str]:
        """The JSON keys of ``column`` ("features" or "context") in the newest ``rows`` records, sorted:
        what the logs hold now, cheaply (for completion)."""
        if column not in ("features", "context"):
            raise ValueError(f"not a JSON column: {column}")
        return [r[0] for r in self._db.execute(
            f"SELECT DISTINCT j.key FROM (SELECT {column} AS doc FROM predictions ORDER BY id DESC "
            "LIMIT ?) AS p, json_each(p.doc) AS j WHERE json_valid(p.doc) ORDER BY j.key", (rows,))]
