"""The prediction log read for what it says about serving: when a version last answered, how well the
last hour was logged, a version's recent feature rows and its logged traffic (for rollback, the
readiness checklist and baselines). Appending and the screens' aggregates live in predictions.py.
Portable (app/store/dialect.py): the same SQL on SQLite and PostgreSQL; features read back as JSON text."""

from __future__ import annotations

from typing import Any, Callable, Hashable, Iterator

from app.store.dialect import Db


HOUR_MS = 3_600_000


class ServingLog:
    def __init__(self, db: Db, *, memo_key: Hashable | None = None,
                 in_transaction: Callable[[], bool] = lambda: False) -> None:
        """``memo_key`` names the store (its file, its address) for the process's memo of log reads
        (app/store/log_memo.py); without one nothing is remembered. ``in_transaction``: this connection is
        inside a write transaction, when nothing read may be remembered."""
        from app.store.log_memo import Remembered, memo_for

        self._db = db
        self._in_transaction = in_transaction
        self.memo = Remembered(memo_for(memo_key) if memo_key is not None else None, self._mark)

    def _mark(self) -> tuple[int | None, int | None] | None:
        """The log's mark (highest id, oldest ts): two index probes; any new row or retention moves it."""
        if self._in_transaction():
            return None
        newest, oldest = self._db.execute(
            "SELECT (SELECT max(id) FROM predictions), (SELECT min(ts) FROM predictions)").fetchone()
        return newest, oldest

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
        # The fleet asks for the last hour every few seconds. While the log's mark stands the rows are the
        # same, so the last answer is moved along: minus the rows that left the window, plus those that
        # entered it (two short range reads); a window that does not overlap the last one is read whole.
        mark = self.memo.mark()
        key = ("logging_counts", model)
        found, prior = self.memo.recall(mark, key)
        if found and prior[0] <= since <= prior[1] + 1 and until >= prior[1]:
            old_since, old_until, counts = prior
            left = self._logging_sums(model, old_since, since - 1) if since > old_since else (0, 0, 0, 0)
            entered = self._logging_sums(model, old_until + 1, until) if until > old_until else (0, 0, 0, 0)
            counts = tuple(c - g + n for c, g, n in zip(counts, left, entered))
        else:
            counts = self._logging_sums(model, since, until)
        self.memo.remember(mark, key, (since, until, counts))
        return counts  # type: ignore[return-value]

    def _logging_sums(self, model: str, since: int, until: int) -> tuple[int, int, int, int]:
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
        of that hour), or None without traffic. One range read on (model, version, ts), then that hour.

        While the log's mark stands (app/store/log_memo.py), each whole hour's count and the peak's p95 are
        remembered: a week that slides with the clock re-counts only its two clipped edge hours."""
        mark = self.memo.mark()
        row = self._busiest_hour_from_zones(model, version, since, until, mark)
        if row is None:
            row = self._busiest_hour_grouped(model, version, since, until, mark)
        if row is None or not row[1]:
            return None
        start, requests = int(row[0]) * HOUR_MS, int(row[1])
        p95 = self.memo.read(("peak_p95", model, version, start, requests),
                             lambda: self._hour_p95(model, version, start, requests), mark)
        return start, requests, p95

    def _hour_p95(self, model: str, version: str, start: int, requests: int) -> float | None:
        from app.store.predictions import LATENCY_SAMPLE, percentile

        step = max(1, requests // LATENCY_SAMPLE)  # a bounded sample, as window_stats reads it
        latencies = [r[0] for r in self._db.execute(
            "SELECT latency_ms FROM predictions WHERE model = ? AND version = ? AND ts >= ? AND ts < ? "
            "AND latency_ms IS NOT NULL AND (? = 1 OR id % ? = 0)",
            (model, version, start, start + HOUR_MS, step, step)).fetchall()]
        return percentile(latencies, 95)

    def _count(self, model: str, version: str, since: int, until: int) -> int:
        return int(self._db.execute(
            "SELECT count(*) FROM predictions WHERE model = ? AND version = ? AND ts >= ? AND ts < ?",
            (model, version, since, until)).fetchone()[0])

    def _busiest_hour_grouped(self, model: str, version: str, since: int, until: int,
                              mark: Any) -> tuple[int, int] | None:
        """(hour, requests) of the busiest hour by grouping rows (no trusted zone map; PostgreSQL): the whole
        hours in one GROUP BY, remembered while the mark stands (read again when the window crosses an hour),
        the clipped edge hours counted live. Ties go to the later hour."""
        first, last = -(-since // HOUR_MS), until // HOUR_MS  # whole hours: [first, last)
        if since < 0:  # before 1970 SQL's ts / 3600000 truncates toward zero: group it all, as it says
            first = last = 0
            pieces = [(since, until)]
        elif first >= last:
            pieces = [(since, until)]
        else:
            pieces = [(since, first * HOUR_MS), (last * HOUR_MS, until)]
        hours: dict[int, int] = {}
        if first < last:
            key = ("whole_hours", model, version)  # one entry a version, replaced when the span moves
            found, prior = self.memo.recall(mark, key)
            if not found or prior[:2] != (first, last):
                prior = (first, last, dict(self._db.execute(
                    "SELECT ts / 3600000, count(*) FROM predictions WHERE model = ? AND version = ? AND ts >= ? "
                    "AND ts < ? GROUP BY 1", (model, version, first * HOUR_MS, last * HOUR_MS)).fetchall()))
                self.memo.remember(mark, key, prior)
            hours.update(prior[2])
        for lo, hi in pieces:
            if lo < hi:
                for hour, count in self._db.execute(
                        "SELECT ts / 3600000, count(*) FROM predictions WHERE model = ? AND version = ? "
                        "AND ts >= ? AND ts < ? GROUP BY 1", (model, version, lo, hi)).fetchall():
                    hours[int(hour)] = hours.get(int(hour), 0) + int(count)
        if not hours:
            return None
        requests, hour = max((count, hour) for hour, count in hours.items())
        return hour, requests

    def _busiest_hour_from_zones(self, model: str, version: str, since: int,
                                 until: int, mark: Any) -> tuple[int, int] | None:
        """(hour, requests) of the version's busiest clock hour in [since, until), found through the zone
        map instead of grouping a week of rows on every fleet refresh (1.3 s a read at 10M rows): hours
        are tried busiest first by the model's row count, an upper bound of the version's, and counted
        exactly on the (model, version, ts) index until no untried hour can beat the best. A whole hour's
        count is remembered while the log's mark stands; an hour the window clips is counted live. Same
        answer as the GROUP BY (ties go to the later hour); None when the zone map cannot be trusted (SQLite
        only: it must summarise every row) and the caller groups the rows."""
        from app.store.zonemap import hour_range, trusted

        if self._db.dialect.kind != "sqlite" or not trusted(self._db):  # type: ignore[arg-type]
            return None
        blocks = self._db.execute(
            "SELECT hour, rows FROM zone_blocks WHERE model = ? AND hour >= ? AND hour <= ? "
            "ORDER BY rows DESC, hour DESC", (model, since // HOUR_MS, (until - 1) // HOUR_MS)).fetchall()
        # The version's whole hours counted so far, one memo entry a version (not one an hour: a fleet of many
        # models must fit the memo); the dict only gains hours, each count fixed while the mark stands.
        counted: dict[int, int] = self.memo.read(("hours", model, version), dict, mark)
        best: tuple[int, int] = (0, 0)  # (requests, hour)
        for hour, bound in blocks:
            if (bound, hour) <= best:
                break  # bounds only fall from here: no later hour can win
            start, end = hour_range(hour)
            lo, hi = max(start, since), min(end, until)
            if (lo, hi) != (start, end):
                count = self._count(model, version, lo, hi)  # an hour the window clips: it slides with the clock
            elif (count := counted.get(hour)) is None:
                count = counted[hour] = self._count(model, version, lo, hi)
            best = max(best, (int(count), hour))
        return (best[1], best[0]) if best[0] else (0, 0)

    def oldest_ts(self, model: str) -> int | None:
        """The oldest kept prediction of ``model`` (one probe of the (model, ts) index)."""
        return self._db.execute("SELECT min(ts) FROM predictions WHERE model = ?", (model,)).fetchone()[0]

    def recent_features(self, model: str, version: str, *, scan: int, sample: int) -> list[str | None]:
        """The features text of up to ``sample`` rows of ``version`` among the model's ``scan`` newest."""
        def read() -> list[str | None]:
            return [r[0] for r in self._db.execute(
                f"SELECT features FROM (SELECT version, {self._db.dialect.record_json('features')} AS features "
                "FROM predictions WHERE model = ? ORDER BY ts DESC LIMIT ?) AS recent WHERE version = ? LIMIT ?",
                (model, scan, version, sample),
            ).fetchall()]

        return list(self.memo.read(("recent_features", model, version, scan, sample), read))

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
