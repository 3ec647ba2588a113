"""Drift statistics: per feature, the method Evidently would choose by default, computed as Evidently computes it.

See ARCHITECTURE.md (Drift methods). In short, with the reference's row count and the number of distinct values
of both sides together (missing and infinite values dropped):

- reference > 1000 rows: numeric with > 5 values -> Wasserstein distance / reference std (ddof 0, floor 0.001),
  otherwise Jensen-Shannon distance; both drift at >= 0.1.
- reference <= 1000 rows: numeric with > 5 values -> KS p-value (drift at p <= 0.05); otherwise more than
  2 values -> chi-squared p-value, 2 or fewer -> pooled two-proportion Z-test p-value (drift at p < 0.05).

PSI on reference deciles is reported beside it, whatever the method. Numeric samples are kept sorted so that
the distinct count, the Wasserstein integral and the decile edges all reuse one sort.

numpy is imported at module level (this module is only imported where drift is computed); scipy only where a
p-value needs it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

import numpy as np

# The verdict rules live without numpy in app.drift.verdicts (readers of stored windows use them); they
# are re-exported here for the code that computes drift.
from app.drift.verdicts import (  # noqa: F401
    CHI_SQUARED,
    DATASET_DRIFT_SHARE,
    DEFAULT_MIN_ROWS,
    DEFAULT_THRESHOLDS,
    JENSEN_SHANNON,
    KS,
    P_VALUE_METHODS,
    PREDICTION_FEATURE,
    PSI_MAJOR,
    PSI_MODERATE,
    WASSERSTEIN,
    Z_TEST,
    DatasetDrift,
    dataset_drift,
    display_name,
    drift_ratio,
    format_stat,
    is_drifted,
    psi_level,
    window_rows,
)

if TYPE_CHECKING:
    from app.models import FeatureBaseline

STD_FLOOR = 0.001
PSI_FLOOR = 0.0001

SMALL_REFERENCE_ROWS = 1000  # at most this many reference rows: hypothesis tests, else distances
FEW_VALUES = 5  # numeric features with at most this many distinct values are treated like categories
BINNING_MIN_VALUES = 20  # Jensen-Shannon bins a numeric feature with more distinct reference values than this


def category_key(value: Any) -> str | None:
    """The category a raw value falls in, spelled as app/drift/baselines.py stores it (text; JSON's true/false);
    None for missing."""
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, float) and math.isnan(value):
        return None
    return str(value)


@dataclass(frozen=True)
class Sample:
    """One side of a comparison, missing values already dropped.

    Numeric: ``values`` sorted ascending (finite only). Categorical: ``counts`` per category.
    ``rows`` is the population size used to choose the method: a baseline keeps at most 100,000 values but
    remembers how many rows it was built from.
    """

    kind: str
    values: np.ndarray | None = None
    counts: Mapping[str, int] | None = None
    rows: int | None = None
    # What depends on this side alone (its std, distinct count, decile edges), computed once: a reference
    # is compared with hundreds of windows when drift is computed from scratch.
    memo: dict = field(default_factory=dict, compare=False, repr=False)

    def remember(self, key: str, make: Any) -> Any:
        if key not in self.memo:
            self.memo[key] = make()
        return self.memo[key]

    @property
    def n(self) -> int:
        if self.values is not None:
            return int(self.values.size)
        return int(sum(self.counts.values())) if self.counts else 0

    @property
    def population(self) -> int:
        return self.rows if self.rows is not None else self.n

    @classmethod
    def numeric(cls, values: Iterable[Any] | np.ndarray, *, rows: int | None = None) -> "Sample":
        array = _as_float_array(values)
        array = array[np.isfinite(array)]
        array.sort()
        return cls(kind="numeric", values=array, rows=rows)

    @classmethod
    def categorical(cls, values: Iterable[Any]) -> "Sample":
        if isinstance(values, np.ndarray) and values.dtype.kind in "UiuS":
            uniques, counts_ = np.unique(values, return_counts=True)  # text/integer arrays: no Python loop
            return cls(kind="categorical", counts={category_key(u): int(c) for u, c in
                                                   zip(uniques.tolist(), counts_.tolist())})
        counts: dict[str, int] = {}
        for value in values:
            key = category_key(value)
            if key is not None:
                counts[key] = counts.get(key, 0) + 1
        return cls(kind="categorical", counts=counts)

    @classmethod
    def from_counts(cls, counts: Mapping[str, int], *, rows: int | None = None) -> "Sample":
        return cls(kind="categorical", counts={k: int(v) for k, v in counts.items() if v}, rows=rows)

    @classmethod
    def of_kind(cls, kind: str, values: Iterable[Any] | np.ndarray) -> "Sample":
        return cls.numeric(values) if kind == "numeric" else cls.categorical(values)

    @classmethod
    def from_baseline(cls, baseline: "FeatureBaseline") -> "Sample | None":
        """The reference side from a stored baseline; None when it holds nothing to compare with."""
        if baseline.kind == "numeric":
            if not baseline.sample:
                return None
            sample = cls.numeric(np.asarray(baseline.sample, dtype=np.float64))
            return Sample(kind="numeric", values=sample.values, rows=max(baseline.n, sample.n))
        if not baseline.categories:
            return None
        return cls.from_counts(baseline.categories, rows=baseline.n)

    def value_counts(self) -> dict[Any, int]:
        """Counts per distinct value (numeric values stay floats)."""
        if self.counts is not None:
            return dict(self.counts)
        assert self.values is not None
        uniques, counts = np.unique(self.values, return_counts=True)
        return dict(zip(uniques.tolist(), counts.tolist()))


def _as_float_array(values: Iterable[Any] | np.ndarray) -> np.ndarray:
    if isinstance(values, np.ndarray) and values.dtype.kind in "fiub":
        return values.astype(np.float64, copy=True)
    if isinstance(values, (list, tuple)):
        try:
            return np.array(values, dtype=np.float64)  # None becomes NaN; the usual case, no Python loop
        except (TypeError, ValueError):
            pass
    out = []
    for value in values:
        if value is None or isinstance(value, bool):
            out.append(math.nan if value is None else float(value))
            continue
        try:
            out.append(float(value))
        except (TypeError, ValueError):
            out.append(math.nan)  # a stray non-number in a numeric feature counts as missing
    return np.asarray(out, dtype=np.float64)


def _distinct_sorted(values: np.ndarray) -> int:
    if values.size == 0:
        return 0
    return int(np.count_nonzero(np.diff(values))) + 1


@dataclass(frozen=True)
class Windows:
    """The current side of many windows of one feature, each window as its ``Sample`` would hold it, so that
    every statistic is computed for all the windows at once (issue 15: 720 windows x 21 features from
    scratch) instead of one window at a time. A single window is ``Windows.of([sample])``: the per-window
    path and the batched one run the same code.

    Numeric: ``values`` finite and sorted within each window, the windows one after another; window ``w``
    is ``values[bounds[w]:bounds[w + 1]]``. Categorical: ``counts[w, c]`` rows of window ``w`` in category
    ``categories[c]``.
    """

    kind: str
    size: int
    values: np.ndarray | None = None
    bounds: np.ndarray | None = None
    counts: np.ndarray | None = None
    categories: tuple[str, ...] = ()

    @classmethod
    def numeric(cls, raw: Iterable[Any] | np.ndarray, bounds: np.ndarray) -> "Windows":
        """From raw values (missing, text and stray values handled as ``Sample.numeric`` does), window ``w``
        being ``raw[bounds[w]:bounds[w + 1]]``."""
        return cls.numeric_block(_as_float_array(raw)[None, :], bounds)[0]

    @classmethod
    def numeric_block(cls, block: np.ndarray, bounds: np.ndarray) -> "list[Windows]":
        """One ``Windows`` per row of ``block`` (features x rows, floats, NaN for missing), the rows of
        window ``w`` being columns ``bounds[w]:bounds[w + 1]``. Sorted in place, a window at a time for every
        feature together (NaN sorts last), then the values that are not finite dropped."""
        size = bounds.size - 1
        for first, last in zip(bounds[:-1].tolist(), bounds[1:].tolist()):
            if last - first > 1:
                block[:, first:last].sort(axis=1)
        finite = np.isfinite(block)
        kept = np.zeros((block.shape[0], block.shape[1] + 1), dtype=np.int64)
        np.cumsum(finite, axis=1, out=kept[:, 1:])
        return [cls(kind="numeric", size=size, values=row[keep], bounds=counts[bounds])
                for row, keep, counts in zip(block, finite, kept)]

    @classmethod
    def categorical(cls, keys: Iterable[str | None], window: np.ndarray, size: int) -> "Windows":
        """From category keys (``category_key`` spelling, None for missing) and the window of each."""
        index: dict[str, int] = {}
        codes = np.fromiter((-1 if key is None else index.setdefault(key, len(index)) for key in keys),
                            dtype=np.int64)
        window = np.asarray(window, dtype=np.int64)
        keep = codes >= 0
        width = len(index)
        counts = np.bincount(window[keep] * width + codes[keep], minlength=size * width).reshape(size, width)
        return cls(kind="categorical", size=size, counts=counts, categories=tuple(index))

    @classmethod
    def of(cls, kind: str, samples: Sequence[Sample]) -> "Windows":
        """Samples of one kind, one window each."""
        if kind == "numeric":
            values = [s.values if s.values is not None else np.empty(0) for s in samples]
            bounds = np.zeros(len(samples) + 1, dtype=np.int64)
            np.cumsum([v.size for v in values], out=bounds[1:])
            return cls(kind="numeric", size=len(samples), values=np.concatenate(values) if values else np.empty(0),
                       bounds=bounds)
        keys = sorted({key for s in samples for key in (s.counts or {})})
        counts = np.array([[(s.counts or {}).get(key, 0) for key in keys] for s in samples],
                          dtype=np.int64).reshape(len(samples), len(keys))
        return cls(kind="categorical", size=len(samples), counts=counts, categories=tuple(keys))

    @property
    def n(self) -> np.ndarray:
        """Values per window (missing ones dropped)."""
        if self.kind == "numeric":
            assert self.bounds is not None
            return np.diff(self.bounds)
        assert self.counts is not None
        return self.counts.sum(axis=1)

    def window_of_value(self) -> np.ndarray:
        """The window of each numeric value."""
        return np.repeat(np.arange(self.size), self.n)

    def sample(self, w: int) -> Sample:
        if self.kind == "numeric":
            assert self.values is not None and self.bounds is not None
            return Sample(kind="numeric", values=self.values[self.bounds[w]:self.bounds[w + 1]])
        assert self.counts is not None
        return Sample.from_counts(dict(zip(self.categories, self.counts[w].tolist())))


def _as_windows(kind: str, current: Sample) -> Windows:
    if current.kind != kind:
        current = Sample.of_kind(kind, _raw_values(current))
    return Windows.of(kind, [current])


def _aligned_counts(reference: Sample, windows: Windows,
                    rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The reference's counts (C,) and the windows' (R, C) over the categories of both sides, in sorted
    order (numbers as numbers): what value_counts gives per window, for the categorical statistics."""
    rows = np.arange(windows.size) if rows is None else rows
    if windows.kind == "numeric":
        assert reference.values is not None and windows.values is not None
        ref_keys, ref_counts = reference.remember(
            "uniques", lambda: np.unique(reference.values, return_counts=True))
        window_of = windows.window_of_value()
        place = np.full(windows.size, -1, dtype=np.int64)
        place[rows] = np.arange(rows.size)
        picked = place[window_of] >= 0
        values = windows.values[picked]
        keys = np.union1d(ref_keys, values)
        ref = np.zeros(keys.size, dtype=np.int64)
        ref[np.searchsorted(keys, ref_keys)] = ref_counts
        cur = np.bincount(place[window_of[picked]] * keys.size + np.searchsorted(keys, values),
                          minlength=rows.size * keys.size).reshape(rows.size, keys.size)
        return ref, cur
    assert reference.counts is not None and windows.counts is not None
    names = sorted(set(reference.counts) | set(windows.categories))
    column = {name: i for i, name in enumerate(names)}
    ref = np.array([reference.counts.get(name, 0) for name in names], dtype=np.int64)
    cur = np.zeros((rows.size, len(names)), dtype=np.int64)
    if windows.categories:
        cur[:, [column[name] for name in windows.categories]] = windows.counts[rows]
    return ref, cur


def _distinct_many(reference: Sample, windows: Windows) -> np.ndarray:
    """Distinct values over the reference and each window together (exact up to FEW_VALUES, a lower bound
    above it: enough to choose the method)."""
    if windows.kind == "categorical":
        ref, cur = _aligned_counts(reference, windows)
        return ((ref > 0) | (cur > 0)).sum(axis=1)
    assert reference.values is not None and windows.values is not None and windows.bounds is not None
    ref_distinct = reference.remember("distinct", lambda: _distinct_sorted(reference.values))
    values, window_of = windows.values, windows.window_of_value()
    first = np.ones(values.size, dtype=bool)  # the first of each run of equal values in a window
    first[1:] = values[1:] != values[:-1]
    first[windows.bounds[:-1][windows.n > 0]] = True
    cur_distinct = np.bincount(window_of[first], minlength=windows.size)
    out = np.maximum(cur_distinct, ref_distinct)
    if ref_distinct > FEW_VALUES:
        return out
    ref_keys, _ = reference.remember("uniques", lambda: np.unique(reference.values, return_counts=True))
    unseen = first & ~np.isin(values, ref_keys)
    union = ref_distinct + np.bincount(window_of[unseen], minlength=windows.size)
    return np.where(cur_distinct <= FEW_VALUES, union, out)


def distinct_values(reference: Sample, current: Sample) -> int:
    """Distinct values over both sides together (exact up to FEW_VALUES, a lower bound above it)."""
    return int(_distinct_many(reference, _as_windows(reference.kind, current))[0])


def choose_method(kind: str, reference_rows: int, n_distinct: int) -> str:
    """Evidently's default test for a feature of this kind, reference size and cardinality."""
    many_values = kind == "numeric" and n_distinct > FEW_VALUES
    if reference_rows > SMALL_REFERENCE_ROWS:
        return WASSERSTEIN if many_values else JENSEN_SHANNON
    if many_values:
        return KS
    return CHI_SQUARED if n_distinct > 2 else Z_TEST


# --- the statistics, each computed for many windows at once ----------------------------------------------------


def _wasserstein_many(reference: Sample, windows: Windows) -> np.ndarray:
    """First Wasserstein distance (the area between the empirical CDFs, scipy's) of each window against the
    reference, NaN for an empty window: O(m log n) for a window of m values against a reference of n, all
    windows in the same array operations.

    Only each window's m+1 intervals are visited (its CDF F_v is constant on each); the area under the
    reference's CDF F_u over an interval comes from the reference's prefix sums, kept with it. On [a, b)
    with F_v = c the area |F_u - c| is split where F_u reaches c (at the ceil(c n)-th reference value);
    A(x) = integral of F_u up to x = (k x - S_k) / n with k the reference values <= x and S_k their sum.
    Values are centred on the reference's median first, so large magnitudes keep their precision."""
    u = reference.values
    assert u is not None and windows.values is not None and windows.bounds is not None
    n = u.size
    out = np.full(windows.size, math.nan)
    if n == 0 or windows.values.size == 0:
        return out

    def prepare() -> tuple[float, np.ndarray, np.ndarray]:
        centre = float(u[n // 2])
        shifted = u - centre
        return centre, shifted, np.concatenate(([0.0], np.cumsum(shifted)))

    centre, us, prefix = reference.remember("prefix", prepare)
    x = windows.values - centre
    k = np.searchsorted(us, x, side="right")  # reference values <= each window value
    sizes = windows.n
    window_of = windows.window_of_value()
    place = np.arange(x.size) - windows.bounds[window_of]  # each value's place in its window
    m_of = sizes[window_of]

    def area(kk: np.ndarray, xx: np.ndarray) -> np.ndarray:  # integral of F_u from -inf to xx
        return (kk * xx - prefix[kk]) / n

    at_value = area(k, x)  # at every window value, once: each is the end of one interval, the start of the next
    left = np.flatnonzero(place < m_of - 1)  # the first value of each adjacent pair within a window
    a, b, ka, kb = x[left], x[left + 1], k[left], k[left + 1]
    j, m = place[left] + 1, m_of[left]
    c = j / m
    q = (j * n + m - 1) // m  # F_u(x) >= c from the q-th reference value on (q >= 1: c > 0)
    cross = us[q - 1]
    t = np.clip(cross, a, b)
    kt = np.where(cross <= a, ka, np.where(cross >= b, kb, q))
    area_a, area_b, area_t = at_value[left], at_value[left + 1], area(kt, t)
    middle = (c * (t - a) - (area_t - area_a)) + ((area_b - area_t) - c * (b - t))
    inner = np.bincount(window_of[left], weights=middle, minlength=windows.size)
    full = sizes > 0
    lo, hi = windows.bounds[:-1][full], windows.bounds[1:][full] - 1
    first = at_value[lo]  # F_v = 0 left of a window's smallest value
    last = ((prefix[n] - prefix[k[hi]]) - (n - k[hi]) * x[hi]) / n  # F_v = 1 right of its largest
    out[full] = first + inner[full] + last
    return out


def _wasserstein_normed_many(reference: Sample, windows: Windows) -> np.ndarray:
    norm = reference.remember("std", lambda: max(float(np.std(reference.values)), STD_FLOOR))
    return _wasserstein_many(reference, windows) / norm


def wasserstein_normed(reference: np.ndarray, current: np.ndarray, *, presorted: bool = False) -> float:
    """Wasserstein distance divided by the reference's population std, floored at 0.001."""
    ref = reference if presorted else np.sort(np.asarray(reference, dtype=np.float64))
    cur = current if presorted else np.sort(np.asarray(current, dtype=np.float64))
    return float(_wasserstein_normed_many(Sample(kind="numeric", values=ref),
                                          Windows.of("numeric", [Sample(kind="numeric", values=cur)]))[0])


def ks_p_value(reference: np.ndarray, current: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov p-value, scipy's defaults (two-sided, exact for small samples)."""
    if len(reference) == 0 or len(current) == 0:
        return math.nan
    from scipy.stats import ks_2samp

    return float(ks_2samp(reference, current).pvalue)


def jensen_shannon_shares(reference: Sample, current: Sample) -> tuple[np.ndarray, np.ndarray]:
    """Shares per bin: Sturges bins over the combined range for a numeric feature with more than 20 distinct
    reference values, else one bin per category (union of both sides). No zero filling."""
    if reference.kind == "numeric" and reference.values is not None and current.values is not None \
            and _distinct_sorted(reference.values) > BINNING_MIN_VALUES:
        edges = np.histogram_bin_edges(np.concatenate((reference.values, current.values)), bins="sturges")
        ref = np.histogram(reference.values, edges)[0] / reference.n
        cur = np.histogram(current.values, edges)[0] / current.n
        return ref.astype(np.float64), cur.astype(np.float64)
    ref_counts, cur_counts = _aligned_counts(reference, _as_windows(reference.kind, current))
    union = (ref_counts > 0) | (cur_counts[0] > 0)
    return ref_counts[union] / max(reference.n, 1), cur_counts[0][union] / max(current.n, 1)


def _jensen_shannon_rows(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Jensen-Shannon distance (natural log) of each row pair of share matrices, each row normalised to sum
    1 first (zero columns add nothing)."""
    p = p / p.sum(axis=1, keepdims=True)
    q = q / q.sum(axis=1, keepdims=True)
    m = (p + q) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        divergence = (np.where(p > 0, p * np.log(p / m), 0.0).sum(axis=1)
                      + np.where(q > 0, q * np.log(q / m), 0.0).sum(axis=1)) / 2
    return np.sqrt(np.maximum(divergence, 0.0))


def jensen_shannon_distance(p: Sequence[float] | np.ndarray, q: Sequence[float] | np.ndarray) -> float:
    """Jensen-Shannon distance (natural log) of two share vectors, each normalised to sum 1 first."""
    return float(_jensen_shannon_rows(np.asarray(p, dtype=np.float64)[None, :],
                                      np.asarray(q, dtype=np.float64)[None, :])[0])


def jensen_shannon(reference: Sample, current: Sample) -> float:
    if reference.n == 0 or current.n == 0:
        return math.nan
    return jensen_shannon_distance(*jensen_shannon_shares(reference, current))


def _jensen_shannon_many(reference: Sample, windows: Windows, rows: np.ndarray) -> np.ndarray:
    if reference.kind == "numeric" and _distinct_sorted(reference.values) > BINNING_MIN_VALUES:
        # Binned (Sturges over both sides): only when the method is asked for, Evidently's default never
        # picks Jensen-Shannon for a numeric feature with that many values.
        return np.array([jensen_shannon(reference, windows.sample(int(w))) for w in rows], dtype=np.float64)
    ref, cur = _aligned_counts(reference, windows, rows)
    return _jensen_shannon_rows(np.broadcast_to(ref / max(reference.n, 1), cur.shape),
                                cur / cur.sum(axis=1, keepdims=True))


def _chi_squared_rows(ref: np.ndarray, cur: np.ndarray) -> np.ndarray:
    """Chi-squared goodness of fit of each row of current counts to the reference shares scaled to the row's
    total, (categories of both sides) - 1 degrees of freedom."""
    from scipy.special import chdtrc

    present = (ref > 0) | (cur > 0)
    categories = present.sum(axis=1)
    ref_total, cur_total = ref.sum(), cur.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = ref[None, :] * (cur_total / ref_total)[:, None]
        statistic = np.where(present, (cur - expected) ** 2 / expected, 0.0).sum(axis=1)
    out = np.asarray(chdtrc(categories - 1, statistic), dtype=np.float64)
    out[(ref_total == 0) | (cur_total == 0) | (categories < 2)] = math.nan
    return out


def _counts_of(reference: Mapping[Any, int], current: Mapping[Any, int]) -> tuple[np.ndarray, np.ndarray]:
    keys = sorted(set(reference) | set(current))
    return (np.array([reference.get(k, 0) for k in keys], dtype=np.int64),
            np.array([[current.get(k, 0) for k in keys]], dtype=np.int64).reshape(1, len(keys)))


def chi_squared_p_value(reference: Mapping[Any, int], current: Mapping[Any, int]) -> float:
    """Chi-squared goodness of fit of the current counts to the reference shares scaled to the current total,
    categories - 1 degrees of freedom."""
    return float(_chi_squared_rows(*_counts_of(reference, current))[0])


def _z_test_rows(ref: np.ndarray, cur: np.ndarray) -> np.ndarray:
    """Pooled two-proportion Z-test, two-sided, per row: the share of rows not in the first (sorted)
    category present on either side. Columns are in sorted order."""
    from scipy.special import ndtr

    n1, n2 = ref.sum(), cur.sum(axis=1)
    in_ref, in_cur = ref > 0, cur > 0
    first = np.argmax(in_ref[None, :] | in_cur, axis=1)
    p1 = (n1 - ref[first]) / n1 if n1 else np.full(cur.shape[0], math.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        p2 = (n2 - cur[np.arange(cur.shape[0]), first]) / n2
        pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
        z = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
        out = 2 * (1 - ndtr(np.abs(z)))
    out = np.asarray(out, dtype=np.float64)
    out[(in_ref.sum() == 1) & np.all(in_cur == in_ref[None, :], axis=1)] = 1.0  # one and the same value
    out[(n1 == 0) | (n2 == 0)] = math.nan
    return out


def z_test_p_value(reference: Mapping[Any, int], current: Mapping[Any, int]) -> float:
    """Pooled two-proportion Z-test, two-sided: the share of rows not in the first (sorted) category."""
    return float(_z_test_rows(*_counts_of(reference, current))[0])


def decile_edges(sorted_reference: np.ndarray) -> np.ndarray:
    """The reference's 10th..90th percentiles (numpy's linear interpolation), duplicates merged."""
    n = sorted_reference.size
    positions = np.arange(1, 10) / 10 * (n - 1)
    low = np.floor(positions).astype(np.int64)
    high = np.minimum(low + 1, n - 1)
    fraction = positions - low
    edges = sorted_reference[low] + (sorted_reference[high] - sorted_reference[low]) * fraction
    return np.unique(edges)


def _decile_counts(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    edges = decile_edges(values)
    below = np.searchsorted(values, edges, side="left")
    return edges, np.diff(np.concatenate(([0], below, [values.size])))


def _psi_rows(ref: np.ndarray, cur: np.ndarray) -> np.ndarray:
    ref = np.where(ref == 0, PSI_FLOOR, ref)
    cur = np.where(cur == 0, PSI_FLOOR, cur)
    return np.sum((ref - cur) * np.log(ref / cur), axis=1)


def _psi_many(reference: Sample, windows: Windows) -> np.ndarray:
    """Population stability index of each window (NaN when empty): numeric on reference decile bins
    ([edge, next edge), open at both ends), categorical per category; empty shares replaced by 0.0001."""
    sizes = windows.n
    if reference.n == 0:
        return np.full(windows.size, math.nan)
    if windows.kind == "numeric":
        assert reference.values is not None and windows.values is not None
        edges, ref_counts = reference.remember("deciles", lambda: _decile_counts(reference.values))
        bins = edges.size + 1
        where = np.searchsorted(edges, windows.values, side="right")  # bin i: edges[i-1] <= v < edges[i]
        cur = np.bincount(windows.window_of_value() * bins + where, minlength=windows.size * bins)
        ref_shares, cur_counts = ref_counts / reference.n, cur.reshape(windows.size, bins)
    else:
        ref_counts, cur_counts = _aligned_counts(reference, windows)
        ref_shares = ref_counts / max(reference.n, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = _psi_rows(np.broadcast_to(ref_shares, cur_counts.shape), cur_counts / sizes[:, None])
    out[sizes == 0] = math.nan
    return out


def psi(reference: Sample, current: Sample) -> float:
    """Population stability index: numeric on reference decile bins ([edge, next edge), open at both ends),
    categorical per category; empty shares replaced by 0.0001."""
    return float(_psi_many(reference, _as_windows(reference.kind, current))[0])


# --- one feature, many windows -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FeatureDrift:
    feature: str
    kind: str
    method: str
    value: float
    threshold: float
    drifted: bool
    psi: float | None
    n_reference: int
    n_current: int


def _statistic_many(method: str, reference: Sample, windows: Windows, rows: np.ndarray) -> np.ndarray:
    """``method``'s value for the windows ``rows`` (none of them empty)."""
    if method == WASSERSTEIN:
        return _wasserstein_normed_many(reference, windows)[rows]
    if method == KS:
        return np.array([ks_p_value(reference.values, windows.sample(int(w)).values) for w in rows],
                        dtype=np.float64)
    if method == JENSEN_SHANNON:
        return _jensen_shannon_many(reference, windows, rows)
    if method == CHI_SQUARED:
        return _chi_squared_rows(*_aligned_counts(reference, windows, rows))
    if method == Z_TEST:
        return _z_test_rows(*_aligned_counts(reference, windows, rows))
    raise ValueError(f"unknown drift method {method!r}")


def drift_many(feature: str, reference: Sample, windows: Windows, *, threshold: float | None = None,
               method: str | None = None) -> list[FeatureDrift]:
    """The drift of one feature in each window (of the reference's kind): Evidently's default method per
    window (unless ``method`` is given) and the PSI, every statistic computed for all the windows at once."""
    sizes = windows.n
    if method is None:
        distinct = _distinct_many(reference, windows).tolist()
        chosen = [choose_method(reference.kind, reference.population, d) for d in distinct]
    else:
        chosen = [method] * windows.size
    values = np.full(windows.size, math.nan)
    if reference.n:
        names = np.array(chosen)
        for name in set(chosen):
            rows = np.flatnonzero((names == name) & (sizes > 0))
            if rows.size:
                values[rows] = _statistic_many(name, reference, windows, rows)
    stability = _psi_many(reference, windows)
    out = []
    for w, (name, value, level, size) in enumerate(zip(chosen, values.tolist(), stability.tolist(),
                                                      sizes.tolist())):
        limit = DEFAULT_THRESHOLDS[name] if threshold is None else float(threshold)
        out.append(FeatureDrift(feature=feature, kind=reference.kind, method=name, value=value, threshold=limit,
                                drifted=is_drifted(name, value, limit),
                                psi=None if math.isnan(level) else level,
                                n_reference=reference.population, n_current=int(size)))
    return out


def compute_statistic(method: str, reference: Sample, current: Sample) -> float:
    if reference.n == 0 or current.n == 0:
        return math.nan
    return float(_statistic_many(method, reference, _as_windows(reference.kind, current), np.zeros(1, np.int64))[0])


def feature_drift(feature: str, reference: Sample, current: Sample, *, threshold: float | None = None,
                  method: str | None = None) -> FeatureDrift:
    """The drift of one feature: Evidently's default method (unless ``method`` is given) and the PSI (one
    window of ``drift_many``)."""
    return drift_many(feature, reference, _as_windows(reference.kind, current), threshold=threshold,
                      method=method)[0]


def _raw_values(sample: Sample) -> list[Any]:
    if sample.values is not None:
        return sample.values.tolist()
    return [key for key, count in (sample.counts or {}).items() for _ in range(count)]


def compare(reference: Mapping[str, Sample], current: Mapping[str, Sample],
            thresholds: Mapping[str, float] | None = None) -> list[FeatureDrift]:
    """Every feature present on both sides, in the reference's order."""
    thresholds = thresholds or {}
    out = []
    for name, ref in reference.items():
        cur = current.get(name)
        if cur is None:
            continue
        out.append(feature_drift(name, ref, cur, threshold=thresholds.get(name, thresholds.get("*"))))
    return out
