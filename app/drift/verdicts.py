"""Drift verdicts: the method names, thresholds and rules that judge and describe stored drift results.

Nothing here needs numpy: reading stored windows (a no-op ``modeldeck drift``, the fleet, the drift
screen) judges and sorts them without paying for the statistics. ``app.drift.stats`` computes the values
and re-exports these names, so each rule has one copy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable

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


def psi_level(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "-"
    if value >= PSI_MAJOR:
        return "major"
    if value >= PSI_MODERATE:
        return "moderate"
    return "stable"


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
