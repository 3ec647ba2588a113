"""The prediction log read for what it says about serving: when a version last answered, how well the
last hour was logged, a version's recent feature rows and its logged traffic (for rollback, the
readiness checklist and baselines). Appending and the screens' aggregates live in predictions.py.
Portable (app/store/dialect.py): the same SQL on SQLite and PostgreSQL; features read back as JSON text."""

from __future__ import annotations

from typing import Any, Iterator

from app.store.dialect import Db


class ServingLog:
    def __init__(self, db: Db) -> None:
        self._db = db

    def newest_ts(self, model: str, version: str) -> int | None:
        """The time of the version's newest row (None: it never logged one)."""
        # Newest first on the (model, ts) index: stops at the first row of the version.
        row = self._db.execute(
            "SELECT ts FROM predictions WHERE model = ? AND version = ? ORDER BY ts DESC LIMIT 1",
            (model, version)).fetchone()
        return row[0] if row else None

    def newest_ts_until(self, model: str, until: int) -> int | None:
        """The time of the model's newest row at or before ``until``."""
        return self._db.execute("SELECT max(ts) FROM predictions WHERE model = ? AND ts <= ?",
                                (model, until)).fetchone()[0]

    def logging_counts(self, model: str, since: int, until: int) -> tuple[int, int, int, int]:
        """Rows in [since, until] and, of them, those with features, with an entity id, with a request id."""
        # One range read on the (model, ts) index.
        count, with_features, with_entity, with_request = self._db.execute(
            "SELECT count(*), "
            f"coalesce(sum(CASE WHEN {self._db.dialect.json_present('features')} THEN 1 ELSE 0 END), 0), "
            "coalesce(sum(CASE WHEN entity_id IS NOT NULL AND entity_id != '' THEN 1 ELSE 0 END), 0), "
            "coalesce(sum(CASE WHEN request_id != '' THEN 1 ELSE 0 END), 0) "
            "FROM predictions WHERE model = ? AND ts >= ? AND ts <= ?",
            (model, since, until),
        ).fetchone()
        return int(count), int(with_features), int(with_entity), int(with_request)

    def peak_hour(self, model: str, version: str, since: int, until: int) -> tuple[int, int, float | None] | None:
        """The busiest clock hour of ``version`` in [since, until): (hour start, requests, p95 latency ms
        of that hour), or None without traffic. One range read on (model, version, ts), then that hour."""
        from app.store.predictions import LATENCY_SAMPLE, percentile

        row = self._busiest_hour_from_zones(model, version, since, until)
        if row is None:
            row = self._db.execute(
                "SELECT ts / 3600000, count(*) FROM predictions WHERE model = ? AND version = ? AND ts >= ? "
                "AND ts < ? GROUP BY 1 ORDER BY 2 DESC, 1 DESC LIMIT 1", (model, version, since, until)).fetchone()
        if row is None or not row[1]:
            return None
        start = int(row[0]) * 3_600_000
        step = max(1, int(row[1]) // LATENCY_SAMPLE)  # a bounded sample, as window_stats reads it
        latencies = [r[0] for r in self._db.execute(
            "SELECT latency_ms FROM predictions WHERE model = ? AND version = ? AND ts >= ? AND ts < ? "
            "AND latency_ms IS NOT NULL AND (? = 1 OR id % ? = 0)",
            (model, version, start, start + 3_600_000, step, step)).fetchall()]
        return start, int(row[1]), percentile(latencies, 95)

    def _busiest_hour_from_zones(self, model: str, version: str, since: int,
                                 until: int) -> tuple[int, int] | None:
        """(hour, requests) of the version's busiest clock hour in [since, until), found through the zone
        map instead of grouping a week of rows on every fleet refresh (1.3 s a read at 10M rows): hours
        are tried busiest first by the model's row count, an upper bound of the version's, and counted
        exactly on the (model, version, ts) index until no untried hour can beat the best. Same answer as
        the GROUP BY (ties go to the later hour); None when the zone map cannot be trusted (SQLite only:
        it must summarise every row) and the caller groups the rows."""
        from app.store.zonemap import hour_range, trusted

        if self._db.dialect.kind != "sqlite" or not trusted(self._db):  # type: ignore[arg-type]
            return None
        blocks = self._db.execute(
            "SELECT hour, rows FROM zone_blocks WHERE model = ? AND hour >= ? AND hour <= ? "
            "ORDER BY rows DESC, hour DESC", (model, since // 3_600_000, (until - 1) // 3_600_000)).fetchall()
        best: tuple[int, int] = (0, 0)  # (requests, hour)
        for hour, bound in blocks:
            if (bound, hour) <= best:
                break  # bounds only fall from here: no later hour can win
            start, end = hour_range(hour)
            count = self._db.execute(
                "SELECT count(*) FROM predictions WHERE model = ? AND version = ? AND ts >= ? AND ts < ?",
                (model, version, max(start, since), min(end, until))).fetchone()[0]
            best = max(best, (int(count), hour))
        return (best[1], best[0]) if best[0] else (0, 0)

    def oldest_ts(self, model: str) -> int | None:
        """The oldest kept prediction of ``model`` (one probe of the (model, ts) index)."""
        return self._db.execute("SELECT min(ts) FROM predictions WHERE model = ?", (model,)).fetchone()[0]

    def recent_features(self, model: str, version: str, *, scan: int, sample: int) -> list[str | None]:
        """The features text of up to ``sample`` rows of ``version`` among the model's ``scan`` newest."""
        rows = self._db.execute(
            f"SELECT features FROM (SELECT version, {self._db.dialect.record_json('features')} AS features "
            "FROM predictions WHERE model = ? ORDER BY ts DESC LIMIT ?) AS recent WHERE version = ? LIMIT ?",
            (model, scan, version, sample),
        ).fetchall()
        return [r[0] for r in rows]

    def version_rows(self, model: str, version: str, since: int, until: int) -> Iterator[tuple[str | None, Any, Any]]:
        """(features text, score, prediction) of every row of ``version`` in [since, until), streamed."""
        column, names = self._db.record_column("features")
        cursor = self._db.execute(
            f"SELECT {column}, score, prediction FROM predictions WHERE model = ? AND version = ? AND ts >= ? AND ts < ?",
            (model, version, since, until),
        )
        while rows := cursor.fetchmany(4096):
            if names is None:
                yield from rows
            else:
                yield from ((names(f), score, prediction) for f, score, prediction in rows)
