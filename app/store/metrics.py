"""Metric samples read from live endpoints (request rate, error rate, latency quantiles).

Portable (app/store/dialect.py): the same SQL on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Sequence

from app.store.dialect import Db

# The endpoint's health as a metric sample (written by the poller on a change of state and at least once
# a HEALTH_EVERY_MS while it holds), so time travel can show it as it stood: one row of ~40 bytes a minute
# per model, about 60 KB per model-day (the six metric samples of each 5 s poll are ~100k rows a day).
HEALTH_SAMPLE = "health"
HEALTH_CODES = {"up": 1.0, "degraded": 0.5, "down": 0.0}
HEALTH_EVERY_MS = 60_000


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

    def health_at(self, model: str, at: int) -> tuple[int, float, int | None] | None:
        """(ts, state code, last up ts) of ``model``'s newest recorded health check at or before ``at``
        (HEALTH_SAMPLE rows, app/endpoints/poller.py), or None when none was recorded by then."""
        row = self._db.execute(
            "SELECT ts, value FROM metric_samples WHERE model = ? AND name = ? AND ts <= ? ORDER BY ts DESC LIMIT 1",
            (model, HEALTH_SAMPLE, at)).fetchone()
        if row is None:
            return None
        up = self._db.execute(
            "SELECT max(ts) FROM metric_samples WHERE model = ? AND name = ? AND ts <= ? AND value = ?",
            (model, HEALTH_SAMPLE, at, HEALTH_CODES["up"])).fetchone()
        return int(row[0]), float(row[1]), (int(up[0]) if up and up[0] is not None else None)
