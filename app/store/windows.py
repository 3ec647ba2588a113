"""Reads of the prediction log by drift window: which version served each window, a window's feature
values, the prediction's distribution per window (the computing lives in app/drift/windows.py).

Windows are UTC-aligned multiples of ``window_ms`` (``ts - ts % window_ms``); every read is one range
read on the (model, ts) index. Portable (app/store/dialect.py): the same SQL on SQLite and PostgreSQL,
a feature's JSON read through the dialect.
"""

from __future__ import annotations

from typing import Any, Iterable, Iterator, Literal, NamedTuple, Sequence

from app.store.dialect import Db, json_path_safe

# How a window read takes a value from a row:
# - "score_or_prediction": the score, else the prediction (a numeric prediction feature);
# - "prediction": the prediction as stored;
# - "number": a feature's value through a JSON path (numbers as numbers);
# - "json": a feature's value as JSON text (true stays true, 1.0 stays 1.0);
# - "features": the whole features text, for a key a JSON path cannot name (see json_path_safe).
ReadKind = Literal["score_or_prediction", "prediction", "number", "json", "features"]


class FeatureRead(NamedTuple):
    kind: ReadKind
    feature: str | None = None


class WindowReads:
    def __init__(self, db: Db) -> None:
        self._db = db

    def versions_per_window(self, model: str, window_ms: int, since: int, until: int) -> list[tuple[int, str, int]]:
        """(window start, version, rows) of every window in [since, until) with traffic."""
        # One aggregate over the (model, ts) index: which version served how much of each window.
        return [tuple(r) for r in self._db.execute(
            "SELECT ts - ts % ?, version, count(*) FROM predictions WHERE model = ? AND ts >= ? AND ts < ? "
            "GROUP BY 1, 2",
            (window_ms, model, since, until),
        ).fetchall()]

    def last_id(self) -> int:
        """The newest prediction's id (0 for an empty log): one step down the rowid b-tree. Ids only grow,
        so rows with a larger id are exactly those written since (the drift marks' high-water mark)."""
        (top,) = self._db.execute("SELECT max(id) FROM predictions").fetchone()
        return int(top or 0)

    def newest_and_settled_ids(self) -> tuple[int, int]:
        """(``last_id``, the newest id below which no row can still appear): on PostgreSQL a transaction in
        flight may still commit ids below the newest visible one (two ingesters commit out of id order), so
        the second is held below the lowest id such a transaction may commit. Drift's high-water mark moves
        only to the second."""
        sql = self._db.dialect.newest_and_settled_ids()
        if sql is None:  # one writer at a time: the newest id is settled (read as last_id, one b-tree step)
            newest = self.last_id()
            return newest, newest
        newest, settled = self._db.execute(sql).fetchone()
        return int(newest), int(settled)

    def windows_with_rows_after(self, model: str, window_ms: int, after_id: int, since: int,
                                until: int) -> list[int]:
        """Starts of the windows in [since, until) holding a row of ``model`` with an id above ``after_id``.

        Reads only the rows written after ``after_id`` (a rowid range): NOT INDEXED keeps SQLite off the
        (model, ts) index, which would walk every row of the model to test the id (PostgreSQL reads each
        partition's id index)."""
        return [row[0] for row in self._db.execute(
            f"SELECT DISTINCT ts - ts % ? FROM predictions {self._db.dialect.not_indexed()} WHERE id > ? "
            "AND model = ? AND ts >= ? AND ts < ?", (window_ms, after_id, model, since, until)).fetchall()]

    def window_rows(self, model: str, start: int, end: int, *, features: bool = True, as_stored: bool = False,
                    chunk: int = 4096) -> Iterator[tuple[int, str, float | None, Any, str | None]]:
        """(ts, version, score, prediction, features) of every row of ``model`` in [start, end), in ts order,
        fetched ``chunk`` rows at a time: drift windows are computed from one pass over these (memory: a
        chunk and the window being accumulated, never the range). ``as_stored``: the features as rows hold
        them, for a reader that picks values by ``stored_keys`` instead of decoding every row's keys."""
        column, names = self._db.record_column("features") if features else ("NULL", None)
        if as_stored:
            names = None
        cursor = self._db.execute(
            f"SELECT ts, version, score, prediction, {column} FROM predictions "
            "WHERE model = ? AND ts >= ? AND ts < ? ORDER BY ts", (model, start, end))
        while True:
            rows = cursor.fetchmany(chunk)
            if not rows:
                return
            if names is None:
                yield from rows
            else:
                yield from ((ts, version, score, prediction, names(f)) for ts, version, score, prediction, f in rows)

    def scores_in_order(self, model: str, since: int, until: int, *,
                        chunk: int = 8192) -> Iterator[list[tuple[int, float | None, Any]]]:
        """(ts, score, prediction) of every row of ``model`` in [since, until) in ts order, in chunks."""
        cursor = self._db.execute(
            "SELECT ts, score, prediction FROM predictions WHERE model = ? AND ts >= ? AND ts < ? ORDER BY ts",
            (model, since, until))
        while True:
            rows = cursor.fetchmany(chunk)
            if not rows:
                return
            yield rows

    def rows_in(self, model: str, start: int, end: int) -> int:
        """Rows of every version of ``model`` in [start, end)."""
        (count,) = self._db.execute("SELECT count(*) FROM predictions WHERE model = ? AND ts >= ? AND ts < ?",
                                    (model, start, end)).fetchone()
        return int(count)

    def stored_keys(self, names: Iterable[str]) -> dict[str, str]:
        """Each feature name as ``window_rows(as_stored=True)`` rows hold it (app/store/json_keys.py)."""
        return self._db.stored_keys(names)

    def rows_per_window(self, model: str, window_ms: int, since: int, until: int) -> dict[int, int]:
        """Rows of every version per window starting in [since, until) with traffic: read from the
        (model, ts) index alone (no version, so no table row is visited)."""
        return dict(self._db.execute(
            "SELECT ts - ts % ?, count(*) FROM predictions WHERE model = ? AND ts >= ? AND ts < ? GROUP BY 1",
            (window_ms, model, since, until)).fetchall())

    def feature_values(self, model: str, version: str, start: int, end: int,
                       reads: Sequence[FeatureRead]) -> list[tuple[Any, ...]]:
        """One tuple a row of ``version`` in [start, end): the values ``reads`` ask for, in their order."""
        dialect = self._db.dialect
        columns, params = [], []
        for read in reads:
            if read.kind == "score_or_prediction":
                columns.append(dialect.score_or_prediction())
            elif read.kind == "prediction":
                columns.append("prediction")
            elif read.kind == "features" or not json_path_safe(read.feature or ""):
                columns.append(dialect.record_json("features"))
            else:  # "number": numbers as numbers; "json": JSON text, so true stays true and 1.0 stays 1.0
                column, param = (dialect.json_number if read.kind == "number" else dialect.json_member)(
                    "features", read.feature or "")
                columns.append(column)
                params.append(param)
        # The version is filtered here rather than in SQL: with it in the WHERE clause SQLite prefers the
        # (model, version, request_id) index and reads every row of the version instead of one window's.
        return [row[1:] for row in self._db.execute(
            f"SELECT version, {', '.join(columns)} FROM predictions WHERE model = ? AND ts >= ? AND ts < ?",
            (*params, model, start, end),
        ).fetchall() if row[0] == version]
