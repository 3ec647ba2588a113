"""The statistics of production quality, on numpy arrays (imported by the CLI and workers only).

Point estimates are scikit-learn's definitions (ROC AUC with ties at half, log loss with probabilities
clipped to [1e-15, 1 - 1e-15], MAE, RMSE, the uniform-bin calibration curve); accuracy gets Wilson's
score interval, the other metrics a percentile bootstrap (seeded, so the same data gives the same
interval), and a correlation Fisher's z interval. tests/unit/test_quality_stats.py checks them against
scikit-learn and scipy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

Z95 = 1.959963984540054
EPS = 1e-15
RESAMPLES = 400
CALIBRATION_BINS = 10


@dataclass(frozen=True)
class Estimate:
    """A metric with its 95% interval (``low``/``high`` None when the data cannot give one)."""

    value: float
    low: float | None
    high: float | None
    method: str  # "wilson", "bootstrap", "fisher-z", or "" (no interval)


@dataclass(frozen=True)
class CalibrationBin:
    low: float
    high: float
    n: int
    mean_score: float
    positive_rate: float


def wilson(hits: int, n: int) -> Estimate | None:
    """A proportion with Wilson's score interval (sound near 0 and 1 and for small n)."""
    if n <= 0:
        return None
    p = hits / n
    denominator = 1 + Z95 * Z95 / n
    centre = (p + Z95 * Z95 / (2 * n)) / denominator
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95 * Z95 / (4 * n * n)) / denominator
    return Estimate(p, max(0.0, centre - half), min(1.0, centre + half), "wilson")


def auc(scores: np.ndarray, labels: np.ndarray) -> float | None:
    """ROC AUC as the Mann-Whitney U over n_pos * n_neg, midranks for ties; None without both classes."""
    positives = int(labels.sum())
    negatives = len(labels) - positives
    if positives == 0 or negatives == 0:
        return None
    from scipy.stats import rankdata

    ranks = rankdata(scores)
    return float((ranks[labels == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def log_loss(scores: np.ndarray, labels: np.ndarray) -> float:
    p = np.clip(scores, EPS, 1 - EPS)
    return float(-np.mean(labels * np.log(p) + (1 - labels) * np.log(1 - p)))


def mae(predictions: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(np.abs(predictions - labels)))


def rmse(predictions: np.ndarray, labels: np.ndarray) -> float:
    return float(math.sqrt(np.mean((predictions - labels) ** 2)))


def bootstrap(metric: Callable[[np.ndarray, np.ndarray], float | None], a: np.ndarray, b: np.ndarray, *,
              resamples: int = RESAMPLES, seed: int = 0) -> Estimate | None:
    """``metric(a, b)`` with a percentile bootstrap interval over rows (resamples where the metric has no
    value, e.g. AUC of one class, are left out)."""
    value = metric(a, b)
    if value is None:
        return None
    n = len(a)
    if n < 2 or resamples <= 0:  # resamples 0: the point value only (a pass/fail judgement needs no interval)
        return Estimate(value, None, None, "")
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(resamples):
        pick = rng.integers(0, n, n)
        got = metric(a[pick], b[pick])
        if got is not None:
            draws.append(got)
    if len(draws) < resamples // 2:
        return Estimate(value, None, None, "")
    low, high = np.percentile(draws, [2.5, 97.5])
    return Estimate(value, float(low), float(high), "bootstrap")


def calibration(scores: np.ndarray, labels: np.ndarray, bins: int = CALIBRATION_BINS
                ) -> tuple[float, list[CalibrationBin]]:
    """Expected calibration error over ``bins`` equal-width score bins (sklearn's calibration_curve binning,
    weighted by the bin's share of rows), and the non-empty bins for the reliability chart."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.searchsorted(edges[1:-1], scores)  # what sklearn.calibration.calibration_curve does
    found: list[CalibrationBin] = []
    error = 0.0
    for i in range(bins):
        inside = which == i
        count = int(inside.sum())
        if not count:
            continue
        mean_score, rate = float(scores[inside].mean()), float(labels[inside].mean())
        error += count / len(scores) * abs(rate - mean_score)
        found.append(CalibrationBin(float(edges[i]), float(edges[i + 1]), count, mean_score, rate))
    return error, found


def pearson(x: np.ndarray, y: np.ndarray) -> Estimate | None:
    """Pearson's r with Fisher's z interval (scipy's ``pearsonr(...).confidence_interval()``); None when
    fewer than 4 pairs or a constant side."""
    n = len(x)
    if n < 4 or float(np.std(x)) == 0.0 or float(np.std(y)) == 0.0:
        return None
    r = float(np.corrcoef(x, y)[0, 1])
    r = max(-1.0, min(1.0, r))
    if abs(r) == 1.0:
        return Estimate(r, r, r, "fisher-z")
    z, half = math.atanh(r), Z95 / math.sqrt(n - 3)
    return Estimate(r, math.tanh(z - half), math.tanh(z + half), "fisher-z")
