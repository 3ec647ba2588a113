"""Each drift statistic against scipy and against values worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from app.drift import stats as drift
from app.drift.stats import Sample


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261125)


def test_wasserstein_matches_scipy_normed_by_population_std(rng):
    ref, cur = rng.normal(0, 2, 5000), rng.normal(0.3, 2.5, 4000)
    expected = stats.wasserstein_distance(ref, cur) / np.std(ref, ddof=0)
    assert drift.wasserstein_normed(ref, cur) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("seed", range(6))
def test_wasserstein_of_a_window_against_a_kept_reference_matches_scipy(seed):
    """The per-window form (prefix sums kept with the reference) gives scipy's value: continuous values at
    every magnitude, heavy ties, a window of one value, windows outside the reference's range."""
    rng = np.random.default_rng(seed)
    scale, loc = 10.0 ** rng.integers(-3, 7), 10.0 ** rng.integers(-2, 7)
    cases = [(rng.normal(loc, scale, 4000), rng.normal(loc * 1.01, scale, 350)),
             (rng.integers(0, 5, 3000).astype(float), rng.integers(0, 7, 200).astype(float)),
             (rng.normal(0, 1, 1000), np.array([0.25])),
             (rng.normal(0, 1, 1000), rng.normal(50, 1, 30)), (rng.normal(0, 1, 1000), rng.normal(-50, 1, 30))]
    for ref, cur in cases:
        reference = Sample(kind="numeric", values=np.sort(ref))
        window = drift.Windows.of("numeric", [Sample.numeric(cur)])
        got = drift._wasserstein_many(reference, window)[0]
        assert got == pytest.approx(stats.wasserstein_distance(ref, cur), rel=1e-9, abs=1e-12)
        assert drift._wasserstein_many(reference, window)[0] == got  # the kept prefix sums reused


def test_wasserstein_by_hand():
    # Shifting [0, 1] by one moves all the mass one unit; the population std of [0, 1] is 0.5.
    assert drift.wasserstein_normed([0.0, 1.0], [1.0, 2.0]) == pytest.approx(2.0)


def test_wasserstein_std_is_floored():
    assert drift.wasserstein_normed([3.0, 3.0, 3.0], [3.0, 3.0, 4.0]) == pytest.approx((1 / 3) / 0.001)


def test_ks_is_scipy_p_value(rng):
    ref, cur = rng.normal(0, 1, 800), rng.normal(0.2, 1, 600)
    assert drift.ks_p_value(ref, cur) == stats.ks_2samp(ref, cur).pvalue


def test_jensen_shannon_matches_scipy_natural_log(rng):
    p, q = rng.random(7), rng.random(7)
    assert drift.jensen_shannon_distance(p, q) == pytest.approx(jensenshannon(p, q), rel=1e-12)


def test_jensen_shannon_of_disjoint_categories_is_sqrt_ln2():
    value = drift.jensen_shannon(Sample.categorical(["a"] * 10), Sample.categorical(["b"] * 4))
    assert value == pytest.approx(math.sqrt(math.log(2)))


def test_jensen_shannon_bins_numeric_with_more_than_20_reference_values(rng):
    ref_values = np.repeat(np.arange(21, dtype=float), 10)
    cur_values = rng.normal(10, 3, 300)
    ref, cur = Sample.numeric(ref_values), Sample.numeric(cur_values)
    p, q = drift.jensen_shannon_shares(ref, cur)
    edges = np.histogram_bin_edges(np.concatenate([ref_values, cur_values]), bins="sturges")
    assert len(p) == len(edges) - 1
    expected = jensenshannon(np.histogram(ref_values, edges)[0] / 210, np.histogram(cur_values, edges)[0] / 300)
    assert drift.jensen_shannon(ref, cur) == pytest.approx(expected, rel=1e-12)


def test_jensen_shannon_keeps_one_bin_per_value_at_20_reference_values():
    ref = Sample.numeric(np.repeat(np.arange(20, dtype=float), 10))
    cur = Sample.numeric([0.0, 1.0, 25.0])
    p, q = drift.jensen_shannon_shares(ref, cur)
    assert len(p) == 21  # 20 reference values plus the current's new one, no zero filling
    assert sorted(p.tolist()).count(0.0) == 1


def test_chi_squared_matches_scipy_with_expected_from_reference_shares():
    ref = {"a": 50, "b": 30, "c": 20}
    cur = {"a": 30, "b": 30, "c": 40}
    f_obs = [30, 30, 40]
    f_exp = [50 * 100 / 100, 30 * 100 / 100, 20 * 100 / 100]
    assert drift.chi_squared_p_value(ref, cur) == pytest.approx(stats.chisquare(f_obs, f_exp).pvalue, rel=1e-12)


def test_chi_squared_scales_reference_to_current_total():
    ref = {"a": 500, "b": 300, "c": 200}
    cur = {"a": 30, "b": 30, "c": 40}
    expected = stats.chisquare([30, 30, 40], [50, 30, 20]).pvalue
    assert drift.chi_squared_p_value(ref, cur) == pytest.approx(expected, rel=1e-12)


def test_chi_squared_with_a_category_unknown_to_the_reference_is_certain_drift():
    assert drift.chi_squared_p_value({"a": 5, "b": 5}, {"a": 5, "b": 4, "new": 1}) == 0.0


def test_z_test_by_hand():
    # p1 = 0.4, p2 = 0.6, pooled 0.5: z = -0.2 / sqrt(0.25 * 0.02) = -2.828...
    value = drift.z_test_p_value({"no": 60, "yes": 40}, {"no": 40, "yes": 60})
    z = 0.2 / math.sqrt(0.25 * 0.02)
    assert value == pytest.approx(2 * stats.norm.sf(z), rel=1e-9)
    assert value == pytest.approx(0.004677734981047, rel=1e-9)


def test_z_test_same_single_value_is_no_drift():
    assert drift.z_test_p_value({"x": 10}, {"x": 3}) == 1.0


def test_psi_categorical_by_hand():
    value = drift.psi(Sample.from_counts({"a": 50, "b": 50}), Sample.from_counts({"a": 90, "b": 10}))
    assert value == pytest.approx(0.4 * math.log(0.5 / 0.9) * -1 + 0.4 * math.log(0.5 / 0.1))


def test_psi_numeric_on_reference_deciles(rng):
    ref_values, cur_values = rng.normal(0, 1, 10_000), rng.normal(0.5, 1, 7_000)
    edges = np.concatenate(([-np.inf], np.quantile(ref_values, np.arange(1, 10) / 10), [np.inf]))
    ref_share = np.histogram(ref_values, edges)[0] / ref_values.size
    cur_share = np.histogram(cur_values, edges)[0] / cur_values.size
    expected = float(np.sum((ref_share - cur_share) * np.log(ref_share / cur_share)))
    assert drift.psi(Sample.numeric(ref_values), Sample.numeric(cur_values)) == pytest.approx(expected, rel=1e-9)


def test_psi_floors_empty_bins():
    ref = Sample.numeric(np.arange(100, dtype=float))
    cur = Sample.numeric([1000.0] * 50)  # everything above the reference: one bin holds it all
    ref_share = np.full(10, 0.1)
    cur_share = np.array([0.0001] * 9 + [1.0])
    expected = float(np.sum((ref_share - cur_share) * np.log(ref_share / cur_share)))
    assert drift.psi(ref, cur) == pytest.approx(expected)
    assert drift.psi_level(expected) == "major"


def test_missing_and_infinite_values_are_dropped():
    sample = Sample.numeric([1.0, None, float("nan"), float("inf"), "x", 2.0])
    assert sample.values.tolist() == [1.0, 2.0]
    assert Sample.categorical(["a", None, "b"]).counts == {"a": 1, "b": 1}


def test_category_keys_are_spelled_as_baselines_store_them():
    from app.drift.baselines import compute_baseline

    stored = compute_baseline([True, 2, 1.5, "x"], model="m", version="1", feature="f", kind="categorical")
    assert set(stored.categories) == {drift.category_key(v) for v in (True, 2, 1.5, "x")}
    assert drift.category_key(True) == "true"
    assert drift.category_key(None) is None


@pytest.mark.parametrize(("kind", "rows", "distinct", "method"), [
    ("numeric", 1000, 6, drift.KS),
    ("numeric", 1001, 6, drift.WASSERSTEIN),
    ("numeric", 1001, 5, drift.JENSEN_SHANNON),
    ("numeric", 1000, 5, drift.CHI_SQUARED),
    ("numeric", 1000, 3, drift.CHI_SQUARED),
    ("numeric", 1000, 2, drift.Z_TEST),
    ("categorical", 1000, 50, drift.CHI_SQUARED),
    ("categorical", 1000, 2, drift.Z_TEST),
    ("categorical", 1001, 2, drift.JENSEN_SHANNON),
    ("categorical", 1001, 50, drift.JENSEN_SHANNON),
])
def test_method_choice(kind, rows, distinct, method):
    assert drift.choose_method(kind, rows, distinct) == method


def test_distinct_values_count_both_sides_together():
    ref = Sample.numeric([1.0, 2.0, 3.0, 4.0, 5.0] * 200)  # 1000 rows, 5 values
    assert drift.feature_drift("f", ref, Sample.numeric([1.0, 2.0])).method == drift.CHI_SQUARED
    assert drift.feature_drift("f", ref, Sample.numeric([1.0, 6.0])).method == drift.KS  # sixth value in current
    assert drift.feature_drift("f", Sample.numeric([1.0, 2.0] * 500), Sample.numeric([1.0])).method == drift.Z_TEST


def test_reference_size_boundary_picks_hypothesis_test_or_distance(rng):
    cur = Sample.numeric(rng.normal(0, 1, 500))
    at_limit = drift.feature_drift("f", Sample.numeric(rng.normal(0, 1, 1000)), cur)
    above = drift.feature_drift("f", Sample.numeric(rng.normal(0, 1, 1001)), cur)
    assert (at_limit.method, at_limit.threshold) == (drift.KS, 0.05)
    assert (above.method, above.threshold) == (drift.WASSERSTEIN, 0.1)


def test_a_sampled_baseline_still_counts_its_full_row_count():
    ref = Sample(kind="numeric", values=np.sort(np.random.default_rng(1).normal(0, 1, 800)), rows=200_000)
    assert drift.feature_drift("f", ref, Sample.numeric(np.arange(10.0))).method == drift.WASSERSTEIN


def test_verdict_boundaries():
    assert drift.is_drifted(drift.KS, 0.05, 0.05)  # KS: p <= threshold
    assert not drift.is_drifted(drift.CHI_SQUARED, 0.05, 0.05)  # chi-squared and Z: p < threshold
    assert not drift.is_drifted(drift.Z_TEST, 0.05, 0.05)
    assert drift.is_drifted(drift.WASSERSTEIN, 0.1, 0.1)  # distances: value >= threshold
    assert not drift.is_drifted(drift.JENSEN_SHANNON, 0.0999, 0.1)
    assert not drift.is_drifted(drift.WASSERSTEIN, math.nan, 0.1)


def test_threshold_override_changes_the_verdict(rng):
    ref, cur = Sample.numeric(rng.normal(0, 1, 5000)), Sample.numeric(rng.normal(0.05, 1, 5000))
    default = drift.feature_drift("f", ref, cur)
    strict = drift.feature_drift("f", ref, cur, threshold=default.value / 2)
    assert not default.drifted and strict.drifted and strict.threshold == default.value / 2


def _result(feature: str, drifted: bool) -> drift.FeatureDrift:
    return drift.FeatureDrift(feature, "numeric", drift.WASSERSTEIN, 0.0, 0.1, drifted, None, 10, 10)


def test_dataset_drift_at_exactly_half():
    assert drift.dataset_drift([_result("a", True), _result("b", True), _result("c", False),
                                _result("d", False)]).drifted
    assert not drift.dataset_drift([_result("a", True), _result("b", False), _result("c", False)]).drifted


def test_dataset_drift_does_not_count_the_prediction():
    results = [_result("a", True), _result("b", False), _result("c", False),
               _result(drift.PREDICTION_FEATURE, True)]
    summary = drift.dataset_drift(results)
    assert (summary.n_features, summary.n_drifted, summary.drifted) == (3, 1, False)


def test_format_stat_never_reads_as_a_bigger_number_when_cut() -> None:
    from app.drift.stats import format_stat

    assert format_stat(7.5e-4) == "<0.001"  # was "7.5e-04", cut to "7.5e-0" in a 6-cell column
    assert format_stat(7.5e-4, 4) == "0.0008" and format_stat(3e-9, 4) == "<0.0001"
    assert [format_stat(v) for v in (0.0, 0.121, 6.9, 12.345, 123.45, 1234.5)] == \
        ["0.000", "0.121", "6.900", "12.35", "123.5", "1234"]
    assert format_stat(None) == "-" and format_stat(float("nan")) == "-"
    assert all(len(format_stat(v)) <= 6 for v in (1e-300, 0.5, 99.99, 999.9, 99_999.0, 3.2e12))
