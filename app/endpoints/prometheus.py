"""Prometheus text -> request rate, error rate and latency quantiles.

Counters are cumulative, so rates need two scrapes: ``read_counters`` takes one scrape,
``derive`` turns two of them into the figures an operator reads. Parsing is done by
``prometheus_client.parser`` (the reference parser), never by hand.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from app.endpoints.protocol import EndpointError, EndpointMetrics

QUANTILES = {"p50": 0.5, "p95": 0.95, "p99": 0.99}


@dataclass(frozen=True)
class Recipe:
    """Which metric names a serving system uses for requests, errors and latency.

    Sample names are as exposed (``foo_total``, ``foo_bucket``...). Samples carrying ``model_label``
    count only when it names our model; samples without it (a one-model endpoint) always count.
    """

    model_label: str = "model"
    requests: str | None = None  # every request
    successes: str | None = None  # or: successes + failures
    failures: str | None = None
    error_label: str | None = None  # with ``requests``: a request is an error when this label ...
    error_values: frozenset[str] = frozenset()  # ... has one of these values (or starts with "5" for codes)
    latency: str | None = None  # base name of a histogram or summary
    latency_total: str | None = None  # a counter of summed latency (TorchServe): gives the mean only
    latency_unit_ms: float = 1000.0  # one unit of the latency metric in milliseconds


@dataclass
class Counters:
    """One scrape, reduced to the numbers that matter for one model."""

    ts: float  # monotonic seconds when scraped
    requests: float | None = None
    errors: float | None = None
    buckets: dict[float, float] = field(default_factory=dict)  # le -> cumulative count
    latency_sum: float | None = None
    latency_count: float | None = None
    quantiles: dict[float, float] = field(default_factory=dict)  # summary: q -> value (metric units)


def _add(current: float | None, value: float) -> float:
    return value if current is None else current + value


def _same(name: str, wanted: str | None) -> bool:
    """Counter names match with or without ``_total``: the parser adds it to counters exposed without."""
    if not wanted:
        return False
    return name == wanted or name == f"{wanted}_total" or (wanted.endswith("_total") and name == wanted[:-6])


def _is_error(value: str, wanted: frozenset[str]) -> bool:
    return value in wanted or (not wanted and value.startswith("5"))


def read_counters(text: str, recipe: Recipe, model: str, *, ts: float) -> Counters:
    """Parse one scrape. Raises EndpointError when the text is not Prometheus exposition format."""
    from prometheus_client.parser import text_string_to_metric_families

    out = Counters(ts=ts)
    try:
        samples = [s for family in text_string_to_metric_families(text) for s in family.samples]
    except Exception as exc:  # the parser raises ValueError and friends on garbage
        raise EndpointError(f"metrics are not Prometheus text ({type(exc).__name__})") from None
    lat = recipe.latency
    for sample in samples:
        owner = sample.labels.get(recipe.model_label)
        if owner is not None and owner != model:
            continue
        name, value = sample.name, float(sample.value)
        if math.isnan(value):
            continue
        if _same(name, recipe.requests):
            out.requests = _add(out.requests, value)
            if recipe.error_label:
                label = sample.labels.get(recipe.error_label, "")
                out.errors = _add(out.errors, value if _is_error(label, recipe.error_values) else 0.0)
        elif _same(name, recipe.successes):
            out.requests = _add(out.requests, value)
            out.errors = _add(out.errors, 0.0)
        elif _same(name, recipe.failures):
            out.requests = _add(out.requests, value)
            out.errors = _add(out.errors, value)
        if lat:
            if name == f"{lat}_bucket" and "le" in sample.labels:
                le = float(sample.labels["le"])
                out.buckets[le] = out.buckets.get(le, 0.0) + value
            elif name == f"{lat}_sum":
                out.latency_sum = _add(out.latency_sum, value)
            elif name == f"{lat}_count":
                out.latency_count = _add(out.latency_count, value)
            elif name == lat and "quantile" in sample.labels:
                q = float(sample.labels["quantile"])
                out.quantiles[q] = max(out.quantiles.get(q, value), value)
        if _same(name, recipe.latency_total):
            out.latency_sum = _add(out.latency_sum, value)
    if recipe.latency_total and out.latency_sum is not None:
        out.latency_count = out.requests
    return out


def histogram_quantile(q: float, buckets: dict[float, float]) -> float | None:
    """Prometheus' estimate: linear interpolation inside the bucket holding the q-th observation."""
    edges = sorted(buckets)
    if not edges or math.isinf(edges[0]) and len(edges) == 1:
        return None
    total = buckets[edges[-1]]
    if total <= 0:
        return None
    rank = q * total
    lower_edge, lower_count = 0.0, 0.0
    for edge in edges:
        count = buckets[edge]
        if count >= rank:
            if math.isinf(edge):
                return lower_edge  # beyond the last finite bucket: its bound is the best we know
            if count == lower_count:
                return edge
            return lower_edge + (edge - lower_edge) * (rank - lower_count) / (count - lower_count)
        lower_edge, lower_count = edge, count
    return lower_edge


def _delta(cur: float | None, prev: float | None) -> float | None:
    """Increase of a counter between two scrapes (Prometheus' convention for appearing and reset counters)."""
    if cur is None:
        return None
    if prev is None or cur < prev:  # the counter appeared since, or the server restarted: it started at 0
        return cur
    return cur - prev


def derive(cur: Counters, prev: Counters | None, recipe: Recipe) -> EndpointMetrics:
    """Figures for the interval between two scrapes; latency falls back to the cumulative view."""
    rate = error_rate = window_requests = None
    if prev is not None and cur.ts > prev.ts:
        d_req = _delta(cur.requests, prev.requests)
        # Without a request counter, the latency histogram's count is the number of requests.
        window_requests = d_req if d_req is not None else _delta(cur.latency_count, prev.latency_count)
        if d_req is not None:
            rate = d_req / (cur.ts - prev.ts)
            d_err = _delta(cur.errors, prev.errors)
            if d_err is not None and d_req > 0:
                error_rate = min(1.0, d_err / d_req)
            elif d_req == 0 and cur.errors is not None:
                error_rate = 0.0
    latency: dict[str, float] = {}
    scale = recipe.latency_unit_ms
    buckets = cur.buckets
    if prev is not None and all(cur.buckets.get(k, -1) >= v for k, v in prev.buckets.items()):
        window = {k: v - prev.buckets.get(k, 0.0) for k, v in cur.buckets.items()}
        if window and max(window.values()) > 0:
            buckets = window
    for label, q in QUANTILES.items():
        value = histogram_quantile(q, buckets) if buckets else cur.quantiles.get(q)
        if value is not None:
            latency[label] = value * scale
    d_sum, d_count = cur.latency_sum, cur.latency_count
    if prev is not None:
        s, c = _delta(cur.latency_sum, prev.latency_sum), _delta(cur.latency_count, prev.latency_count)
        if s is not None and c:
            d_sum, d_count = s, c
    if d_sum is not None and d_count:
        latency["mean"] = d_sum / d_count * scale
    return EndpointMetrics(request_rate=rate, error_rate=error_rate, latency_ms=latency,
                           window_requests=window_requests)
