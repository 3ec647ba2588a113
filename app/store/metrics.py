"""Metric samples read from live endpoints (request rate, error rate, latency quantiles)."""

from __future__ import annotations

from typing import Sequence

from sqlite_utils import Database

from app.store.connection import write_transaction


class MetricSamples:
    def __init__(self, db: Database) -> None:
        self._db = db

    def add_many(self, samples: Sequence[tuple[str, int, str, float]]) -> None:
        """(model, ts, name, value) tuples."""
        with write_transaction(self._db.conn):
            self._db.conn.executemany("INSERT INTO metric_samples (model, ts, name, value) VALUES (?, ?, ?, ?)",
                                      samples)

    def latest(self, model: str) -> dict[str, tuple[int, float]]:
        """name -> (ts, value) of the newest sample of each metric."""
        rows = self._db.execute(
            "SELECT name, max(ts), value FROM metric_samples WHERE model = ? GROUP BY name", (model,)
        ).fetchall()
        return {r[0]: (r[1], r[2]) for r in rows}
