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

if TYPE_CHECKING:
    from app.models import FeatureBaseline

PREDICTION_FEATURE = "__prediction__"

WASSERSTEIN = "wasserstein"
JENSEN_SHANNON = "jensenshannon"
KS = "ks"
CHI_SQUARED = "chisquare"
Z_TEST = "z"

DEFAULT_THRESHOLDS: dict[str, float] = {
    WASSERSTEIN: 0.1,
    JENSEN_SHANNON: 0.1,
    KS: 0.05,
    CHI_SQUARED: 0.05,
    Z_TEST: 0.05,
}
P_VALUE_METHODS = frozenset({KS, CHI_SQUARED, Z_TEST})

SMALL_REFERENCE_ROWS = 1000  # at most this many reference rows: hypothesis tests, else distances
FEW_VALUES = 5  # numeric features with at most this many distinct values are treated like categories
BINNING_MIN_VALUES = 20  # Jensen-Shannon bins a numeric feature with more distinct reference values than this
STD_FLOOR = 0.001
PSI_FLOOR = 0.0001
PSI_MODERATE = 0.1
PSI_MAJOR = 0.25
DATASET_DRIFT_SHARE = 0.5
# A window with fewer current rows than this says nothing reliable (a window just closed as the log ends
# holds a handful of rows, and every statistic then "drifts"): it is shown as too few rows, not judged.
# Overridable per model: [models.NAME] drift_min_rows.
DEFAULT_MIN_ROWS = 100


def display_name(feature: str) -> str:
    """The name a person reads: the prediction's internal key is shown as ``prediction``."""
    return "prediction" if feature == PREDICTION_FEATURE else feature


def window_rows(points: Iterable[Any]) -> int:
    """Current rows of a window: the most any of its features saw (a feature may be missing in some rows)."""
    return max((p.n_current for p in points), default=0)


def format_stat(value: float | None, decimals: int = 3) -> str:
    """A statistic in fixed decimals that never reads as a bigger number when cut: values under the last
    decimal are ``<0.001``, large ones lose decimals (at most 6 characters with the default 3 decimals)."""
    if value is None or value != value:
        return "-"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    size = abs(value)
    floor = 10.0 ** -decimals
    if value == 0:
        return f"{0.0:.{decimals}f}"
    if size < floor:
        return f"<{floor:.{decimals}f}" if value > 0 else f">-{floor:.{decimals}f}"
    if size < 10:
        return f"{value:.{decimals}f}"
    if size < 100:
        return f"{value:.{max(decimals - 1, 0)}f}"
    if size < 1000:
        return f"{value:.{max(decimals - 2, 0)}f}"
    if size < 100_000:
        return f"{value:.0f}"
    return f"{value:.0e}"


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


def distinct_values(reference: Sample, current: Sample) -> int:
    """Distinct values over both sides together (exact up to FEW_VALUES, a lower bound above it)."""
    if reference.kind == "categorical" or current.kind == "categorical":
        return len(set(reference.value_counts()) | set(current.value_counts()))
    assert reference.values is not None and current.values is not None
    ref_distinct = reference.remember("distinct", lambda: _distinct_sorted(reference.values))
    cur_distinct = _distinct_sorted(current.values)
    if ref_distinct > FEW_VALUES or cur_distinct > FEW_VALUES:
        return max(ref_distinct, cur_distinct)  # a lower bound, enough to decide: the union is not needed
    return int(np.union1d(reference.values, current.values).size)


def choose_method(kind: str, reference_rows: int, n_distinct: int) -> str:
    """Evidently's default test for a feature of this kind, reference size and cardinality."""
    many_values = kind == "numeric" and n_distinct > FEW_VALUES
    if reference_rows > SMALL_REFERENCE_ROWS:
        return WASSERSTEIN if many_values else JENSEN_SHANNON
    if many_values:
        return KS
    return CHI_SQUARED if n_distinct > 2 else Z_TEST


def is_drifted(method: str, value: float, threshold: float) -> bool:
    if value is None or math.isnan(value):
        return False
    if method == KS:
        return value <= threshold
    if method in P_VALUE_METHODS:
        return value < threshold
    return value >= threshold


def drift_ratio(method: str, value: float, threshold: float) -> float:
    """How far past its threshold a result is, comparable across methods (>= 1 means drifted for distances;
    p-values are inverted): the sort key of drift tables."""
    if value is None or math.isnan(value) or threshold <= 0:
        return 0.0
    if method in P_VALUE_METHODS:
        return threshold / max(value, 1e-300)
    return value / threshold


# --- the statistics -------------------------------------------------------------------------------------------


def _wasserstein_sorted(u: np.ndarray, v: np.ndarray) -> float:
    """First Wasserstein distance of two sorted samples: the area between their empirical CDFs.

    The merge is built from where each value of ``v`` falls in ``u`` (``v`` is a window, ``u`` the larger
    reference): the merged array is the stable sort of both, and at every point followed by a gap the
    counts seen so far are each side's CDF there (inside a run of equal values the gap is 0), so the sum
    is the one scipy's formula gives, without searching every merged point in both sides."""
    n, m = u.size, v.size
    at = np.searchsorted(u, v, side="right") + np.arange(m)  # v's places: after the equal values of u
    from_v = np.zeros(n + m, dtype=bool)
    from_v[at] = True
    both = np.empty(n + m, dtype=np.float64)
    both[at] = v
    both[~from_v] = u
    v_seen = np.cumsum(from_v)[:-1]
    u_seen = np.arange(1, n + m) - v_seen
    return float(np.dot(np.abs(u_seen / n - v_seen / m), np.diff(both)))


def _wasserstein_against(reference: "Sample", v: np.ndarray) -> float:
    """``_wasserstein_sorted(reference.values, v)`` in O(m log n) for a window of m values against a
    reference of n: only the window's m+1 intervals are visited (F_v is constant on each), and the area
    under the reference's CDF over an interval comes from its prefix sums, kept with the reference.

    On [a, b) with F_v = c the area |F_u - c| is split where F_u reaches c (at the ceil(c n)-th reference
    value); A(x) = integral of F_u up to x = (k x - S_k) / n with k the reference values <= x and S_k their
    sum. Values are centred on the reference's median first, so large magnitudes keep their precision."""
    u = reference.values
    assert u is not None
    n, m = u.size, v.size

    def prepare() -> tuple[float, np.ndarray, np.ndarray]:
        centre = float(u[n // 2])
        shifted = u - centre
        return centre, shifted, np.concatenate(([0.0], np.cumsum(shifted)))

    centre, us, prefix = reference.remember("prefix", prepare)
    x = v - centre
    k = np.searchsorted(us, x, side="right")  # reference values <= each window value

    def area(kk: np.ndarray, xx: np.ndarray) -> np.ndarray:  # integral of F_u from -inf to xx
        return (kk * xx - prefix[kk]) / n

    a, b, ka, kb = x[:-1], x[1:], k[:-1], k[1:]
    j = np.arange(1, m)
    c = j / m
    q = (j * n + m - 1) // m  # F_u(x) >= c from the q-th reference value on (q >= 1: c > 0)
    cross = us[q - 1]
    t = np.clip(cross, a, b)
    kt = np.where(cross <= a, ka, np.where(cross >= b, kb, q))
    area_a, area_b, area_t = area(ka, a), area(kb, b), area(kt, t)
    middle = (c * (t - a) - (area_t - area_a)) + ((area_b - area_t) - c * (b - t))
    first = area(k[:1], x[:1])[0]  # F_v = 0 left of the window's smallest value
    last = ((prefix[n] - prefix[k[-1]]) - (n - k[-1]) * x[-1]) / n  # F_v = 1 right of its largest
    return float(first + middle.sum() + last)


def wasserstein_normed(reference: np.ndarray, current: np.ndarray, *, presorted: bool = False) -> float:
    """Wasserstein distance divided by the reference's population std, floored at 0.001."""
    ref = reference if presorted else np.sort(np.asarray(reference, dtype=np.float64))
    cur = current if presorted else np.sort(np.asarray(current, dtype=np.float64))
    if ref.size == 0 or cur.size == 0:
        return math.nan
    norm = max(float(np.std(ref)), STD_FLOOR)
    return _wasserstein_sorted(ref, cur) / norm


def ks_p_value(reference: np.ndarray, current: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov p-value, scipy's defaults (two-sided, exact for small samples)."""
    if len(reference) == 0 or len(current) == 0:
        return math.nan
    from scipy.stats import ks_2samp

    return float(ks_2samp(reference, current).pvalue)


def _shares_by_category(reference: Sample, current: Sample) -> tuple[np.ndarray, np.ndarray]:
    ref_counts, cur_counts = reference.value_counts(), current.value_counts()
    keys = list(set(ref_counts) | set(cur_counts))
    ref = np.array([ref_counts.get(k, 0) for k in keys], dtype=np.float64) / max(reference.n, 1)
    cur = np.array([cur_counts.get(k, 0) for k in keys], dtype=np.float64) / max(current.n, 1)
    return ref, cur


def jensen_shannon_shares(reference: Sample, current: Sample) -> tuple[np.ndarray, np.ndarray]:
    """Shares per bin: Sturges bins over the combined range for a numeric feature with more than 20 distinct
    reference values, else one bin per category (union of both sides). No zero filling."""
    if reference.kind == "numeric" and reference.values is not None and current.values is not None \
            and _distinct_sorted(reference.values) > BINNING_MIN_VALUES:
        edges = np.histogram_bin_edges(np.concatenate((reference.values, current.values)), bins="sturges")
        ref = np.histogram(reference.values, edges)[0] / reference.n
        cur = np.histogram(current.values, edges)[0] / current.n
        return ref.astype(np.float64), cur.astype(np.float64)
    return _shares_by_category(reference, current)


def _relative_entropy(p: np.ndarray, q: np.ndarray) -> float:
    mask = p > 0
    return float(np.sum(p[mask] * np.log(p[mask] / q[mask])))


def jensen_shannon_distance(p: Sequence[float] | np.ndarray, q: Sequence[float] | np.ndarray) -> float:
    """Jensen-Shannon distance (natural log) of two share vectors, each normalised to sum 1 first."""
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    p = p / p.sum()
    q = q / q.sum()
    m = (p + q) / 2
    divergence = (_relative_entropy(p, m) + _relative_entropy(q, m)) / 2
    return math.sqrt(max(divergence, 0.0))


def jensen_shannon(reference: Sample, current: Sample) -> float:
    if reference.n == 0 or current.n == 0:
        return math.nan
    return jensen_shannon_distance(*jensen_shannon_shares(reference, current))


def chi_squared_p_value(reference: Mapping[Any, int], current: Mapping[Any, int]) -> float:
    """Chi-squared goodness of fit of the current counts to the reference shares scaled to the current total,
    categories - 1 degrees of freedom."""
    keys = list(set(reference) | set(current))
    ref = np.array([reference.get(k, 0) for k in keys], dtype=np.float64)
    cur = np.array([current.get(k, 0) for k in keys], dtype=np.float64)
    if ref.sum() == 0 or cur.sum() == 0 or len(keys) < 2:
        return math.nan
    expected = ref * (cur.sum() / ref.sum())
    with np.errstate(divide="ignore", invalid="ignore"):
        statistic = float(np.sum((cur - expected) ** 2 / expected))
    from scipy.special import chdtrc

    return float(chdtrc(len(keys) - 1, statistic))


def z_test_p_value(reference: Mapping[Any, int], current: Mapping[Any, int]) -> float:
    """Pooled two-proportion Z-test, two-sided: the share of rows not in the first (sorted) category."""
    n1, n2 = sum(reference.values()), sum(current.values())
    if n1 == 0 or n2 == 0:
        return math.nan
    ref_keys = {k for k, v in reference.items() if v}
    cur_keys = {k for k, v in current.items() if v}
    if len(ref_keys) == 1 and ref_keys == cur_keys:
        return 1.0
    first = sorted(ref_keys | cur_keys)[0]
    p1 = (n1 - reference.get(first, 0)) / n1
    p2 = (n2 - current.get(first, 0)) / n2
    pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
    z = (p1 - p2) / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    from scipy.special import ndtr

    return float(2 * (1 - ndtr(abs(z))))


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


def _psi_from_shares(ref: np.ndarray, cur: np.ndarray) -> float:
    ref = np.where(ref == 0, PSI_FLOOR, ref)
    cur = np.where(cur == 0, PSI_FLOOR, cur)
    return float(np.sum((ref - cur) * np.log(ref / cur)))


def psi(reference: Sample, current: Sample) -> float:
    """Population stability index: numeric on reference decile bins ([edge, next edge), open at both ends),
    categorical per category; empty shares replaced by 0.0001."""
    if reference.n == 0 or current.n == 0:
        return math.nan
    if reference.kind == "numeric" and current.kind == "numeric":
        assert reference.values is not None and current.values is not None
        edges, ref_counts = reference.remember("deciles", lambda: _decile_counts(reference.values))
        cur_below = np.searchsorted(current.values, edges, side="left")
        cur_counts = np.diff(np.concatenate(([0], cur_below, [current.n])))
        return _psi_from_shares(ref_counts / reference.n, cur_counts / current.n)
    ref, cur = _shares_by_category(reference, current)
    return _psi_from_shares(ref, cur)


def psi_level(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "-"
    if value >= PSI_MAJOR:
        return "major"
    if value >= PSI_MODERATE:
        return "moderate"
    return "stable"


# --- one feature, one dataset ---------------------------------------------------------------------------------


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


def compute_statistic(method: str, reference: Sample, current: Sample) -> float:
    if method == WASSERSTEIN:
        assert reference.values is not None and current.values is not None
        if current.values.size == 0:
            return math.nan
        norm = reference.remember("std", lambda: max(float(np.std(reference.values)), STD_FLOOR))
        return _wasserstein_against(reference, current.values) / norm
    if method == KS:
        return ks_p_value(reference.values, current.values)  # type: ignore[arg-type]
    if method == JENSEN_SHANNON:
        return jensen_shannon(reference, current)
    if method == CHI_SQUARED:
        return chi_squared_p_value(reference.value_counts(), current.value_counts())
    if method == Z_TEST:
        return z_test_p_value(reference.value_counts(), current.value_counts())
    raise ValueError(f"unknown drift method {method!r}")


def feature_drift(feature: str, reference: Sample, current: Sample, *, threshold: float | None = None,
                  method: str | None = None) -> FeatureDrift:
    """The drift of one feature: Evidently's default method (unless ``method`` is given) and the PSI."""
    if reference.kind != current.kind:
        current = Sample.of_kind(reference.kind, _raw_values(current))
    chosen = method or choose_method(reference.kind, reference.population, distinct_values(reference, current))
    limit = DEFAULT_THRESHOLDS[chosen] if threshold is None else float(threshold)
    value = compute_statistic(chosen, reference, current) if reference.n and current.n else math.nan
    stability = psi(reference, current)
    return FeatureDrift(
        feature=feature, kind=reference.kind, method=chosen, value=value, threshold=limit,
        drifted=is_drifted(chosen, value, limit), psi=None if math.isnan(stability) else stability,
        n_reference=reference.population, n_current=current.n,
    )


def _raw_values(sample: Sample) -> list[Any]:
    if sample.values is not None:
        return sample.values.tolist()
    return [key for key, count in (sample.counts or {}).items() for _ in range(count)]


@dataclass(frozen=True)
class DatasetDrift:
    n_features: int
    n_drifted: int

    @property
    def share(self) -> float:
        return self.n_drifted / self.n_features if self.n_features else 0.0

    @property
    def drifted(self) -> bool:
        # Exactly half counts as drift (Evidently's drift_share comparison is >=).
        return self.n_features > 0 and self.share >= DATASET_DRIFT_SHARE


def dataset_drift(results: Iterable[Any]) -> DatasetDrift:
    """Share of drifted input features (the prediction is reported on its own, not counted)."""
    features = [r for r in results if r.feature != PREDICTION_FEATURE]
    return DatasetDrift(n_features=len(features), n_drifted=sum(1 for r in features if r.drifted))


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
