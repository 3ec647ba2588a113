"""Stored drift results: one row per model, feature and window (the statistics live in app/drift/).

Portable (app/store/dialect.py): the same SQL on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import NamedTuple, Sequence

from app.models import DriftPoint
from app.store.dialect import Db
from app.timeutil import now_ms

_FIELDS = ("model", "version", "feature", "window_start", "window_end", "n_reference", "n_current", "method",
           "value", "threshold", "drifted", "psi")


class DriftMark(NamedTuple):
    """How far a model's drift windows of one size are planned (the drift_marks table, schema.py)."""

    covered_from: int  # windows starting in [covered_from, closed_until) were planned ...
    closed_until: int
    last_id: int  # ... over every prediction with an id up to this one (no ingest in flight may commit one below)
    baselines: str  # the versions with a baseline then, sorted and joined by newlines


_KEY = ("model", "feature", "window_start", "window_end")
_UPSERT = (f"INSERT INTO drift ({', '.join(_FIELDS)}, computed_at) VALUES ({', '.join('?' * 13)}) "
           f"ON CONFLICT ({', '.join(_KEY)}) DO UPDATE SET "
           + ", ".join(f"{f} = excluded.{f}" for f in (*_FIELDS, "computed_at") if f not in _KEY))


def _values(p: DriftPoint, computed_at: int) -> tuple:
    return (p.model, p.version, p.feature, p.window_start, p.window_end, p.n_reference, p.n_current, p.method,
            p.value, p.threshold, int(p.drifted), p.psi, computed_at)


def _point(row: Sequence) -> DriftPoint:
    # Rows this table wrote from validated points: constructed without validating again (a 30-day
    # `modeldeck drift` reads 15,000 of them; validation was most of its no-op run).
    values = dict(zip(_FIELDS, row))
    values["drifted"] = bool(values["drifted"])
    return DriftPoint.model_construct(**values)


class DriftTable:
    def __init__(self, db: Db) -> None:
        self._db = db

    def put_many(self, points: Sequence[DriftPoint]) -> None:
        computed_at = now_ms()
        with self._db.write():
            self._db.executemany(_UPSERT, [_values(p, computed_at) for p in points])

    def latest_window(self, model: str) -> list[DriftPoint]:
        """Every feature's result for the model's most recent computed window."""
        rows = self._db.execute(
            f"SELECT {', '.join(_FIELDS)} FROM drift WHERE model = ? AND window_start = "
            "(SELECT max(window_start) FROM drift WHERE model = ?)",
            (model, model),
        ).fetchall()
        return [_point(r) for r in rows]

    def series(self, model: str, feature: str, since: int | None = None) -> list[DriftPoint]:
        rows = self._db.execute(
            f"SELECT {', '.join(_FIELDS)} FROM drift WHERE model = ? AND feature = ? AND window_start >= ? "
            "ORDER BY window_start",
            (model, feature, since or 0),
        ).fetchall()
        return [_point(r) for r in rows]

    def stored(self, model: str, window_ms: int, since: int, until: int) -> list[DriftPoint]:
        """Results of windows of this size that start in [since, until), oldest window first."""
        rows = self._db.execute(
            f"SELECT {', '.join(_FIELDS)} FROM drift WHERE model = ? AND window_end - window_start = ? "
            "AND window_start >= ? AND window_start < ? ORDER BY window_start, feature",
            (model, window_ms, since, until),
        ).fetchall()
        return [_point(r) for r in rows]

    def newest_start(self, model: str) -> int | None:
        row = self._db.execute("SELECT max(window_start) FROM drift WHERE model = ?", (model,)).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def latest_start_with_rows(self, model: str, window_ms: int, min_rows: int, *, since: int = 0,
                               until: int = 2**62) -> int | None:
        """The start of the newest window of this size (starting in [since, until)) with at least
        ``min_rows`` current rows."""
        row = self._db.execute(
            "SELECT window_start FROM drift WHERE model = ? AND window_start >= ? AND window_start < ? "
            "AND window_end - window_start = ? "
            "GROUP BY window_start HAVING max(n_current) >= ? ORDER BY window_start DESC LIMIT 1",
            (model, since, until, window_ms, min_rows),
        ).fetchone()
        return None if row is None else int(row[0])

    def computed_windows(self, model: str, *, since: int = 0, until: int = 2**62) -> set[tuple[int, int]]:
        rows = self._db.execute("SELECT DISTINCT window_start, window_end FROM drift WHERE model = ? "
                                "AND window_start >= ? AND window_start < ?", (model, since, until)).fetchall()
        return {(r[0], r[1]) for r in rows}

    def insert_many(self, points: Sequence[DriftPoint]) -> None:
        """Like ``put_many`` but inside the caller's transaction (app/drift/windows.py writes a window only
        after checking, in the same transaction, that no rows landed in it meanwhile)."""
        computed_at = now_ms()
        self._db.executemany(_UPSERT, [_values(p, computed_at) for p in points])

    def invalidate(self, model: str, first_ts: int, last_ts: int) -> int:
        """Forget computed windows of ``model`` that hold a time in [first_ts, last_ts]: rows just landed
        in them (a late or back-filled log), so they are computed again from the complete data."""
        cursor = self._db.execute(
            "DELETE FROM drift WHERE model = ? AND window_start <= ? AND window_end > ?", (model, last_ts, first_ts)
        )
        if cursor.rowcount:
            # The forgotten windows may hold none of the new rows (a batch spanning hours reopens every
            # window between its first and last row): the next pass plans the whole range again.
            self.forget_marks(model)
        return cursor.rowcount

    def run_of(self, model: str, feature: str, window_ms: int, min_rows: int, latest: int,
               *, since: int = 0, chunk: int = 64) -> tuple[int | None, int]:
        """(first window, windows) of the run of drifting windows of ``feature`` that ends with the window
        starting at ``latest``, walking back from it over judged windows only (a window whose features all
        saw fewer than ``min_rows`` rows neither breaks nor extends a run, as in app.drift.windows
        .drifting_since); (None, 0) when ``latest`` does not drift. Reads as many windows as the run is
        long (an index walk on the primary key), never the whole history."""
        cursor = self._db.execute(
            "SELECT d.window_start, d.drifted FROM drift d WHERE d.model = ? AND d.feature = ? "
            "AND d.window_start <= ? AND d.window_start >= ? AND d.window_end - d.window_start = ? "
            "AND (SELECT max(w.n_current) FROM drift w WHERE w.model = d.model AND w.window_start = d.window_start "
            "     AND w.window_end = d.window_end) >= ? ORDER BY d.window_start DESC",
            (model, feature, latest, since, window_ms, min_rows))
        first, windows = None, 0
        while rows := cursor.fetchmany(chunk):
            for start, drifted in rows:
                if not drifted:
                    return first, windows
                first, windows = int(start), windows + 1
        return first, windows

    def mark(self, model: str, window_ms: int) -> DriftMark | None:
        row = self._db.execute("SELECT covered_from, closed_until, last_id, baselines FROM drift_marks "
                               "WHERE model = ? AND window_ms = ?", (model, window_ms)).fetchone()
        return None if row is None else DriftMark(*row)

    def set_mark(self, model: str, window_ms: int, mark: DriftMark) -> None:
        """Store the mark, inside the caller's transaction or in its own."""
        with self._db.write():
            self._db.execute(
                "INSERT INTO drift_marks (model, window_ms, covered_from, closed_until, last_id, baselines) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (model, window_ms) DO UPDATE SET "
                "covered_from = excluded.covered_from, closed_until = excluded.closed_until, "
                "last_id = excluded.last_id, baselines = excluded.baselines", (model, window_ms, *mark))

    def forget_marks(self, model: str) -> None:
        self._db.execute("DELETE FROM drift_marks WHERE model = ?", (model,))

    def any_computed(self) -> bool:
        """Whether any drift window was computed yet (ingest skips invalidation on a first load)."""
        return self._db.execute("SELECT 1 FROM drift LIMIT 1").fetchone() is not None
