"""A feature's reference distribution (``FeatureBaseline``) computed from a column of values.

Used wherever a baseline is made: training files, logged traffic, the demo generator.
Missing values (None, NaN) and, for numeric features, infinities are dropped first, as
Evidently does before it chooses a drift method (ARCHITECTURE.md, Drift methods).
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Iterable, Literal

import numpy as np

from app.models import FeatureBaseline

Kind = Literal["numeric", "categorical"]

# Reference values kept per numeric feature: enough for exact two-sample statistics on
# ordinary training sets, bounded so a baseline row stays a few hundred KB.
MAX_SAMPLE = 100_000
# Decile edges: the industry convention for PSI.
QUANTILES = np.linspace(0.0, 1.0, 11)


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def infer_kind(values: Iterable[Any] | np.ndarray) -> Kind:
    """``numeric`` when every present value is a number (booleans are categories), else ``categorical``."""
    if isinstance(values, np.ndarray) and values.dtype.kind in "iuf":
        return "numeric"
    if isinstance(values, np.ndarray) and values.dtype.kind == "b":
        return "categorical"
    present = [v for v in values if not _is_missing(v)]
    if present and all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))
                       for v in present):
        return "numeric"
    return "categorical"


def numeric_summary(values: np.ndarray) -> tuple[float, float, list[float], list[int]]:
    """Mean, population std (ddof 0), decile edges and the reference count in each bin.

    Duplicate edges (a feature with few distinct values) are merged, so bins never have
    zero width; the last bin includes its upper edge, as in ``numpy.histogram``. The outer
    edges are the reference minimum and maximum: whoever applies them to new data decides
    whether to open the ends to infinity (PSI does).
    """
    edges = np.unique(np.quantile(values, QUANTILES))
    if len(edges) == 1:
        counts = [int(values.size)]
        edges = np.array([edges[0], edges[0]])
    else:
        counts = np.histogram(values, bins=edges)[0].astype(int).tolist()
    return float(values.mean()), float(values.std(ddof=0)), edges.tolist(), counts


def compute_baseline(values: Iterable[Any] | np.ndarray, *, model: str, version: str, feature: str,
                     kind: Kind | None = None, max_sample: int = MAX_SAMPLE, seed: int = 0,
                     created_at: int | None = None) -> FeatureBaseline:
    """The baseline of one feature from its reference values.

    ``kind`` overrides the inference. Beyond ``max_sample`` numeric values a uniform sample
    without replacement is kept (seeded, so the same data gives the same baseline).
    """
    kind = kind or infer_kind(values)
    if kind == "numeric":
        array = _as_floats(values)
        array = array[np.isfinite(array)]
        if array.size == 0:
            return FeatureBaseline(model=model, version=version, feature=feature, kind=kind, n=0,
                                   created_at=created_at)
        mean, std, edges, counts = numeric_summary(array)
        sample = array
        if array.size > max_sample:
            sample = np.random.default_rng(seed).choice(array, size=max_sample, replace=False)
        return FeatureBaseline(model=model, version=version, feature=feature, kind=kind, n=int(array.size),
                               mean=mean, std=std, edges=edges, counts=counts, sample=sample.tolist(),
                               created_at=created_at)
    categories: Counter[str] = Counter()
    # Count the raw values first (C speed), then spell the few distinct ones as text.
    for value, count in Counter(values.tolist() if isinstance(values, np.ndarray) else values).items():
        if not _is_missing(value):
            categories[_category(value)] += count
    return FeatureBaseline(model=model, version=version, feature=feature, kind="categorical",
                           n=sum(categories.values()), categories=dict(sorted(categories.items())),
                           created_at=created_at)


def _as_floats(values: Iterable[Any] | np.ndarray) -> np.ndarray:
    """Numbers as float64, missing values as NaN (text that is not a number raises ValueError)."""
    if isinstance(values, np.ndarray) and values.dtype.kind in "iufb":
        return values.astype(float, copy=False)
    items = values.tolist() if isinstance(values, np.ndarray) else values
    return np.array([np.nan if _is_missing(v) else v for v in items], dtype=float)


def _category(value: Any) -> str:
    # Stored as JSON object keys, so categories are text; JSON's spelling for booleans.
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    return str(value)
