"""The prediction log's aggregate reads the fleet, the model screen, the alert rules and ``watch`` need
(traffic per window and per version, late labels, sparkline buckets, the JSON keys in use).

Portable (app/store/dialect.py): written once, run by the SQLite and the PostgreSQL prediction tables
(both subclass ``LogAggregates``); only the typed comparison of JSON values and the JSON keys go through
the dialect.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from app.store.dialect import Db

# Latencies read for one window's p95: beyond this many requests the p95 is estimated from a sample.
LATENCY_SAMPLE = 20_000

_ERRORS = "coalesce(sum(CASE WHEN status = 'error' THEN 1 ELSE 0 END), 0)"


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


class LogAggregates:
    def __init__(self, db: Db) -> None:
        self._reads = db

    def _latencies(self, where: str, params: tuple, requests: int) -> list[float]:
        # Every k-th row by id above LATENCY_SAMPLE requests (ids interleave with time, not with latency).
        step = max(1, requests // LATENCY_SAMPLE)
        return [float(r[0]) for r in self._reads.execute(
            f"SELECT latency_ms FROM predictions WHERE {where} AND latency_ms IS NOT NULL "
            "AND (? = 1 OR id % ? = 0)", (*params, step, step)).fetchall()]

    def window_stats(self, model: str, since: int, until: int) -> WindowStats:
        """Counts are exact. The p95 is exact up to LATENCY_SAMPLE requests; above that it comes from
        every k-th row by id, so a busy model's refresh reads a bounded number of values into Python,
        whatever its traffic."""
        requests, errors = self._reads.execute(
            f"SELECT count(*), {_ERRORS} FROM predictions WHERE model = ? AND ts >= ? AND ts < ?",
            (model, since, until)).fetchone()
        latencies = self._latencies("model = ? AND ts >= ? AND ts < ?", (model, since, until), int(requests))
        return WindowStats(requests=int(requests), errors=int(errors), p95_latency_ms=percentile(latencies, 95),
                           minutes=(until - since) / 60_000)

    def version_stats(self, model: str, since: int, until: int) -> dict[str, WindowStats]:
        """``window_stats`` per version of ``model`` that answered in [since, until) (metrics exposition)."""
        out: dict[str, WindowStats] = {}
        for version, requests, errors in self._reads.execute(
                f"SELECT version, count(*), {_ERRORS} FROM predictions WHERE model = ? AND ts >= ? AND ts < ? "
                "GROUP BY version", (model, since, until)).fetchall():
            latencies = self._latencies("model = ? AND version = ? AND ts >= ? AND ts < ?",
                                        (model, version, since, until), int(requests))
            out[str(version)] = WindowStats(requests=int(requests), errors=int(errors),
                                            p95_latency_ms=percentile(latencies, 95), minutes=(until - since) / 60_000)
        return out

    def label_stats(self, model: str, since: int, until: int) -> tuple[int, int, float | None]:
        """(labelled answers, answers equal to their label, mean absolute error of numeric ones) among the
        ok answers logged in [since, until): labels arrive late, so the count says how far they got."""
        row = self._reads.execute(
            "SELECT count(*), coalesce(sum(CASE WHEN prediction = label THEN 1 ELSE 0 END), 0), "
            f"avg({self._reads.dialect.numeric_gap('prediction', 'label')}) FROM predictions "
            "WHERE model = ? AND ts >= ? AND ts < ? AND label IS NOT NULL AND status = 'ok'",
            (model, since, until)).fetchone()
        return int(row[0]), int(row[1]), None if row[2] is None else float(row[2])

    def latest_version(self, model: str) -> str | None:
        """The version of the model's newest logged prediction (what an alert's ``version`` label says)."""
        row = self._reads.execute("SELECT version FROM predictions WHERE model = ? ORDER BY ts DESC LIMIT 1",
                                  (model,)).fetchone()
        return None if row is None else str(row[0])

    def traffic(self, model: str, since: int, until: int, bucket_ms: int) -> list[TrafficBucket]:
        """Requests, errors and mean latency per bucket (empty buckets included, for sparklines)."""
        rows = self._reads.execute(
            f"SELECT (ts - ?) / ?, count(*), {_ERRORS}, avg(latency_ms) FROM predictions "
            "WHERE model = ? AND ts >= ? AND ts < ? GROUP BY 1",
            (since, bucket_ms, model, since, until),
        ).fetchall()
        by_index = {int(r[0]): r for r in rows}
        buckets = []
        for index in range(max(0, math.ceil((until - since) / bucket_ms))):
            r = by_index.get(index)
            buckets.append(TrafficBucket(start=since + index * bucket_ms, requests=int(r[1]) if r else 0,
                                         errors=int(r[2]) if r else 0,
                                         mean_latency_ms=None if not r or r[3] is None else float(r[3])))
        return buckets

    def recent_keys(self, column: str, rows: int = 300) -> list[str]:
        """The JSON keys of ``column`` ("features" or "context") in the newest ``rows`` records, sorted:
        what the logs hold now, cheaply (for completion)."""
        if column not in ("features", "context"):
            raise ValueError(f"not a JSON column: {column}")
        return [r[0] for r in self._reads.execute(self._reads.dialect.recent_keys(column), (rows,)).fetchall()]
