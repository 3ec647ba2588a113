"""Metric samples read from live endpoints (request rate, error rate, latency quantiles).

Portable (app/store/dialect.py): the same SQL on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Sequence

from app.store.dialect import Db


class MetricSamples:
    def __init__(self, db: Db) -> None:
        self._db = db

    def add_many(self, samples: Sequence[tuple[str, int, str, float]]) -> None:
        """(model, ts, name, value) tuples."""
        with self._db.write():
            self._db.executemany("INSERT INTO metric_samples (model, ts, name, value) VALUES (?, ?, ?, ?)", samples)

    def latest(self, model: str) -> dict[str, tuple[int, float]]:
        """name -> (ts, value) of the newest sample of each metric (one probe of (model, name, ts) each)."""
        rows = self._db.execute(
            "SELECT m.name, m.ts, m.value FROM metric_samples m WHERE m.model = ? AND m.ts = "
            "(SELECT max(n.ts) FROM metric_samples n WHERE n.model = m.model AND n.name = m.name)", (model,)
        ).fetchall()
        return {r[0]: (r[1], r[2]) for r in rows}
