"""Champion vs challenger (or shadow) on the same requests: the comparison the Compare tab,
``modeldeck gate`` and the promotion gates read.

``compare()`` pairs the two versions' answers in SQL (``app.store.compare``) for one time
window and returns a ``Comparison``: paired count and share, agreement (labels, or scores
within a tolerance), score difference, a confusion matrix, latency and error rates of each,
and where ground truth arrived, accuracy (or MAE) of each with a 95% confidence interval.
Takes an open store of either backend (one per thread) and writes nothing to it.

Up to ``STREAM_LIMIT`` pairs, one SQL pass returns four numbers a pair (packed flags, value
difference, the two latencies) and numpy counts everything, percentiles exactly, from them.
At 1,000,000 pairs (CPU seconds, bench/compare.py's store, issue 18): the join with both answers'
table rows ~1.0 (the champion's row is a seek since schema step 16 dropped the covering request
index), the per-pair expressions ~0.25, handing four numbers a pair to numpy ~0.8, the window counts
0.2, numpy ~0.15. A long window's read is split over two processes (app.store.compare.pair_values:
1M pairs 2.46 -> 1.64 s wall, the same numbers); two threads of this process would not pay: SQLite lets
go of the GIL for every row it steps and the threads hand it back and forth (CPU 2.5 -> 4.4 s). Beyond ``STREAM_LIMIT``, the statistics run in SQL over a TEMP
table of the pairs (bounded memory, several passes).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from app.config.settings import CompareConfig
from app.store import compare as q

if TYPE_CHECKING:
    from app.store.backend import StoreBackend

Z95 = 1.959963984540054
CONFUSION_LIMIT = 400  # cells; a classifier with more classes shows the commonest pairs
SMALL_CLASSES = 3  # up to this many classes the confusion matrix is counted in the summary pass
WANTED_PERCENTILES = [("lat_a", 50), ("lat_a", 95), ("lat_b", 50), ("lat_b", 95), ("lat_diff", 50),
                      ("lat_diff", 95), ("abs_diff", 95)]


class Interval(BaseModel):
    value: float
    low: float
    high: float


class Side(BaseModel):
    """One version's numbers over the window (latency and errors over the paired requests)."""

    version: str
    requests: int = Field(description="Answers of this version in the window, paired or not")
    errors: int = Field(description="Errors among the paired requests")
    error_rate: float | None
    p50_latency_ms: float | None
    p95_latency_ms: float | None
    quality: Interval | None = Field(default=None, description="Accuracy (classification) or MAE (regression) "
                                     "on labelled paired requests, with its 95% interval")


class Cell(BaseModel):
    champion: Any
    challenger: Any
    count: int


class Bucket(BaseModel):
    start: int
    paired: int
    agreement: float | None
    mean_abs_diff: float | None


class Comparison(BaseModel):
    model: str
    task: str
    since: int
    until: int
    join_key: str
    champion: Side
    challenger: Side
    paired: int
    share_paired: float | None = Field(description="Paired requests / champion requests in the window")
    agreement_kind: Literal["label", "value"]
    agreement: float | None = Field(description="Labels agree (classification), or values within tolerance")
    label_agreement: float | None
    tolerance: float
    within_tolerance: float | None
    mean_diff: float | None = Field(description="Mean of challenger - champion value (score, or prediction)")
    mean_abs_diff: float | None
    p95_abs_diff: float | None
    latency_diff_p50_ms: float | None = Field(description="Paired challenger - champion latency")
    latency_diff_p95_ms: float | None
    quality_metric: Literal["accuracy", "mae"]
    labels: int = Field(description="Paired requests with ground truth, both answers ok")
    confusion: list[Cell] = Field(default_factory=list)
    timeline: list[Bucket] = Field(default_factory=list)

    def disagreement_query(self) -> str:
        """The logs screen's query listing the challenger's answers that differ from the champion's."""
        return disagreement_search(self.model, self.champion.version, self.challenger.version, self.since,
                                   self.until, join_key=self.join_key)


def wilson(hits: int, n: int) -> Interval | None:
    """Accuracy with Wilson's score interval: the one Quality and held-out evaluation use
    (app.quality.stats.wilson), as this module's Interval."""
    from app.quality import stats

    found = stats.wilson(hits, n)
    return None if found is None else Interval(value=found.value, low=found.low, high=found.high)


def mean_interval(total: float, squares: float, n: int, z: float = Z95) -> Interval | None:
    """Mean with a normal interval from the sum and sum of squares (sample std, ddof 1)."""
    if n <= 0:
        return None
    mean = total / n
    if n == 1:
        return Interval(value=mean, low=mean, high=mean)
    variance = max(0.0, (squares - n * mean * mean) / (n - 1))
    half = z * math.sqrt(variance / n)
    return Interval(value=mean, low=mean - half, high=mean + half)


def _ratio(a: float | int | None, b: float | int | None) -> float | None:
    return a / b if a is not None and b else None


# Up to this many challenger answers in the window, the pairs' numbers are streamed into numpy
# (32 bytes a pair, ~115 MB peak per million pairs with the temporaries); beyond it the
# comparison runs wholly in SQL over a TEMP table (bounded memory, a few passes: slower).
STREAM_LIMIT = 2_000_000


def compare(store: "StoreBackend", model: str, champion: str, challenger: str, since: int, until: int, *,
            task: str = "classification", config: CompareConfig | None = None,
            buckets: int = 0) -> Comparison:
    """Compare ``challenger`` against ``champion`` on the requests both answered in [since, until).

    ``buckets`` > 0 also fills the timeline (agreement and mean |difference| per bucket).
    """
    config = config or CompareConfig()
    regression = task == "regression"
    with q.reading(store) as conn:
        counts = q.window_counts(conn, model, champion, challenger, since, until)
        if counts.challenger <= STREAM_LIMIT:
            part = _streamed(conn, model, champion, challenger, since, until, counts, config, regression, buckets)
        else:
            part = _in_sql(conn, model, champion, challenger, since, until, config, regression, buckets)
    s, pct, confusion, timeline = part
    paired = int(s["paired"])
    labels = int(s["labels"])
    if regression:
        quality_a = mean_interval(s["q_a"], s["sq_a"], labels)
        quality_b = mean_interval(s["q_b"], s["sq_b"], labels)
    else:
        quality_a, quality_b = wilson(int(s["q_a"]), labels), wilson(int(s["q_b"]), labels)
    side_a = Side(version=champion, requests=counts.champion, errors=int(s["errors_a"]),
                  error_rate=_ratio(s["errors_a"], paired), p50_latency_ms=pct[("lat_a", 50)],
                  p95_latency_ms=pct[("lat_a", 95)], quality=quality_a)
    side_b = Side(version=challenger, requests=counts.challenger, errors=int(s["errors_b"]),
                  error_rate=_ratio(s["errors_b"], paired), p50_latency_ms=pct[("lat_b", 50)],
                  p95_latency_ms=pct[("lat_b", 95)], quality=quality_b)
    label_agreement = None if regression else _ratio(s["agree"], s["both_ok"])
    within = _ratio(s["within"], s["n_values"])
    return Comparison(
        model=model, task=task, since=since, until=until, join_key=config.join_key,
        champion=side_a, challenger=side_b, paired=paired, share_paired=_ratio(paired, counts.champion),
        agreement_kind="value" if regression else "label",
        agreement=within if regression else label_agreement, label_agreement=label_agreement,
        tolerance=config.score_tolerance, within_tolerance=within, mean_diff=s["mean_diff"],
        mean_abs_diff=s["mean_abs_diff"], p95_abs_diff=pct[("abs_diff", 95)],
        latency_diff_p50_ms=pct[("lat_diff", 50)], latency_diff_p95_ms=pct[("lat_diff", 95)],
        quality_metric="mae" if regression else "accuracy", labels=labels, confusion=confusion,
        timeline=timeline,
    )


def _bucket_size(since: int, until: int, buckets: int) -> int:
    return max(1, -(-(until - since) // buckets))


def _streamed(conn: q.Reader, model: str, champion: str, challenger: str, since: int, until: int,
              counts: q.Counts, config: CompareConfig, regression: bool, buckets: int):
    """One pass over the pairing; every statistic counted in numpy from a few numbers a pair."""
    import numpy as np

    params = q.pair_params(conn.dialect, model, champion, challenger, since, until, config.join_key)
    classes = None
    if not regression:
        classes = q.probe_classes(conn, model, (champion, challenger), since, until)
        params.update({f"class{i}": conn.param(value) for i, value in enumerate(classes or ())})
    size = _bucket_size(since, until, buckets) if buckets else 1
    if buckets:
        params.update(bucket=size)
    along_ids = config.join_key == "request_id" and q.along_ids_pays(counts)
    if along_ids:
        params.update(lo=counts.first_id, hi=counts.last_id)
    width = 6 if regression else 4  # code, d, lat_a, lat_b[, e_a, e_b]
    # One flat float array (split over two processes for a long window: app.store.compare.pair_values).
    # None arrives as NaN (the log never stores NaN, so NaN means "no value"); the code, an integer
    # below 2**53, is exact.
    pairs = q.pair_values(conn, config.join_key, params, regression=regression,
                          classes=len(classes) if classes else None, bucketed=bool(buckets), along_ids=along_ids,
                          pairs=counts.challenger).reshape(-1, width)
    code = pairs[:, 0].astype(np.int64)
    radix = len(classes) + 2 if classes else 1
    n_cells, n_buckets = radix * radix, max(1, buckets)
    # Every count is a sum over one tally of the packed codes, indexed [bucket, cell, flags]
    # (a code is flags + FLAG_SPAN * (cell + cells * bucket), and c.ts < until keeps the bucket
    # below ``buckets``): one bincount instead of a mask and a sum a statistic.
    tally = np.bincount(code, minlength=q.FLAG_SPAN * n_cells * n_buckets).reshape(n_buckets, n_cells, q.FLAG_SPAN)
    flag = np.arange(q.FLAG_SPAN)
    ok_a, ok_b = (flag & q.OK_A) > 0, (flag & q.OK_B) > 0
    both_ok = ok_a & ok_b
    agree = both_ok & ((flag & q.AGREE) > 0)
    labelled = both_ok & ((flag & q.LABELLED) > 0)
    by_flags = tally.sum(axis=(0, 1))

    def flagged(mask) -> int:
        return int(by_flags[mask].sum())

    d = pairs[:, 1]
    has_d = ~np.isnan(d)
    values = d[has_d]
    abs_values = np.abs(values)
    n_values = len(values)
    s: dict = {
        "paired": len(pairs), "both_ok": flagged(both_ok), "agree": flagged(agree),
        "n_values": n_values, "within": int(np.count_nonzero(abs_values <= config.score_tolerance)),
        "mean_diff": float(values.mean()) if n_values else None,
        "mean_abs_diff": float(abs_values.mean()) if n_values else None,
        "errors_a": flagged(~ok_a), "errors_b": flagged(~ok_b), "labels": flagged(labelled),
    }
    if regression:
        for side in ("a", "b"):
            e = pairs[:, 4 if side == "a" else 5]
            e = e[~np.isnan(e)]
            s[f"q_{side}"], s[f"sq_{side}"] = float(np.abs(e).sum()), float((e * e).sum())
    else:
        s["q_a"] = flagged(labelled & ((flag & q.RIGHT_A) > 0))
        s["q_b"] = flagged(labelled & ((flag & q.RIGHT_B) > 0))
        s["sq_a"] = s["sq_b"] = 0

    confusion: list[Cell] = []
    if not regression:
        cell_counts = tally[:, :, both_ok].sum(axis=(0, 2))
        other = radix - 1  # class code of a value the probe did not see
        names = list(classes or ()) + [None]
        if classes and not any(cell_counts[i * radix + other] or cell_counts[other * radix + i] for i in range(radix)):
            confusion = sorted((Cell(champion=names[i // radix], challenger=names[i % radix], count=int(n))
                                for i, n in enumerate(cell_counts) if n), key=lambda cell: -cell.count)
        else:
            confusion = [Cell(champion=a, challenger=b, count=n) for a, b, n in
                         q.confusion_of_pairing(conn, config.join_key, CONFUSION_LIMIT, params)]
    timeline: list[Bucket] = []
    if buckets:
        paired_n = tally.sum(axis=(1, 2))
        ok_n = tally[:, :, both_ok].sum(axis=(1, 2))
        agree_n = tally[:, :, agree].sum(axis=(1, 2))
        bucket = (code // (q.FLAG_SPAN * n_cells))[has_d]
        values_n = np.bincount(bucket, minlength=buckets)
        within_n = np.bincount(bucket, weights=abs_values <= config.score_tolerance, minlength=buckets)
        ad_sum = np.bincount(bucket, weights=abs_values, minlength=buckets)
        for index in range(buckets):
            start = since + index * size
            if not paired_n[index]:
                timeline.append(Bucket(start=start, paired=0, agreement=None, mean_abs_diff=None))
                continue
            agreement = _ratio(within_n[index], values_n[index]) if regression else _ratio(agree_n[index], ok_n[index])
            timeline.append(Bucket(start=start, paired=int(paired_n[index]), agreement=agreement,
                                   mean_abs_diff=float(ad_sum[index] / values_n[index]) if values_n[index] else None))

    # Percentiles last: they partition their (own) arrays in place.
    lat_a, lat_b = pairs[:, 2], pairs[:, 3]
    pct: dict[tuple[str, float], float | None] = {}
    for name, column, wanted in (("lat_a", lat_a, (50, 95)), ("lat_b", lat_b, (50, 95)),
                                 ("lat_diff", lat_b - lat_a, (50, 95)), ("abs_diff", abs_values, (95,))):
        column = column[~np.isnan(column)] if name != "abs_diff" else column  # NaN: a missing value
        found = np.percentile(column, wanted, overwrite_input=True) if len(column) else [None] * len(wanted)
        pct.update({(name, w): (float(v) if v is not None else None) for w, v in zip(wanted, found)})
    return s, pct, confusion, timeline


def _in_sql(conn: q.Reader, model: str, champion: str, challenger: str, since: int, until: int,
            config: CompareConfig, regression: bool, buckets: int):
    """The same statistics wholly in SQL over a TEMP table of the pairs (huge windows: bounded memory)."""
    params = q.pair_params(conn.dialect, model, champion, challenger, since, until, config.join_key)
    with q.pairs_table(conn, config.join_key, params, regression=regression):
        bands = q.plan_bands(conn, WANTED_PERCENTILES)
        extra, band_params = q.band_counts(conn.dialect, bands)
        classes = None if regression else q.sample_classes(conn, SMALL_CLASSES)
        cell_columns, cell_params, cells = q.confusion_cells(conn, classes) if classes else ([], {}, [])
        row = q.summary(conn, regression=regression, extra=extra + cell_columns,
                        params={"tol": config.score_tolerance, **band_params, **cell_params})
        s = {name: (value if value is not None else 0) for name, value in zip(q.SUMMARY_COLUMNS, row)}
        s["mean_diff"] = row[q.SUMMARY_COLUMNS.index("mean_diff")]
        s["mean_abs_diff"] = row[q.SUMMARY_COLUMNS.index("mean_abs_diff")]
        width = len(q.SUMMARY_COLUMNS)
        below = [int(row[width + i] or 0) for i in range(len(bands))]
        totals = {name: int(s[column]) for name, (_, column) in q.PERCENTILE_EXPRS.items()}
        pct = q.resolve_bands(conn, bands, below, totals, band_params)
        counted = [int(n or 0) for n in row[width + len(bands):]]
        if regression:
            confusion = []
        elif cells and sum(counted) == int(s["both_ok"]):  # the sample saw every class
            confusion = sorted((Cell(champion=a, challenger=b, count=n) for (a, b), n in zip(cells, counted) if n),
                               key=lambda cell: -cell.count)
        else:
            confusion = [Cell(champion=a, challenger=b, count=n)
                         for a, b, n in q.confusion_of_pairs(conn, CONFUSION_LIMIT)]
        timeline = _timeline(conn, since, until, buckets, config.score_tolerance, regression) if buckets else []
        return s, pct, confusion, timeline


def _timeline(conn: q.Reader, since: int, until: int, buckets: int, tol: float,
              regression: bool) -> list[Bucket]:
    size = _bucket_size(since, until, buckets)
    rows = q.timeline(conn, since, size, tol)
    out = []
    for index in range(buckets):
        r = rows.get(index)
        if r is None:
            out.append(Bucket(start=since + index * size, paired=0, agreement=None, mean_abs_diff=None))
            continue
        agreement = _ratio(r[5], r[6]) if regression else _ratio(r[3], r[2])
        out.append(Bucket(start=since + index * size, paired=r[1], agreement=agreement, mean_abs_diff=r[4]))
    return out


def default_pair(store: Any, model: str) -> tuple[str | None, str | None]:
    """(champion, challenger) as the store knows them: the champion, and the newest challenger,
    else the newest shadow version."""
    versions = store.registry.versions(model)  # newest first
    champion = next((v.version for v in versions if v.stage.value == "champion"), None)
    for stage in ("challenger", "shadow"):
        found = next((v.version for v in versions if v.stage.value == stage), None)
        if found is not None:
            return champion, found
    return champion, None


def disagreement_search(model: str, champion: str, challenger: str, since: int, until: int, *,
                        join_key: str = "request_id") -> str:
    """The prediction-log query (app/search/language.py) listing the challenger's answers in the
    window that differ from the champion's answer to the same request (``differs:``)."""
    from app.timeutil import ms_to_iso

    twin = champion if join_key == "request_id" else f"{champion}@{join_key.split('.', 1)[1]}"
    return (f"model:{_quote(model)} version:{_quote(challenger)} differs:{_quote(twin)} "
            f"since:{ms_to_iso(since)} until:{ms_to_iso(until)}")


def _quote(value: str) -> str:
    # The one quoting of the query language: control characters from data become \xNN escapes.
    from app.search.complete import quote_value

    if value and all(ch.isalnum() or ch in "-_.@" for ch in value):
        return value
    return quote_value(value) if value else '""'
