"""Production quality statistics (issue 17 item 2) against scikit-learn and scipy on the same numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats
from sklearn.calibration import calibration_curve
from sklearn.metrics import log_loss, mean_absolute_error, mean_squared_error, roc_auc_score

from app.quality import stats


@pytest.fixture
def classified() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    scores = np.round(rng.random(2000), 2)  # rounded: ties, which AUC must count as half
    labels = (rng.random(2000) < scores ** 1.5).astype(int)  # over-confident: a real calibration error
    return scores, labels


def test_point_estimates_match_scikit_learn(classified):
    scores, labels = classified
    assert stats.auc(scores, labels) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
    assert stats.log_loss(scores, labels) == pytest.approx(log_loss(labels, scores), abs=1e-12)
    predicted, actual = scores * 10, labels * 10 + scores
    assert stats.mae(predicted, actual) == pytest.approx(mean_absolute_error(actual, predicted), abs=1e-12)
    assert stats.rmse(predicted, actual) == pytest.approx(math.sqrt(mean_squared_error(actual, predicted)), abs=1e-12)
    assert stats.auc(scores, np.ones_like(labels)) is None  # one class: no AUC, not a crash


def test_calibration_bins_and_ece_match_sklearns_calibration_curve(classified):
    scores, labels = classified
    ece, bins = stats.calibration(scores.astype(float), labels.astype(float))
    prob_true, prob_pred = calibration_curve(labels, scores, n_bins=10, strategy="uniform")
    assert [b.positive_rate for b in bins] == pytest.approx(list(prob_true), abs=1e-12)
    assert [b.mean_score for b in bins] == pytest.approx(list(prob_pred), abs=1e-12)
    counts = np.array([b.n for b in bins])
    assert counts.sum() == len(scores)
    assert ece == pytest.approx(float(np.sum(counts / len(scores) * np.abs(prob_true - prob_pred))), abs=1e-12)
    assert ece > 0.05  # the fixture is miscalibrated on purpose, and the number says so


def test_wilson_matches_scipy_binomtest():
    for hits, n in ((0, 10), (7, 10), (950, 1000), (10, 10)):
        got = stats.wilson(hits, n)
        ci = scipy_stats.binomtest(hits, n).proportion_ci(confidence_level=0.95, method="wilson")
        assert (got.low, got.high) == pytest.approx((ci.low, ci.high), abs=1e-9)
    assert stats.wilson(0, 0) is None


def test_pearson_and_its_interval_match_scipy():
    rng = np.random.default_rng(3)
    x = rng.random(300)
    y = 2 * x + rng.normal(0, 0.5, 300)
    got = stats.pearson(x, y)
    ref = scipy_stats.pearsonr(x, y)
    ci = ref.confidence_interval(confidence_level=0.95)
    assert (got.value, got.low, got.high) == pytest.approx((ref.statistic, ci.low, ci.high), abs=1e-9)
    assert stats.pearson(x[:3], y[:3]) is None and stats.pearson(np.ones(10), y[:10]) is None


def test_bootstrap_interval_is_close_to_scipys_percentile_bootstrap(classified):
    scores, labels = classified
    got = stats.bootstrap(stats.log_loss, scores, labels, resamples=2000, seed=1)
    ref = scipy_stats.bootstrap((scores, labels), lambda s, y: stats.log_loss(s, y), paired=True, vectorized=False,
                                n_resamples=2000, method="percentile", random_state=1).confidence_interval
    assert got.low < got.value < got.high
    # Different draws, the same distribution: the bounds agree to well within the interval's width.
    width = ref.high - ref.low
    assert abs(got.low - ref.low) < 0.15 * width and abs(got.high - ref.high) < 0.15 * width
    assert stats.bootstrap(stats.log_loss, scores, labels, seed=1) == stats.bootstrap(stats.log_loss, scores, labels,
                                                                                      seed=1)  # reproducible
