"""Zone maps over the prediction log (issue 18): per (model, hour) block, the row count, the error count,
min/max of score and latency, and min/max of each indexed feature (``[search] indexed_features``: read
from its generated column; summarising every feature through json_each cost 17 us a row, more than the
rest of ingest), kept by ingest in the same transaction as the rows. Like Parquet row-group statistics or ClickHouse skip indexes: a search for a rare value
(``score>=0.9999``, ``features.amount>100000``, ``status:error`` on a quiet day) reads only the blocks
whose summary says they may hold a match, instead of every row.

Upkeep: whoever inserts predictions calls ``record_zones(conn, first_id, last_id)`` for the id range it
just inserted (ids are assigned contiguously inside one write transaction): one GROUP BY over those rows.
``zone_state.covered`` is the highest id whose block is summarised; it only moves over a contiguous range,
so rows written by anything that skipped the upkeep leave ``covered`` behind ``max(id)`` and search then
does not prune at all (a slower answer, never a wrong one). Deleted rows (retention) leave summaries
wider than the rows, which is still safe: a block is only ever skipped when it cannot match.

Read side: ``candidate_slices`` turns the prunable terms of a query into the time slices (and models)
that may hold a match, newest first, or None when pruning would not pay (or cannot be trusted). Its
statements are portable: PostgreSQL's search (app/store/pg/search.py) runs them through its ``Db`` over
the same tables, kept by its ingest (app/store/pg/predictions.py), with its own test of coverage.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Sequence

from app.search.language import AnyOf, FieldTerm, JsonTerm, Query, TimeTerm

if TYPE_CHECKING:
    from app.store.dialect import Db

HOUR_MS = 3_600_000
# Pruning pays when the blocks that may match hold at most this share of the rows in scope; above
# it, one statement over the whole range finds a page about as fast (the common case).
SELECTIVE_SHARE = 0.25


_BLOCKS_UPSERT = (
    "INSERT INTO zone_blocks (model, hour, rows, errors, min_score, max_score, min_latency, max_latency) "
    "SELECT model, ts / 3600000, count(*), sum(status = 'error'), min(score), max(score), "
    "min(latency_ms), max(latency_ms) FROM predictions WHERE id BETWEEN ? AND ? GROUP BY model, ts / 3600000 "
    "ON CONFLICT (model, hour) DO UPDATE SET rows = rows + excluded.rows, errors = errors + excluded.errors, "
    "min_score = coalesce(min(min_score, excluded.min_score), min_score, excluded.min_score), "
    "max_score = coalesce(max(max_score, excluded.max_score), max_score, excluded.max_score), "
    "min_latency = coalesce(min(min_latency, excluded.min_latency), min_latency, excluded.min_latency), "
    "max_latency = coalesce(max(max_latency, excluded.max_latency), max_latency, excluded.max_latency)")
# One indexed feature, from its generated column (json_extract: JSON true/false read as 1/0, as search does).
_FEATURE_UPSERT = (
    "INSERT INTO zone_features (model, hour, feature, n, lo, hi) "
    'SELECT model, ts / 3600000, ?, count(*), min("{column}"), max("{column}") FROM predictions '
    "WHERE id BETWEEN ? AND ? AND typeof(\"{column}\") IN ('integer', 'real') GROUP BY model, ts / 3600000 "
    "ON CONFLICT (model, hour, feature) DO UPDATE SET n = n + excluded.n, "
    "lo = min(lo, excluded.lo), hi = max(hi, excluded.hi)")
_SAFE_COLUMN = re.compile(r"^xf_[a-z0-9_]+$")
# ``covered`` moves only over a contiguous range (see the module docstring).
_COVER = "UPDATE zone_state SET covered = max(covered, ?) WHERE covered >= ? - 1"


def record_zones(conn: sqlite3.Connection, first_id: int, last_id: int) -> None:
    """Summarise the predictions with ids in [first_id, last_id] (just inserted, same transaction)."""
    if last_id < first_id:
        return
    try:
        conn.execute(_BLOCKS_UPSERT, (first_id, last_id))
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return  # a store held at an older schema (migration tests): its migration backfills the summaries
        raise
    for feature, column in summarised_features(conn).items():
        conn.execute(_FEATURE_UPSERT.format(column=column), (feature, first_id, last_id))
    conn.execute(_COVER, (last_id, first_id))


def summarised_features(conn: sqlite3.Connection) -> dict[str, str]:
    """Feature name -> its generated column, for the features zone_features summarises."""
    return {feature: column for feature, column in conn.execute(
        "SELECT feature, column_name FROM zone_feature_columns") if _SAFE_COLUMN.match(column)}


def summarise_feature(conn: sqlite3.Connection, feature: str, column: str) -> bool:
    """Start summarising an indexed feature (its generated column exists): backfill every stored row,
    then ingest keeps it. Idempotent; True when it was new. Call inside a write transaction."""
    if not _SAFE_COLUMN.match(column):
        raise ValueError(f"not a generated feature column: {column!r}")
    if feature in summarised_features(conn):
        return False
    conn.execute("DELETE FROM zone_features WHERE feature = ?", (feature,))
    conn.execute(_FEATURE_UPSERT.format(column=column), (feature, -2**63, 2**63 - 1))
    conn.execute("INSERT INTO zone_feature_columns (feature, column_name) VALUES (?, ?)", (feature, column))
    return True


def record_zone_ids(conn: sqlite3.Connection, ids: Sequence[int]) -> None:
    """``record_zones`` over runs of consecutive ids (a writer whose ids may have gaps)."""
    if not ids:
        return
    ordered = sorted(ids)
    low = previous = ordered[0]
    for row_id in ordered[1:]:
        if row_id != previous + 1:
            record_zones(conn, low, previous)
            low = row_id
        previous = row_id
    record_zones(conn, low, previous)


@dataclass(frozen=True)
class Slice:
    """A time range [start, end) and the models whose blocks in it may hold a match."""

    start: int
    end: int
    models: tuple[str, ...]
    rows: int = 0  # rows of its blocks (what reading it costs at most)


@dataclass(frozen=True)
class ZonePlan:
    """The slices to read, newest first, and how many rows they hold of how many in scope."""

    slices: list[Slice]
    candidate_rows: int
    scope_rows: int


def _range_condition(low: str, high: str, op: str, value: object) -> tuple[str, list[object]] | None:
    if op in (">", ">="):
        return f"{high} {op} ?", [value]
    if op in ("<", "<="):
        return f"{low} {op} ?", [value]
    return None


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def block_conditions(query: Query, features: frozenset[str] = frozenset()
                     ) -> tuple[list[str], list[object], list[str], list[object], bool]:
    """The query's top-level terms as conditions on a zone block ``b``: (scope SQL, params, prune SQL,
    params, prunable). Scope terms (model, time) bound which blocks are in play; prune terms (numbers,
    the summarised ``features``, errors) are what lets a block be skipped. Terms that cannot be judged from a block's
    summary are left out: a block kept is only "may match", the rows decide."""
    scope: list[str] = []
    scope_params: list[object] = []
    prune: list[str] = []
    prune_params: list[object] = []
    for term in query.terms:
        if term.negated:
            continue
        if isinstance(term, TimeTerm):
            scope.append("b.hour >= ?" if term.bound == "since" else "b.hour <= ?")
            scope_params.append(_hour_of(term.at if term.bound == "since" else term.at - 1))
        elif isinstance(term, FieldTerm) and term.column == "model" and term.op == "=":
            scope.append("b.model = ?")
            scope_params.append(term.value)
        elif isinstance(term, AnyOf) and _models_only(term):
            names = [a[0].value for a in term.alternatives]  # type: ignore[union-attr]
            scope.append(f"b.model IN ({', '.join('?' * len(names))})" if names else "1 = 0")
            scope_params.extend(names)
        elif isinstance(term, FieldTerm) and term.column == "status" and term.op == "=":
            prune.append("b.errors > 0" if term.value == "error" else "b.rows > b.errors")
        elif isinstance(term, FieldTerm) and term.column in ("score", "latency_ms") and _is_number(term.value):
            low, high = ("b.min_score", "b.max_score") if term.column == "score" else ("b.min_latency",
                                                                                       "b.max_latency")
            if term.op == "=":
                prune.append(f"{low} <= ? AND {high} >= ?")
                prune_params.extend([term.value, term.value])
            else:
                found = _range_condition(low, high, term.op, term.value)
                if found:
                    prune.append(found[0])
                    prune_params.extend(found[1])
        elif (isinstance(term, JsonTerm) and term.column == "features" and term.key in features
              and _is_number(term.value)):
            # Range comparisons only: ``=`` also matches the number's text form, which is not summarised.
            found = _range_condition("f.lo", "f.hi", term.op, term.value)
            if found:
                prune.append("EXISTS (SELECT 1 FROM zone_features f WHERE f.model = b.model AND f.hour = b.hour "
                             f"AND f.feature = ? AND {found[0]})")
                prune_params.extend([term.key, *found[1]])
    # A NULL min/max (no score in the block) makes a comparison NULL and the block skipped: right, since
    # a NULL score matches no comparison either.
    return scope, scope_params, prune, prune_params, bool(prune)


def _models_only(term: AnyOf) -> bool:
    return all(len(a) == 1 and isinstance(a[0], FieldTerm) and a[0].column == "model" and a[0].op == "="
               and not a[0].negated for a in term.alternatives)


def trusted(conn: sqlite3.Connection) -> bool:
    """Whether every stored prediction is summarised (see ``zone_state.covered``)."""
    row = conn.execute("SELECT covered FROM zone_state").fetchone()
    newest = conn.execute("SELECT max(id) FROM predictions").fetchone()[0]
    return row is not None and (newest is None or row[0] >= newest)


def candidate_slices(conn: "sqlite3.Connection | Db", query: Query, *, share: float = SELECTIVE_SHARE,
                     force: bool = False, features: frozenset[str] | None = None,
                     covered: Callable[[], bool] | None = None, covered_sql: str | None = None) -> ZonePlan | None:
    """The slices that may hold a match of ``query``, newest first; None when the query has no prunable
    term, when pruning would keep more than ``share`` of the rows in scope (``force``: keep it anyway),
    or when the summaries do not cover every row (``covered``: the backend's own test, else ``trusted``).
    ``conn``: a SQLite connection, or either backend's ``Db`` (the statements are portable). ``covered_sql``:
    the coverage test as one SQL boolean, asked in the same statement as the sums (a round trip less on a
    server)."""
    if features is None:
        features = frozenset(summarised_features(conn))  # type: ignore[arg-type]
    scope, scope_params, prune, prune_params, prunable = block_conditions(query, features)
    if not prunable:
        return None
    if covered_sql is None and not (covered() if covered is not None else trusted(conn)):  # type: ignore[arg-type]
        return None
    scope_sql = " AND ".join(scope) if scope else "1 = 1"
    prune_sql = " AND ".join(prune)
    # First the two sums alone (one pass, no block leaves the database): most queries stop here, pruning
    # would keep too much; only a plan that prunes reads its blocks. int(): PostgreSQL sums as numeric.
    sums = conn.execute(
        f"SELECT coalesce(sum(b.rows), 0), coalesce(sum(CASE WHEN {prune_sql} THEN b.rows ELSE 0 END), 0), "
        f"{covered_sql or '1'} FROM zone_blocks b WHERE {scope_sql}", (*prune_params, *scope_params)).fetchone()
    if not sums[2]:
        return None
    scope_rows, candidate_rows = int(sums[0]), int(sums[1])
    if not force and scope_rows and candidate_rows > share * scope_rows:
        return None
    rows = conn.execute(
        f"SELECT b.hour, b.model, b.rows FROM zone_blocks b WHERE {scope_sql} AND {prune_sql} "
        "ORDER BY b.hour DESC, b.model", (*scope_params, *prune_params)).fetchall()
    by_hour: dict[int, tuple[list[str], list[int]]] = {}
    for hour, model, n in rows:
        models, counts = by_hour.setdefault(hour, ([], [0]))
        models.append(model)
        counts[0] += n
    slices: list[Slice] = []
    for hour, (models, counts) in by_hour.items():  # newest first
        start, end = hour_range(hour)
        names = tuple(models)
        if slices and slices[-1].models == names and slices[-1].start == end:
            # Neighbouring hours of the same models: one statement.
            slices[-1] = Slice(start, slices[-1].end, names, slices[-1].rows + counts[0])
        else:
            slices.append(Slice(start, end, names, counts[0]))
    return ZonePlan(slices, candidate_rows, scope_rows)


def declines_sql(query: Query, features: frozenset[str], covered_sql: str, share: float = SELECTIVE_SHARE
                 ) -> tuple[str, list[object]] | None:
    """``candidate_slices``'s refusal to prune as one SQL boolean and its params, for a server to gate the unpruned page on in the page's own statement; None when ``query`` has no
    prunable term. True exactly when ``candidate_slices`` returns None without ``force``: the map does not
    cover every row, or the blocks that may match hold more than the share of the rows in scope."""
    scope, scope_params, prune, prune_params, prunable = block_conditions(query, features)
    if not prunable:
        return None
    scope_sql = " AND ".join(scope) if scope else "1 = 1"
    return (f"(SELECT NOT {covered_sql} OR (coalesce(sum(b.rows), 0) > 0 AND coalesce(sum(CASE WHEN "
            f"{' AND '.join(prune)} THEN b.rows ELSE 0 END), 0) > ? * coalesce(sum(b.rows), 0)) "
            f"FROM zone_blocks b WHERE {scope_sql})", [*prune_params, share, *scope_params])


def _hour_of(ts: int) -> int:
    """SQLite's ``ts / 3600000`` (truncates toward zero), so a bound lands in the block its row would."""
    return -(-ts // HOUR_MS) if ts < 0 else ts // HOUR_MS


def hour_range(hour: int) -> tuple[int, int]:
    """The ts range of a block: ``ts / 3600000`` truncates toward zero, so hour 0 spans both signs."""
    if hour > 0:
        return hour * HOUR_MS, (hour + 1) * HOUR_MS
    if hour < 0:
        return (hour - 1) * HOUR_MS + 1, hour * HOUR_MS + 1
    return -HOUR_MS + 1, HOUR_MS


def slice_sql(where: str, slice_: Slice) -> tuple[str, list[object]]:
    """``where`` restricted to one slice (the (model, ts) index seeks it)."""
    marks = ", ".join("?" * len(slice_.models))
    return f"({where}) AND model IN ({marks}) AND ts >= ? AND ts < ?", [*slice_.models, slice_.start, slice_.end]

