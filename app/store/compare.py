"""The SQL behind champion/challenger comparison (``app.compare.pairing``): pairing, aggregates,
exact percentiles.

A comparison reads inside ``with reading(store) as reader:`` and hands ``reader`` to the functions
here: a ``Reader`` runs this module's SQL (named ``:params``) on either backend, errors as the store's
own. On SQLite it is the store's connection read through a memory map; on PostgreSQL
(``app.store.pg.compare.PgReader``) the pairs stream through a server-side cursor and the TEMP table
lives for one transaction. What the two engines write differently comes from ``reader.dialect``
(``flag``, ``same``, ``as_number``, ``json_join_key``, ``temp_table``); the statements are written once.

Pairing runs once per comparison. Normally it streams a few numbers a pair to numpy
(``stream_select``); for very large windows it fills a TEMP table of paired answers (one
row a request) and every statistic is an aggregate over that table, so that nothing is
loaded into Python but the aggregates.

A row's *value* is what the score statistics compare: the score, or for a regression
model without scores its numeric prediction.
"""

from __future__ import annotations

import math
import os
import sqlite3
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from app.store.connection import store_error
from app.store.dialect import Cursor, Dialect, SqliteDialect

if TYPE_CHECKING:
    import subprocess

    import numpy as np

    from app.store import Store


class Reader(Protocol):
    """What ``reading()`` hands out: one comparison's connection, for this module's functions only."""

    dialect: Dialect

    def execute(self, sql: str, params: Any = ()) -> Cursor:
        """Run one statement: ``:name`` parameters from a dict, or ``?`` from a sequence."""
        ...

    def stream(self, sql: str, params: dict) -> Iterator[tuple]:
        """The rows of one big select, as they come (never all held at once)."""
        ...

    def param(self, value: Any) -> Any:
        """A log value read back (a class), as a parameter compared with the log's column."""
        ...

    def file_path(self) -> str | None:
        """The store's file, which a helper process can open read-only (None: a server, or in memory)."""
        ...

    def pairs_table(self, select: str, params: dict) -> AbstractContextManager[None]:
        """The TEMP pairs table (``PAIRS``, a ``rowid`` numbering its rows) filled by ``select`` for
        the block, dropped after."""
        ...


class SqliteReader:
    """The SQLite store's connection as a ``Reader``."""

    dialect: Dialect = SqliteDialect()

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Any = ()) -> Cursor:
        return self.conn.execute(sql, params)

    def stream(self, sql: str, params: dict) -> Iterator[tuple]:
        return self.conn.execute(sql, params)

    def param(self, value: Any) -> Any:
        return value

    def file_path(self) -> str | None:
        if self.conn.in_transaction:  # rows this connection has not committed: no other process sees them
            return None
        row = next((r for r in self.conn.execute("PRAGMA database_list") if r[1] == "main"), None)
        return (row[2] or None) if row else None

    @contextmanager
    def pairs_table(self, select: str, params: dict) -> Iterator[None]:
        self.conn.execute(f"DROP TABLE IF EXISTS temp.{PAIRS}")
        self.conn.execute(f"CREATE TEMP TABLE {PAIRS} AS {select}", params)
        try:
            yield
        finally:
            self.conn.execute(f"DROP TABLE IF EXISTS temp.{PAIRS}")

PAIRS = "compare_pairs"
# Pairing looks each champion answer up by request_id: with random request ids (UUIDs) that is
# a random page of the index a pair. Read through a memory map, a page costs no read() call
# and no copy into SQLite's 2 MB page cache (1,000,000 pairs with random ids: 4.1 s -> 3.4 s).
MMAP_BYTES = 1 << 30
# A champion answer may be logged slightly before or after the window edge that its
# challenger twin fell in (shadow answers arrive milliseconds later): look this far out.
PAIR_SLACK_MS = 3_600_000

# A regression's answers and labels are numbers (``as_number``); a classifier's stay as logged.
_OUTPUT = """c.ts AS ts, {pred_a} AS pred_a, {pred_b} AS pred_b,
       {label} AS label,
       p.latency_ms AS lat_a, c.latency_ms AS lat_b,
       {err_a} AS err_a, {err_b} AS err_b,
       {ok} AS ok,
       {value_b} - {value_a} AS d, abs({value_b} - {value_a}) AS ad,
       c.latency_ms - p.latency_ms AS ld"""


def _value(d: Dialect, alias: str, regression: bool) -> str:
    if not regression:
        return f"{alias}.score"
    return f"coalesce({alias}.score, {d.json_scalar_number(f'{alias}.prediction')})"


def _output(d: Dialect, regression: bool) -> str:
    number = d.as_number if regression else (lambda value: value)
    return _OUTPUT.format(pred_a=number("p.prediction"), pred_b=number("c.prediction"),
                          label=number("coalesce(p.label, c.label)"),
                          err_a=d.flag("p.status = 'error'"), err_b=d.flag("c.status = 'error'"),
                          ok=d.flag("p.status = 'ok' AND c.status = 'ok'"),
                          value_a=_value(d, "p", regression), value_b=_value(d, "c", regression))


def pairs_select(d: Dialect, join_key: str, *, regression: bool, output: str | None = None,
                 along_ids: bool = False) -> str:
    """One row per challenger answer that has a champion answer to the same request.

    Parameters: :model, :champion, :challenger, :since, :until (challenger ts), and :path
    (a JSON path) plus :slack for a context key. Join on request_id looks each champion
    answer up in the request_id index; a request is answered at most once per version (the
    unique (model, version, request_id) index). A context key can repeat: the first answer
    (lowest id) of each side counts, so a retried request pairs once. ``output``: another
    select list over p (champion) and c (challenger) instead of the pairs' columns. ``along_ids``
    (request_id only; parameters :lo, :hi): the challenger's rows are read along the table between
    those ids (``along_ids_pays``) instead of through the (model, version, ts) index.
    """
    if output is None:
        output = _output(d, regression)
    if join_key == "request_id":
        # The champion's answer is one seek of the unique (request_id, model, version) index, then its
        # table row (schema step 16 dropped the covering copy of that index: 77 B a row for 0.3 s
        # per million pairs).
        source, stretch = "predictions AS c", ""
        if along_ids:
            source, stretch = f"predictions AS c {d.not_indexed()}", " AND c.id BETWEEN :lo AND :hi"
        return f"""SELECT {output}
FROM {source}
JOIN predictions AS p ON p.request_id = c.request_id AND p.model = c.model AND p.version = :champion
WHERE c.model = :model AND c.version = :challenger AND c.ts >= :since AND c.ts < :until{stretch}"""
    key = f"coalesce({d.json_join_key('context', ':path')}, request_id)"
    return f"""WITH a AS (
    SELECT {key} AS k, min(id) AS id FROM predictions
    WHERE model = :model AND version = :champion AND ts >= :since - :slack AND ts < :until + :slack
    GROUP BY k),
b AS (
    SELECT {key} AS k, min(id) AS id FROM predictions
    WHERE model = :model AND version = :challenger AND ts >= :since AND ts < :until
    GROUP BY k)
SELECT {output}
FROM b JOIN a ON a.k = b.k
JOIN predictions AS p ON p.id = a.id
JOIN predictions AS c ON c.id = b.id"""


@contextmanager
def reading(store: Any) -> Iterator[Reader]:
    """One comparison's reads, on the store's backend. SQLite: through a memory map
    (``memory_mapped``), SQLite errors as StoreError."""
    if store.kind == "postgresql":
        from app.store.pg.compare import PgReader

        yield PgReader(store)
        return
    try:
        with memory_mapped(store.conn):
            yield SqliteReader(store.conn)
    except sqlite3.Error as exc:
        raise store_error(exc) from exc


@contextmanager
def memory_mapped(conn: sqlite3.Connection, size: int = MMAP_BYTES) -> Iterator[None]:
    """Read the store through a memory map of up to ``size`` bytes for the block, then restore
    the connection's own setting (SQLite caps it at its compile-time maximum)."""
    row = conn.execute("PRAGMA mmap_size").fetchone()  # no row: an in-memory database
    before = row[0] if row else size
    if before >= size:
        yield
        return
    conn.execute(f"PRAGMA mmap_size = {int(size)}").fetchone()
    try:
        yield
    finally:
        conn.execute(f"PRAGMA mmap_size = {int(before)}").fetchone()


def pair_params(d: Dialect, model: str, champion: str, challenger: str, since: int, until: int,
                join_key: str) -> dict:
    """The pairing's parameters; a context key (``context.trace_id``) names its key for ``d``."""
    params: dict[str, object] = {"model": model, "champion": champion, "challenger": challenger,
                                 "since": since, "until": until}
    if join_key != "request_id":
        params.update(path=d.json_key_param(join_key.split(".", 1)[1]), slack=PAIR_SLACK_MS)
    return params


def pairs_table(reader: Reader, join_key: str, params: dict, *, regression: bool) -> AbstractContextManager[None]:
    """The connection's TEMP pairs table for one comparison, for the block."""
    return reader.pairs_table(pairs_select(reader.dialect, join_key, regression=regression), params)


# Both answers ok: the requests on which the two versions' answers can be compared at all.
_BOTH_OK = "ok = 1"  # both answers ok (a 0/1 column of the pairs)
_LABELLED = f"(label IS NOT NULL AND {_BOTH_OK})"

SUMMARY_COLUMNS = ("paired", "both_ok", "agree", "n_values", "within", "mean_diff", "mean_abs_diff",
                   "errors_a", "errors_b", "n_lat_a", "n_lat_b", "n_lat_diff", "labels",
                   "q_a", "q_b", "sq_a", "sq_b")


def summary_select(d: Dialect, *, regression: bool, extra: list[str] = ()) -> str:
    """Every count and sum in one pass over the pairs. Parameter: :tol (and the extra columns').

    Quality columns: classification counts correct answers (q_a, q_b); regression sums
    absolute errors (q_a, q_b) and squared errors (sq_a, sq_b) for the MAE's interval.
    """
    more = "".join(f",\n    {column}" for column in extra)
    if regression:
        quality = (f"sum(CASE WHEN {_LABELLED} THEN abs(pred_a - label) END),\n"
                   f"    sum(CASE WHEN {_LABELLED} THEN abs(pred_b - label) END),\n"
                   f"    sum(CASE WHEN {_LABELLED} THEN (pred_a - label) * (pred_a - label) END),\n"
                   f"    sum(CASE WHEN {_LABELLED} THEN (pred_b - label) * (pred_b - label) END)")
    else:
        quality = (f"sum({d.flag(f'{_LABELLED} AND pred_a = label')}),\n"
                   f"    sum({d.flag(f'{_LABELLED} AND pred_b = label')}),\n    0, 0")
    return f"""SELECT count(*),
    sum({d.flag(_BOTH_OK)}),
    sum({d.flag(f"{_BOTH_OK} AND {d.same('pred_a', 'pred_b')}")}),
    count(d),
    sum({d.flag('ad <= :tol')}),
    avg(d),
    avg(ad),
    sum(err_a), sum(err_b),
    count(lat_a), count(lat_b), count(ld),
    sum({d.flag(_LABELLED)}),
    {quality}{more}
FROM {d.temp_table(PAIRS)}"""


# Expressions the percentiles are taken of, and the summary column that counts their values.
PERCENTILE_EXPRS = {
    "abs_diff": ("ad", "n_values"),
    "lat_a": ("lat_a", "n_lat_a"),
    "lat_b": ("lat_b", "n_lat_b"),
    "lat_diff": ("ld", "n_lat_diff"),
}
SAMPLE_SIZE = 40_000


@dataclass(frozen=True)
class Band:
    """A value range that, judging by a sample, holds the wanted order statistic.

    ``lo``/``hi`` None: unbounded on that side. The summary pass counts the values below
    ``lo``; one more pass reads the values inside every band. If the wanted ranks fall inside,
    the band's sorted values give the answer, else the exact ORDER BY fallback runs. Either
    way the result is exact.
    """

    name: str
    q: float
    lo: float | None
    hi: float | None


def _pick(d: Dialect, exprs: str, where: str = "") -> str:
    """Every step-th pair by rowid lookups (pairs are in challenger time order): no full scan.
    Parameters: start, step, step, last."""
    table = d.temp_table(PAIRS)
    return (f"WITH RECURSIVE pick(r) AS (SELECT CAST(? AS bigint) UNION ALL SELECT r + ? FROM pick WHERE r + ? <= ?) "
            f"SELECT {exprs} FROM pick JOIN {table} ON {table}.rowid = pick.r{where}")


def plan_bands(reader: Reader, wanted: list[tuple[str, float]]) -> list[Band]:
    d = reader.dialect
    rows = reader.execute(f"SELECT max(rowid) FROM {d.temp_table(PAIRS)}").fetchone()[0] or 0
    names = sorted({name for name, _ in wanted})
    step = max(1, rows // SAMPLE_SIZE)
    exprs = ", ".join(PERCENTILE_EXPRS[name][0] for name in names)
    sample = reader.execute(_pick(d, exprs), (step, step, step, rows)).fetchall()
    columns = {name: sorted(r[i] for r in sample if r[i] is not None) for i, name in enumerate(names)}
    bands = []
    for name, q in wanted:
        values = columns[name]
        m = len(values)
        if m < 50:
            bands.append(Band(name, q, None, None))
            continue
        f = q / 100
        centre = f * (m - 1)
        # 3.5 standard errors of a sample quantile's rank, and a little more for ties; a miss
        # (rare) costs one sort, never a wrong answer.
        width = 3.5 * math.sqrt(m * f * (1 - f)) + 3
        i_lo, i_hi = math.floor(centre - width), math.ceil(centre + width)
        bands.append(Band(name, q, values[i_lo] if i_lo > 0 else None, values[i_hi] if i_hi < m - 1 else None))
    return bands


def _ranks(n: int, q: float) -> tuple[float, int, int]:
    position = (n - 1) * q / 100
    low = int(position)
    return position, low, min(low + 1, n - 1)


def band_counts(d: Dialect, bands: list[Band]) -> tuple[list[str], dict[str, float]]:
    """A summary column per band (values below lo) and the bands' parameters."""
    columns, params = [], {}
    for i, band in enumerate(bands):
        expr = PERCENTILE_EXPRS[band.name][0]
        if band.lo is not None:
            params[f"lo{i}"] = band.lo
        if band.hi is not None:
            params[f"hi{i}"] = band.hi
        columns.append(f"sum({d.flag(f'{expr} < :lo{i}')})" if band.lo is not None else "0")
    return columns, params


def _inside(expr: str, band: Band, i: int) -> str:
    parts = [f"{expr} IS NOT NULL"]
    if band.lo is not None:
        parts.append(f"{expr} >= :lo{i}")
    if band.hi is not None:
        parts.append(f"{expr} <= :hi{i}")
    return "(" + " AND ".join(parts) + ")"


def resolve_bands(reader: Reader, bands: list[Band], below: list[int], totals: dict[str, int],
                  params: dict[str, float]) -> dict[tuple[str, float], float | None]:
    """Each band's percentile, exactly (numpy's linear interpolation).

    One pass reads the values inside the bands; a band that turns out not to hold its ranks
    (the sample misled us) is sorted in full instead.
    """
    results: dict[tuple[str, float], float | None] = {}
    live = [(i, band) for i, band in enumerate(bands) if totals[band.name] > 0]
    for band in bands:
        if totals[band.name] <= 0:
            results[(band.name, band.q)] = None
    if not live:
        return results
    names = sorted({band.name for _, band in live})
    exprs = [PERCENTILE_EXPRS[name][0] for name in names]
    where = " OR ".join(_inside(PERCENTILE_EXPRS[band.name][0], band, i) for i, band in live)
    rows = reader.execute(f"SELECT {', '.join(exprs)} FROM {reader.dialect.temp_table(PAIRS)} WHERE {where}",
                          params).fetchall()
    for i, band in live:
        column = names.index(band.name)
        inside = sorted(v for v in (r[column] for r in rows) if v is not None
                        and (band.lo is None or v >= band.lo) and (band.hi is None or v <= band.hi))
        n = totals[band.name]
        position, low, high = _ranks(n, band.q)
        start = below[i]
        if start <= low and high < start + len(inside):
            a, b = inside[low - start], inside[high - start]
            results[(band.name, band.q)] = float(a + (b - a) * (position - low))
        else:
            results[(band.name, band.q)] = percentile(reader, PERCENTILE_EXPRS[band.name][0], band.q, n)
    return results


def percentile(reader: Reader, expr: str, q: float, n: int) -> float | None:
    """Exact percentile with linear interpolation (numpy's default) of ``expr`` over the pairs,
    by sorting (the fallback of ``resolve_bands``).

    ``n`` is how many non-null values there are. Only the two neighbouring order statistics
    are read; sorting from the nearer end keeps SQLite's bounded sorter small.
    """
    if n <= 0:
        return None
    position, low, high = _ranks(n, q)
    values_of = f"SELECT v FROM (SELECT {expr} AS v FROM {reader.dialect.temp_table(PAIRS)}) AS s WHERE v IS NOT NULL"
    if low >= n / 2:
        rows = reader.execute(f"{values_of} ORDER BY v DESC LIMIT 2 OFFSET ?", (n - 1 - high,)).fetchall()
        values = [r[0] for r in reversed(rows)]
        if high == low:
            values = values[-1:] * 2
    else:
        rows = reader.execute(f"{values_of} ORDER BY v LIMIT 2 OFFSET ?", (low,)).fetchall()
        values = [r[0] for r in rows]
        if high == low:
            values = values[:1] * 2
    if not values:
        return None
    a, b = values[0], values[-1]
    return float(a + (b - a) * (position - low))


def sample_classes(reader: Reader, limit: int) -> list | None:
    """The classes both versions predict, judging by a sample of the pairs; None when more than
    ``limit`` (the confusion matrix is then grouped in full)."""
    d = reader.dialect
    rows = reader.execute(f"SELECT max(rowid) FROM {d.temp_table(PAIRS)}").fetchone()[0] or 0
    step = max(1, rows // SAMPLE_SIZE)
    seen: dict = {}
    for a, b in reader.execute(_pick(d, "pred_a, pred_b", f" WHERE {_BOTH_OK}"), (step, step, step, rows)):
        if not (_hashable(a) and _hashable(b)):
            return None
        seen[a] = seen[b] = True
        if len(seen) > limit:
            return None
    return list(seen)


def _hashable(value: Any) -> bool:
    # A class is a number or a word; an object answer (PostgreSQL hands jsonb back decoded) is no class.
    return not isinstance(value, (dict, list))


def confusion_cells(reader: Reader, classes: list) -> tuple[list[str], dict[str, object], list[tuple]]:
    """Summary columns counting each (champion, challenger) cell of a small class set: one pass
    instead of a sort of every pair. The caller checks that the cells add up to every pair."""
    d = reader.dialect
    columns, params, cells = [], {}, []
    for i, (a, b) in enumerate((a, b) for a in classes for b in classes):
        params[f"ca{i}"], params[f"cb{i}"] = reader.param(a), reader.param(b)
        cell = f"{_BOTH_OK} AND {d.same('pred_a', f':ca{i}')} AND {d.same('pred_b', f':cb{i}')}"
        columns.append(f"sum({d.flag(cell)})")
        cells.append((a, b))
    return columns, params, cells


def timeline_select(d: Dialect) -> str:
    """Agreement and the mean absolute value difference per time bucket. Parameters: :since, :bucket."""
    return f"""SELECT (ts - :since) / :bucket AS b, count(*), sum({d.flag(_BOTH_OK)}),
    sum({d.flag(f"{_BOTH_OK} AND {d.same('pred_a', 'pred_b')}")}), avg(ad), sum({d.flag('ad <= :tol')}),
    count(d)
FROM {d.temp_table(PAIRS)} GROUP BY b ORDER BY b"""


def confusion_select(d: Dialect, limit: int) -> str:
    return (f"SELECT pred_a, pred_b, count(*) FROM {d.temp_table(PAIRS)} WHERE {_BOTH_OK} "
            f"GROUP BY pred_a, pred_b ORDER BY count(*) DESC LIMIT {int(limit)}")


@dataclass(frozen=True)
class Counts:
    champion: int
    challenger: int
    first_id: int | None = None
    """The lowest and highest id of the challenger's answers in the window (None: no answer)."""
    last_id: int | None = None


def window_counts(reader: Reader, model: str, champion: str, challenger: str, since: int,
                  until: int) -> Counts:
    """Requests each version answered in the window (the denominator of 'share paired'), and the id
    stretch the challenger's answers lie in: two range reads of the (model, version, ts) index. The champion's
    is a bare count (SQLite steps the index without decoding its entries: 1,100,000 answers 0.15 -> 0.06 s)."""
    where = "FROM predictions WHERE model = ? AND version = ? AND ts >= ? AND ts < ?"
    challenged = reader.execute(f"SELECT count(*), min(id), max(id) {where}",
                                (model, challenger, since, until)).fetchone()
    return Counts(champion=reader.execute(f"SELECT count(*) {where}", (model, champion, since, until)).fetchone()[0],
                  challenger=challenged[0], first_id=challenged[1], last_id=challenged[2])


# Ingest appends in time order, so a window's answers are mostly one stretch of the table. When the
# challenger's answers lie within this many rows a pair (the champion's twins and other models' rows
# in between are read and skipped), pairing reads them along the table, a step to the next row,
# rather than through the (model, version, ts) index, a seek of the table a row: 1,000,000 pairs,
# 1.89 s -> 1.65 s of CPU for the join alone.
ALONG_IDS_ROWS_PER_PAIR = 4


def along_ids_pays(counts: Counts) -> bool:
    """Whether pairing should read the challenger's answers along the table (``pairs_select``)."""
    if counts.first_id is None or counts.last_id is None or not counts.challenger:
        return False
    return counts.last_id - counts.first_id + 1 <= ALONG_IDS_ROWS_PER_PAIR * counts.challenger


# --- Streamed comparison: one pass over the pairing, a few numbers per pair into numpy ------------
# Each pair comes back as (code, d, lat_a, lat_b[, err_a, err_b]): ``code`` packs the pair's flags
# (below), its confusion cell over a small set of classes and its timeline bucket. Pairing stays in
# SQL; per pair Python receives 4 to 6 numbers, never a log row. Counting those in numpy is cheaper
# than any further SQL pass, and the percentiles are numpy's, exactly.
OK_A, OK_B, AGREE, LABELLED, RIGHT_A, RIGHT_B = 1, 2, 4, 8, 16, 32
FLAG_SPAN = 64  # the flags take the code's low 6 bits
PROBE_ROWS = 4_096
PROBE_POINTS = 64
PROBE_CLASSES = 12  # more classes than this: the confusion matrix is grouped in SQL instead


def _class_code(d: Dialect, expr: str, classes: int) -> str:
    """0..classes-1 for a probed class, ``classes`` for NULL, ``classes`` + 1 for any other value
    (CASE ... WHEN compares like ``IS`` does for non-NULL values: 1 and 1.0 are one class)."""
    whens = " ".join(f"WHEN :class{i} THEN {i}" for i in range(classes))
    return f"(CASE {expr} {whens} ELSE {d.flag(f'{expr} IS NOT NULL')} + {classes} END)"


def stream_select(d: Dialect, join_key: str, *, regression: bool, classes: int | None, bucketed: bool,
                  along_ids: bool = False) -> str:
    """The pairing of ``pairs_select`` reduced to numbers. Parameters: the pairing's, :class0...
    (``classes`` of them, classification only), and :since, :bucket when ``bucketed``.

    With R = classes + 2, code = flags + FLAG_SPAN * (cell + R * R * bucket), cell = class code of
    the champion's answer * R + the challenger's (0 for regression, or without probed classes).
    Written against p and c directly: every operator here runs a million times a second.
    """
    label = "coalesce(p.label, c.label)"
    # status is 'ok' or 'error' (a CHECK constraint): ok is simply status = 'ok'.
    # A pair without ground truth settles the label's three flags with one test.
    flag, same = d.flag, d.same
    ok_a, ok_b = flag("p.status = 'ok'"), flag("c.status = 'ok'")
    flags = (f"{ok_a} + {ok_b} * {OK_B} "
             f"+ {flag(same('p.prediction', 'c.prediction'))} * {AGREE} "
             f"+ CASE WHEN p.label IS NULL AND c.label IS NULL THEN 0 ELSE {LABELLED} "
             f"+ {flag(same('p.prediction', label))} * {RIGHT_A} + {flag(same('c.prediction', label))} * {RIGHT_B} END")
    radix = (classes + 2) if classes else 1
    cell = (f"{_class_code(d, 'p.prediction', classes)} * {radix} + {_class_code(d, 'c.prediction', classes)}"
            if classes and not regression else "")
    bucket = f"{radix * radix} * ((c.ts - :since) / :bucket)" if bucketed else ""
    rest = " + ".join(part for part in (cell, bucket) if part)
    code = f"{flags} + {FLAG_SPAN} * ({rest})" if rest else flags
    value_a, value_b = _value(d, "p", regression), _value(d, "c", regression)
    output = f"{code}, {value_b} - {value_a}, p.latency_ms, c.latency_ms"
    if regression:
        both = f"p.status = 'ok' AND c.status = 'ok' AND {label} IS NOT NULL"
        truth, pred_a, pred_b = d.as_number(label), d.as_number("p.prediction"), d.as_number("c.prediction")
        output += (f", CASE WHEN {both} THEN {pred_a} - {truth} END, "
                   f"CASE WHEN {both} THEN {pred_b} - {truth} END")
    return pairs_select(d, join_key, regression=regression, output=output, along_ids=along_ids)


def probe_classes(reader: Reader, model: str, versions: tuple[str, str], since: int, until: int,
                  limit: int = PROBE_CLASSES) -> list | None:
    """The classes the two versions answer with, from short runs of answers at evenly spaced
    times across the window (index seeks, a few thousand rows); None when more than ``limit``.
    A class the probe missed costs only the exact SQL fallback for the confusion matrix."""
    seen: dict = {}
    sql = ("SELECT prediction FROM predictions WHERE model = ? AND version = ? AND ts >= ? AND ts < ? "
           "AND status = 'ok' ORDER BY ts LIMIT ?")
    step = max(1, (until - since) // PROBE_POINTS)
    for version in versions:
        for start in range(since, until, step):
            for (value,) in reader.execute(sql, (model, version, start, until, PROBE_ROWS // PROBE_POINTS)):
                if not _hashable(value):
                    return None
                if value is not None:
                    seen.setdefault(value, True)
            if len(seen) > limit:
                return None
    return list(seen)


def confusion_join_select(d: Dialect, join_key: str, limit: int) -> str:
    """The confusion matrix grouped in SQL over the pairing (many classes, or a class the probe missed)."""
    return (f"SELECT pred_a, pred_b, count(*) FROM ({pairs_select(d, join_key, regression=False)}) AS pairs "
            f"WHERE {_BOTH_OK} GROUP BY pred_a, pred_b ORDER BY count(*) DESC LIMIT {int(limit)}")


# --- Runs of the statements above (what app.compare.pairing calls) -------------------------------

# A long pairing read along the table is split in two halves of its id stretch, the upper half read by a
# helper process (app/store/pairing_half.py) on the other core while this process reads the lower. Of the
# 2.5 s a million pairs took on one core, the join is 0.7 s, the columns and flags 0.6 s and handing the
# rows to Python 0.8 s; the last two halve. A process, not a thread: two threads here hand the GIL back
# and forth a row at a time (measured 2.50 -> 2.85 s). The halves are joined in id order, so the array is
# the one a single read gives and every statistic is the same to the last digit.
SPLIT_MIN_PAIRS = 200_000  # below this the helper's start (~0.1 s) costs more than it saves
HALF_TIMEOUT_S = 300  # a helper longer than this is given up on (its half is then read here)


def pair_values(reader: Reader, join_key: str, params: dict, *, regression: bool, classes: int | None,
                bucketed: bool, along_ids: bool = False, pairs: int = 0) -> "np.ndarray":
    """The numbers of ``stream_select`` as one flat float64 array, a pair after another in the pairing's
    order; None arrives as NaN (the log never stores NaN). ``pairs``: the challenger's answers expected,
    which decides whether a SQLite store's read along ids (``along_ids``) is split over two processes."""
    import numpy as np

    sql = stream_select(reader.dialect, join_key, regression=regression, classes=classes, bucketed=bucketed,
                        along_ids=along_ids)
    path = reader.file_path() if along_ids and pairs >= SPLIT_MIN_PAIRS and (os.cpu_count() or 1) > 1 else None
    if path is None:
        return float_values(reader.stream(sql, params))
    middle = (params["lo"] + params["hi"]) // 2
    lower, upper = {**params, "hi": middle}, {**params, "lo": middle + 1}
    helper = _start_half(path, sql, upper)
    try:
        first = float_values(reader.stream(sql, lower))
        second = _finish_half(helper)
        if second is None:  # the helper failed: read its half here (the same numbers, one core)
            second = float_values(reader.stream(sql, upper))
    finally:
        if helper is not None and helper.poll() is None:
            helper.kill()
            helper.wait()
    return np.concatenate((first, second))


def float_values(rows: Iterator[tuple]) -> "np.ndarray":
    """Rows of numbers as one flat float64 array, None as NaN (this process's half and the helper's)."""
    import itertools

    import numpy as np

    # One C loop over the values (0.1 s less per million pairs than a record a row).
    return np.fromiter(itertools.chain.from_iterable(rows), dtype=np.float64, count=-1)


def _start_half(path: str, sql: str, params: dict) -> "subprocess.Popen[bytes] | None":
    """The helper process reading ``sql`` with ``params`` from the store at ``path`` (None: it could not start)."""
    import pickle
    import subprocess
    import sys

    import app

    # The helper imports modeldeck's package from where this process did (a checkout, an install).
    root = os.path.dirname(os.path.dirname(os.path.abspath(app.__file__)))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)}
    try:
        helper = subprocess.Popen([sys.executable, "-m", "app.store.pairing_half"], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    except OSError:
        return None
    try:
        assert helper.stdin is not None
        helper.stdin.write(pickle.dumps((path, sql, params)))
        helper.stdin.close()
    except OSError:  # it died at once: its exit says so below
        pass
    helper.stdin = None  # closed: communicate() must not flush it
    return helper


def _finish_half(helper: "subprocess.Popen[bytes] | None") -> "np.ndarray | None":
    """The helper's array, or None when it failed (the half is then read again here, so its reason is not kept)."""
    import subprocess

    import numpy as np

    if helper is None:
        return None
    try:
        out, _ = helper.communicate(timeout=HALF_TIMEOUT_S)
    except subprocess.TimeoutExpired:  # stuck (a lock, a stopped process): read the half here instead
        helper.kill()
        helper.communicate()
        return None
    if helper.returncode != 0 or len(out) % 8:
        return None
    return np.frombuffer(out, dtype=np.float64)


def confusion_of_pairing(reader: Reader, join_key: str, limit: int, params: dict) -> list[tuple[Any, Any, int]]:
    """(champion answer, challenger answer, count), commonest first, grouped over the pairing itself."""
    return reader.execute(confusion_join_select(reader.dialect, join_key, limit), params).fetchall()


def summary(reader: Reader, *, regression: bool, extra: list[str], params: dict) -> tuple:
    """The one row of ``summary_select`` over the TEMP pairs (SUMMARY_COLUMNS, then ``extra``)."""
    return reader.execute(summary_select(reader.dialect, regression=regression, extra=extra), params).fetchone()


def confusion_of_pairs(reader: Reader, limit: int) -> list[tuple[Any, Any, int]]:
    """(champion answer, challenger answer, count), commonest first, grouped over the TEMP pairs."""
    return reader.execute(confusion_select(reader.dialect, limit)).fetchall()


def timeline(reader: Reader, since: int, bucket: int, tol: float) -> dict[int, tuple]:
    """The rows of ``timeline_select`` by bucket index."""
    return {r[0]: r for r in reader.execute(timeline_select(reader.dialect),
                                            {"since": since, "bucket": bucket, "tol": tol})}
