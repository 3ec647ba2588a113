"""Prometheus text -> rates and quantiles, on the formats the real servers expose."""

from __future__ import annotations

import pytest

from app.endpoints.http import HTTP_RECIPE
from app.endpoints.mlserver import MLSERVER_RECIPE
from app.endpoints.prometheus import derive, histogram_quantile, read_counters
from app.endpoints.protocol import EndpointError

HTTP_TEXT = """# TYPE modeldeck_requests_total counter
modeldeck_requests_total{{model="churn",version="v3",status="ok"}} {ok}
modeldeck_requests_total{{model="churn",version="v3",status="error"}} {err}
modeldeck_requests_total{{model="other",version="v1",status="error"}} 999
# TYPE modeldeck_request_latency_seconds histogram
modeldeck_request_latency_seconds_bucket{{model="churn",le="0.1"}} {b1}
modeldeck_request_latency_seconds_bucket{{model="churn",le="0.2"}} {b2}
modeldeck_request_latency_seconds_bucket{{model="churn",le="+Inf"}} {b2}
modeldeck_request_latency_seconds_sum{{model="churn"}} {s}
modeldeck_request_latency_seconds_count{{model="churn"}} {b2}
"""


def test_rates_come_from_the_interval_and_other_models_are_ignored():
    before = read_counters(HTTP_TEXT.format(ok=90, err=10, b1=50, b2=100, s=10), HTTP_RECIPE, "churn", ts=0.0)
    after = read_counters(HTTP_TEXT.format(ok=180, err=20, b1=50, b2=200, s=25), HTTP_RECIPE, "churn", ts=10.0)
    figures = derive(after, before, HTTP_RECIPE)
    assert figures.request_rate == pytest.approx(10.0)  # 100 requests in 10 s
    assert figures.error_rate == pytest.approx(0.1)
    # All 100 new observations fell in (0.1, 0.2]: the interval's median is interpolated in that bucket.
    assert figures.latency_ms["p50"] == pytest.approx(150.0)
    assert figures.latency_ms["mean"] == pytest.approx(150.0)
    # How many requests those figures rest on (the fleet keeps the log's below a bar: app/views/fleet.py).
    assert figures.window_requests == pytest.approx(100)
    assert derive(before, None, HTTP_RECIPE).window_requests is None  # one scrape: no window yet


def test_a_restarted_server_resets_counters_without_negative_rates():
    before = read_counters(HTTP_TEXT.format(ok=900, err=100, b1=500, b2=1000, s=100), HTTP_RECIPE, "churn", ts=0.0)
    after = read_counters(HTTP_TEXT.format(ok=9, err=1, b1=5, b2=10, s=1), HTTP_RECIPE, "churn", ts=5.0)
    figures = derive(after, before, HTTP_RECIPE)
    assert figures.request_rate == pytest.approx(2.0) and figures.error_rate == pytest.approx(0.1)


def test_histogram_quantile_matches_prometheus_interpolation():
    buckets = {0.1: 10.0, 0.5: 60.0, 1.0: 100.0, float("inf"): 100.0}
    assert histogram_quantile(0.5, buckets) == pytest.approx(0.1 + 0.4 * (50 - 10) / 50)
    assert histogram_quantile(0.99, {0.1: 10.0, float("inf"): 100.0}) == 0.1  # beyond the last bound


def test_mlserver_summary_without_quantiles_gives_the_mean():
    text = """# TYPE model_infer_request_success_total counter
model_infer_request_success_total{model="clf",version="v1"} 4.0
# TYPE model_infer_request_failure_total counter
model_infer_request_failure_total{model="clf",version="v1"} 1.0
# TYPE model_infer_request_duration summary
model_infer_request_duration_count{model="clf",version="v1"} 5.0
model_infer_request_duration_sum{model="clf",version="v1"} 0.05
"""
    counters = read_counters(text, MLSERVER_RECIPE, "clf", ts=1.0)
    assert (counters.requests, counters.errors) == (5.0, 1.0)
    assert derive(counters, None, MLSERVER_RECIPE).latency_ms == {"mean": pytest.approx(10.0)}


def test_garbage_is_an_endpoint_error_not_a_crash():
    with pytest.raises(EndpointError, match="not Prometheus text"):
        read_counters("\x00{{{ not metrics\n", HTTP_RECIPE, "churn", ts=0.0)
