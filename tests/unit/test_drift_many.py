"""The statistics of many windows at once (``stats.drift_many``, what `modeldeck drift`, the drift screen,
watch and the console monitor compute windows with) equal each window computed alone, on random windows
holding what logs hold: empty windows, None and NaN, numbers as text, booleans, infinities, objects, words,
categories the reference never saw. And the batched Wasserstein equals scipy's per window."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from app.drift import stats
from app.drift.stats import Sample, Windows, category_key, drift_many, feature_drift


def _numeric_value(rng: np.random.Generator, centre: float, few: bool) -> object:
    roll = rng.random()
    value = float(rng.integers(0, 4)) if few else float(rng.normal(centre, 3))
    if roll < 0.05:
        return None
    if roll < 0.08:
        return math.nan
    if roll < 0.12:
        return str(round(value, 2))  # a number logged as text
    if roll < 0.15:
        return bool(rng.integers(0, 2))
    if roll < 0.17:
        return math.inf if rng.random() < 0.5 else -math.inf
    if roll < 0.18:
        return {"nested": 1}  # not a number: missing
    if roll < 0.19:
        return "n/a"
    return int(value) if few and roll < 0.5 else value


def _windows(rng: np.random.Generator, make) -> list[list[object]]:
    out = []
    for _ in range(int(rng.integers(1, 25))):
        size = 0 if rng.random() < 0.15 else int(rng.integers(1, 80))  # some windows empty
        out.append([make() for _ in range(size)])
    return out


def _same(batched: stats.FeatureDrift, alone: stats.FeatureDrift) -> None:
    assert (batched.method, batched.n_current, batched.n_reference, batched.drifted, batched.kind) == \
        (alone.method, alone.n_current, alone.n_reference, alone.drifted, alone.kind)
    for mine, theirs in ((batched.value, alone.value), (batched.psi, alone.psi)):
        if theirs is None or math.isnan(theirs):
            assert mine is None or math.isnan(mine)
        else:
            assert mine == pytest.approx(theirs, rel=1e-12, abs=1e-12)


REFERENCES = {
    "many values, big reference (Wasserstein)": lambda rng: rng.normal(10, 3, 3000),
    "many values, small reference (KS)": lambda rng: rng.normal(10, 3, 400),
    "few values, big reference (Jensen-Shannon)": lambda rng: rng.integers(0, 3, 2000).astype(float),
    "few values, small reference (chi-squared)": lambda rng: rng.integers(0, 3, 300).astype(float),
    "two values, small reference (Z-test)": lambda rng: rng.integers(0, 2, 300).astype(float),
}


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("case", sorted(REFERENCES))
def test_numeric_windows_at_once_equal_each_window_alone(case, seed):
    rng = np.random.default_rng(seed)
    reference = Sample.numeric(REFERENCES[case](rng))
    few = "few" in case or "two" in case
    raw = _windows(rng, lambda: _numeric_value(rng, 10 + rng.normal(0, 1), few))
    bounds = np.concatenate(([0], np.cumsum([len(w) for w in raw]))).astype(np.int64)
    batched = drift_many("x", reference, Windows.numeric([v for w in raw for v in w], bounds))
    assert len(batched) == len(raw)
    for window, result in zip(raw, batched):
        alone = feature_drift("x", reference, Sample.numeric(window))
        _same(result, alone)
        if result.method == stats.WASSERSTEIN and result.n_current:
            values = Sample.numeric(window).values
            expected = scipy_stats.wasserstein_distance(reference.values, values) / max(np.std(reference.values),
                                                                                        stats.STD_FLOOR)
            assert result.value == pytest.approx(expected, rel=1e-9, abs=1e-12)
        if result.method == stats.KS and result.n_current:
            assert result.value == scipy_stats.ks_2samp(reference.values, Sample.numeric(window).values).pvalue


CATEGORIES = ["a", "b", "c", True, False, 1, 2.5, None, "unseen", "zz"]


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("reference_rows", [3000, 400])
def test_categorical_windows_at_once_equal_each_window_alone(reference_rows, seed):
    rng = np.random.default_rng(100 + seed)
    known = ["a", "b", "c", "true"] if seed % 2 else ["a", "b"]  # two categories: the Z-test
    reference = Sample.categorical(rng.choice(known, reference_rows).tolist())
    raw = _windows(rng, lambda: CATEGORIES[int(rng.integers(0, len(CATEGORIES) if rng.random() < 0.2 else 3))])
    window_of = np.repeat(np.arange(len(raw)), [len(w) for w in raw])
    batched = drift_many("c", reference, Windows.categorical([category_key(v) for w in raw for v in w], window_of,
                                                             len(raw)))
    for window, result in zip(raw, batched):
        _same(result, feature_drift("c", reference, Sample.categorical(window)))
        if result.method == stats.CHI_SQUARED and result.n_current:
            counts = Sample.categorical(window).counts
            keys = sorted(set(counts) | set(reference.counts))
            observed = np.array([counts.get(k, 0) for k in keys], dtype=float)
            expected = np.array([reference.counts.get(k, 0) for k in keys], dtype=float)
            if expected.min() > 0:
                want = scipy_stats.chisquare(observed, expected * observed.sum() / expected.sum()).pvalue
                assert result.value == pytest.approx(want, rel=1e-9, abs=1e-15)


def test_a_threshold_applies_to_every_window():
    reference = Sample.numeric(np.random.default_rng(1).normal(0, 1, 2000))
    windows = Windows.numeric([0.0, 0.1, 5.0, 5.2, 5.1], np.array([0, 2, 5], dtype=np.int64))
    results = drift_many("x", reference, windows, threshold=3.0)
    assert [r.threshold for r in results] == [3.0, 3.0]
    assert [r.drifted for r in results] == [False, True]  # 5 standard deviations away: over 3.0
