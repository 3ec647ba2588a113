"""The SQL behind champion/challenger comparison (``app.compare.pairing``): pairing, aggregates,
exact percentiles.

A comparison reads inside ``with reading(store) as reader:`` (a memory-mapped read; SQLite errors
leave as the store's own exceptions) and hands ``reader`` to the functions here.

Pairing runs once per comparison. Normally it streams a few numbers a pair to numpy
(``stream_select``); for very large windows it fills a TEMP table of paired answers (one
row a request) and every statistic is an aggregate over that table, so that nothing is
loaded into Python but the aggregates. The SQL is plain and portable except
``json_extract`` (context join keys) and ``CREATE TEMP TABLE``.

A row's *value* is what the score statistics compare: the score, or for a regression
model without scores its numeric prediction.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from app.store.connection import store_error

if TYPE_CHECKING:
    from app.store import Store

# What ``reading()`` hands out: the store's connection, for this module's functions only.
Reader = sqlite3.Connection

PAIRS = "compare_pairs"
# Pairing looks each champion answer up by request_id: with random request ids (UUIDs) that is
# a random page of the index a pair. Read through a memory map, a page costs no read() call
# and no copy into SQLite's 2 MB page cache (1,000,000 pairs with random ids: 4.1 s -> 3.4 s).
MMAP_BYTES = 1 << 30
# A champion answer may be logged slightly before or after the window edge that its
# challenger twin fell in (shadow answers arrive milliseconds later): look this far out.
PAIR_SLACK_MS = 3_600_000

_OUTPUT = """c.ts AS ts, p.prediction AS pred_a, c.prediction AS pred_b,
       coalesce(p.label, c.label) AS label,
       p.latency_ms AS lat_a, c.latency_ms AS lat_b,
       p.status = 'error' AS err_a, c.status = 'error' AS err_b,
       p.status = 'ok' AND c.status = 'ok' AS ok,
       {value_b} - {value_a} AS d, abs({value_b} - {value_a}) AS ad,
       c.latency_ms - p.latency_ms AS ld"""


def _value(alias: str, regression: bool) -> str:
    if not regression:
        return f"{alias}.score"
    return (f"coalesce({alias}.score, CASE WHEN typeof({alias}.prediction) IN ('integer', 'real') "
            f"THEN {alias}.prediction END)")


def pairs_select(join_key: str, *, regression: bool, output: str | None = None) -> str:
    """One row per challenger answer that has a champion answer to the same request.

    Parameters: :model, :champion, :challenger, :since, :until (challenger ts), and :path
    (a JSON path) plus :slack for a context key. Join on request_id looks each champion
    answer up in the request_id index; a request is answered at most once per version (the
    unique (model, version, request_id) index). A context key can repeat: the first answer
    (lowest id) of each side counts, so a retried request pairs once. ``output``: another
    select list over p (champion) and c (challenger) instead of the pairs' columns.
    """
    if output is None:
        output = _OUTPUT.format(value_a=_value("p", regression), value_b=_value("c", regression))
    if join_key == "request_id":
        # The champion's answer is one seek of the unique (request_id, model, version) index, then its
        # table row (schema step 16 dropped the covering copy of that index: 77 B a row for 0.3 s
        # per million pairs).
        return f"""SELECT {output}
FROM predictions AS c
JOIN predictions AS p ON p.request_id = c.request_id AND p.model = c.model AND p.version = :champion
WHERE c.model = :model AND c.version = :challenger AND c.ts >= :since AND c.ts < :until"""
    key = "coalesce(json_extract(context, :path), request_id)"
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
def reading(store: "Store") -> Iterator[Reader]:
    """One comparison's reads: through a memory map (``memory_mapped``), SQLite errors as StoreError."""
    try:
        with memory_mapped(store.conn):
            yield store.conn
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


def json_path(join_key: str) -> str | None:
    """``context.trace_id`` -> ``$."trace_id"``; None for request_id."""
    if join_key == "request_id":
        return None
    name = join_key.split(".", 1)[1]
    return '$."' + name.replace('"', '') + '"'


def pair_params(model: str, champion: str, challenger: str, since: int, until: int, join_key: str) -> dict:
    params: dict[str, object] = {"model": model, "champion": champion, "challenger": challenger,
                                 "since": since, "until": until}
    path = json_path(join_key)
    if path is not None:
        params.update(path=path, slack=PAIR_SLACK_MS)
    return params


def build_pairs(conn: sqlite3.Connection, join_key: str, params: dict, *, regression: bool) -> None:
    """(Re)create the connection's TEMP pairs table for one comparison."""
    conn.execute(f"DROP TABLE IF EXISTS temp.{PAIRS}")
    conn.execute(f"CREATE TEMP TABLE {PAIRS} AS {pairs_select(join_key, regression=regression)}", params)


def drop_pairs(conn: sqlite3.Connection) -> None:
    conn.execute(f"DROP TABLE IF EXISTS temp.{PAIRS}")


# Both answers ok: the requests on which the two versions' answers can be compared at all.
_BOTH_OK = "ok"  # both answers ok (a column of the pairs)
_LABELLED = f"(label IS NOT NULL AND {_BOTH_OK})"

SUMMARY_COLUMNS = ("paired", "both_ok", "agree", "n_values", "within", "mean_diff", "mean_abs_diff",
                   "errors_a", "errors_b", "n_lat_a", "n_lat_b", "n_lat_diff", "labels",
                   "q_a", "q_b", "sq_a", "sq_b")


def summary_select(*, regression: bool, extra: list[str] = ()) -> str:
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
        quality = f"sum({_LABELLED} AND pred_a = label),\n    sum({_LABELLED} AND pred_b = label),\n    0, 0"
    return f"""SELECT count(*),
    sum({_BOTH_OK}),
    sum({_BOTH_OK} AND pred_a IS pred_b),
    count(d),
    sum(ad <= :tol),
    avg(d),
    avg(ad),
    sum(err_a), sum(err_b),
    count(lat_a), count(lat_b), count(ld),
    sum({_LABELLED}),
    {quality}{more}
FROM temp.{PAIRS}"""


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


def plan_bands(conn: sqlite3.Connection, wanted: list[tuple[str, float]]) -> list[Band]:
    rows = conn.execute(f"SELECT max(rowid) FROM temp.{PAIRS}").fetchone()[0] or 0
    names = sorted({name for name, _ in wanted})
    step = max(1, rows // SAMPLE_SIZE)
    exprs = ", ".join(PERCENTILE_EXPRS[name][0] for name in names)
    # Every step-th row by rowid lookups (pairs are in challenger time order): no full scan.
    sample = conn.execute(f"WITH RECURSIVE pick(r) AS (SELECT ? UNION ALL SELECT r + ? FROM pick WHERE r + ? <= ?) "
                          f"SELECT {exprs} FROM pick JOIN temp.{PAIRS} ON temp.{PAIRS}.rowid = pick.r",
                          (step, step, step, rows)).fetchall()
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


def band_counts(bands: list[Band]) -> tuple[list[str], dict[str, float]]:
    """A summary column per band (values below lo) and the bands' parameters."""
    columns, params = [], {}
    for i, band in enumerate(bands):
        expr = PERCENTILE_EXPRS[band.name][0]
        if band.lo is not None:
            params[f"lo{i}"] = band.lo
        if band.hi is not None:
            params[f"hi{i}"] = band.hi
        columns.append(f"sum({expr} < :lo{i})" if band.lo is not None else "0")
    return columns, params


def _inside(expr: str, band: Band, i: int) -> str:
    parts = [f"{expr} IS NOT NULL"]
    if band.lo is not None:
        parts.append(f"{expr} >= :lo{i}")
    if band.hi is not None:
        parts.append(f"{expr} <= :hi{i}")
    return "(" + " AND ".join(parts) + ")"


def resolve_bands(conn: sqlite3.Connection, bands: list[Band], below: list[int], totals: dict[str, int],
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
    rows = conn.execute(f"SELECT {', '.join(exprs)} FROM temp.{PAIRS} WHERE {where}", params).fetchall()
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
            results[(band.name, band.q)] = percentile(conn, PERCENTILE_EXPRS[band.name][0], band.q, n)
    return results


def percentile(conn: sqlite3.Connection, expr: str, q: float, n: int) -> float | None:
    """Exact percentile with linear interpolation (numpy's default) of ``expr`` over the pairs,
    by sorting (the fallback of ``resolve_bands``).

    ``n`` is how many non-null values there are. Only the two neighbouring order statistics
    are read; sorting from the nearer end keeps SQLite's bounded sorter small.
    """
    if n <= 0:
        return None
    position, low, high = _ranks(n, q)
    if low >= n / 2:
        rows = conn.execute(f"SELECT v FROM (SELECT {expr} AS v FROM temp.{PAIRS}) WHERE v IS NOT NULL "
                            f"ORDER BY v DESC LIMIT 2 OFFSET ?", (n - 1 - high,)).fetchall()
        values = [r[0] for r in reversed(rows)]
        if high == low:
            values = values[-1:] * 2
    else:
        rows = conn.execute(f"SELECT v FROM (SELECT {expr} AS v FROM temp.{PAIRS}) WHERE v IS NOT NULL "
                            f"ORDER BY v LIMIT 2 OFFSET ?", (low,)).fetchall()
        values = [r[0] for r in rows]
        if high == low:
            values = values[:1] * 2
    if not values:
        return None
    a, b = values[0], values[-1]
    return float(a + (b - a) * (position - low))


def sample_classes(conn: sqlite3.Connection, limit: int) -> list | None:
    """The classes both versions predict, judging by a sample of the pairs; None when more than
    ``limit`` (the confusion matrix is then grouped in full)."""
    rows = conn.execute(f"SELECT max(rowid) FROM temp.{PAIRS}").fetchone()[0] or 0
    step = max(1, rows // SAMPLE_SIZE)
    seen: dict = {}
    for a, b in conn.execute(
            f"WITH RECURSIVE pick(r) AS (SELECT ? UNION ALL SELECT r + ? FROM pick WHERE r + ? <= ?) "
            f"SELECT pred_a, pred_b FROM pick JOIN temp.{PAIRS} ON temp.{PAIRS}.rowid = pick.r WHERE ok",
            (step, step, step, rows)):
        seen[a] = seen[b] = True
        if len(seen) > limit:
            return None
    return list(seen)


def confusion_cells(classes: list) -> tuple[list[str], dict[str, object], list[tuple]]:
    """Summary columns counting each (champion, challenger) cell of a small class set: one pass
    instead of a sort of every pair. The caller checks that the cells add up to every pair."""
    columns, params, cells = [], {}, []
    for i, (a, b) in enumerate((a, b) for a in classes for b in classes):
        params[f"ca{i}"], params[f"cb{i}"] = a, b
        columns.append(f"sum(ok AND pred_a IS :ca{i} AND pred_b IS :cb{i})")
        cells.append((a, b))
    return columns, params, cells


def timeline_select() -> str:
    """Agreement and the mean absolute value difference per time bucket. Parameters: :since, :bucket."""
    return f"""SELECT (ts - :since) / :bucket AS b, count(*), sum({_BOTH_OK}),
    sum({_BOTH_OK} AND pred_a IS pred_b), avg(ad), sum(ad <= :tol),
    count(d)
FROM temp.{PAIRS} GROUP BY b ORDER BY b"""


def confusion_select(limit: int) -> str:
    return (f"SELECT pred_a, pred_b, count(*) FROM temp.{PAIRS} WHERE {_BOTH_OK} "
            f"GROUP BY pred_a, pred_b ORDER BY count(*) DESC LIMIT {int(limit)}")


@dataclass(frozen=True)
class Counts:
    champion: int
    challenger: int


def window_counts(conn: sqlite3.Connection, model: str, champion: str, challenger: str, since: int,
                  until: int) -> Counts:
    """Requests each version answered in the window (the denominator of 'share paired'):
    two range counts on the (model, version, ts) index."""
    sql = "SELECT count(*) FROM predictions WHERE model = ? AND version = ? AND ts >= ? AND ts < ?"
    return Counts(champion=conn.execute(sql, (model, champion, since, until)).fetchone()[0],
                  challenger=conn.execute(sql, (model, challenger, since, until)).fetchone()[0])


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


def _class_code(expr: str, classes: int) -> str:
    """0..classes-1 for a probed class, ``classes`` for NULL, ``classes`` + 1 for any other value
    (CASE ... WHEN compares like ``IS`` does for non-NULL values: 1 and 1.0 are one class)."""
    whens = " ".join(f"WHEN :class{i} THEN {i}" for i in range(classes))
    return f"(CASE {expr} {whens} ELSE ({expr} IS NOT NULL) + {classes} END)"


def stream_select(join_key: str, *, regression: bool, classes: int | None, bucketed: bool) -> str:
    """The pairing of ``pairs_select`` reduced to numbers. Parameters: the pairing's, :class0...
    (``classes`` of them, classification only), and :since, :bucket when ``bucketed``.

    With R = classes + 2, code = flags + FLAG_SPAN * (cell + R * R * bucket), cell = class code of
    the champion's answer * R + the challenger's (0 for regression, or without probed classes).
    Written against p and c directly: every operator here runs a million times a second.
    """
    label = "coalesce(p.label, c.label)"
    # status is 'ok' or 'error' (a CHECK constraint): ok is simply status = 'ok'.
    # A pair without ground truth settles the label's three flags with one test.
    flags = (f"(p.status = 'ok') + (c.status = 'ok') * {OK_B} + (p.prediction IS c.prediction) * {AGREE} "
             f"+ CASE WHEN p.label IS NULL AND c.label IS NULL THEN 0 ELSE {LABELLED} "
             f"+ (p.prediction IS {label}) * {RIGHT_A} + (c.prediction IS {label}) * {RIGHT_B} END")
    radix = (classes + 2) if classes else 1
    cell = (f"{_class_code('p.prediction', classes)} * {radix} + {_class_code('c.prediction', classes)}"
            if classes and not regression else "")
    bucket = f"{radix * radix} * ((c.ts - :since) / :bucket)" if bucketed else ""
    rest = " + ".join(part for part in (cell, bucket) if part)
    code = f"{flags} + {FLAG_SPAN} * ({rest})" if rest else flags
    value_a, value_b = _value("p", regression), _value("c", regression)
    output = f"{code}, {value_b} - {value_a}, p.latency_ms, c.latency_ms"
    if regression:
        both = f"p.status = 'ok' AND c.status = 'ok' AND {label} IS NOT NULL"
        output += (f", CASE WHEN {both} THEN p.prediction - {label} END, "
                   f"CASE WHEN {both} THEN c.prediction - {label} END")
    return pairs_select(join_key, regression=regression, output=output)


def probe_classes(conn: sqlite3.Connection, model: str, versions: tuple[str, str], since: int, until: int,
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
            for (value,) in conn.execute(sql, (model, version, start, until, PROBE_ROWS // PROBE_POINTS)):
                if value is not None:
                    seen.setdefault(value, True)
            if len(seen) > limit:
                return None
    return list(seen)


def confusion_join_select(join_key: str, limit: int) -> str:
    """The confusion matrix grouped in SQL over the pairing (many classes, or a class the probe missed)."""
    return (f"SELECT pred_a, pred_b, count(*) FROM ({pairs_select(join_key, regression=False)}) WHERE ok "
            f"GROUP BY pred_a, pred_b ORDER BY count(*) DESC LIMIT {int(limit)}")


# --- Runs of the statements above (what app.compare.pairing calls) -------------------------------

def stream_pairs(reader: Reader, join_key: str, params: dict, *, regression: bool, classes: int | None,
                 bucketed: bool) -> Iterator[tuple]:
    """The rows of ``stream_select``, as the cursor yields them (numpy reads them straight off it)."""
    return reader.execute(stream_select(join_key, regression=regression, classes=classes, bucketed=bucketed),
                          params)


def confusion_of_pairing(reader: Reader, join_key: str, limit: int, params: dict) -> list[tuple[Any, Any, int]]:
    """(champion answer, challenger answer, count), commonest first, grouped over the pairing itself."""
    return reader.execute(confusion_join_select(join_key, limit), params).fetchall()


def summary(reader: Reader, *, regression: bool, extra: list[str], params: dict) -> tuple:
    """The one row of ``summary_select`` over the TEMP pairs (SUMMARY_COLUMNS, then ``extra``)."""
    return reader.execute(summary_select(regression=regression, extra=extra), params).fetchone()


def confusion_of_pairs(reader: Reader, limit: int) -> list[tuple[Any, Any, int]]:
    """(champion answer, challenger answer, count), commonest first, grouped over the TEMP pairs."""
    return reader.execute(confusion_select(limit)).fetchall()


def timeline(reader: Reader, since: int, bucket: int, tol: float) -> dict[int, tuple]:
    """The rows of ``timeline_select`` by bucket index."""
    return {r[0]: r for r in reader.execute(timeline_select(), {"since": since, "bucket": bucket, "tol": tol})}
