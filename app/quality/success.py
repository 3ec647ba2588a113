"""Declared success criteria (``[models.NAME.success]``), judged on production: quality from late labels and
the traffic's error rate and p95 latency over the criteria's window. A criterion that cannot be measured
(no labels yet) is "not measured", never met."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.config.settings import SuccessConfig
    from app.quality.production import QualityReport
    from app.store import Store

# criterion -> (metric, at least (True) or at most (False))
_QUALITY = {"min_accuracy": ("accuracy", True), "min_auc": ("auc", True), "max_log_loss": ("log_loss", False),
            "max_mae": ("mae", False), "max_rmse": ("rmse", False)}


@dataclass(frozen=True)
class Criterion:
    name: str  # accuracy, error rate, ...
    required: str  # ">= 0.9"
    measured: str  # "0.912 [0.901, 0.922] on 4,210 labels", or "not measured (...)"
    met: bool | None  # None: not measured


def judge(store: "Store", config: "SuccessConfig", model: str, report: "QualityReport") -> list[Criterion]:
    """Each declared criterion against ``report`` (the quality over the window) and the window's traffic."""
    found: list[Criterion] = []
    overall = report.overall
    for key, (metric, at_least) in _QUALITY.items():
        limit = getattr(config, key)
        if limit is None:
            continue
        required = f"{'>=' if at_least else '<='} {limit:g}"
        estimate = overall.metrics.get(metric)
        if estimate is None:
            found.append(Criterion(metric, required, f"not measured (no labelled answers with {metric})", None))
            continue
        interval = f" [{estimate.low:.3f}, {estimate.high:.3f}]" if estimate.low is not None else ""
        met = estimate.value >= limit if at_least else estimate.value <= limit
        found.append(Criterion(metric, required, f"{estimate.value:.3f}{interval} on {overall.labelled:,} labels",
                               met))
    if config.max_error_rate is not None or config.max_p95_latency_ms is not None:
        stats = store.predictions.window_stats(model, report.since, report.until)
        if config.max_error_rate is not None:
            rate = stats.error_rate
            found.append(Criterion("error rate", f"<= {config.max_error_rate:.2%}",
                                   "not measured (no traffic)" if rate is None else
                                   f"{rate:.2%} of {stats.requests:,} answers",
                                   None if rate is None else rate <= config.max_error_rate))
        if config.max_p95_latency_ms is not None:
            p95 = stats.p95_latency_ms
            found.append(Criterion("p95 latency", f"<= {config.max_p95_latency_ms:g} ms",
                                   "not measured (no latency logged)" if p95 is None else f"{p95:.1f} ms",
                                   None if p95 is None else p95 <= config.max_p95_latency_ms))
    return found


def judge_window(store: "Store", config: "SuccessConfig", model: str, until: int, *,
                 version: str | None = None, intervals: bool = True) -> list[Criterion]:
    """Each declared criterion over the ``config.window`` ending at ``until`` (one report over the whole window).
    ``intervals=False``: point values only (the readiness check, run for every model on each fleet refresh)."""
    from app.quality.production import quality_report
    from app.quality.stats import RESAMPLES
    from app.timeutil import parse_duration_ms

    span = parse_duration_ms(config.window)
    report = quality_report(store, model, until - span, until, span, version=version, per_window=False,
                            resamples=RESAMPLES if intervals else 0)
    return judge(store, config, model, report)


def verdict(criteria: list[Criterion]) -> str:
    """One line for the readiness evidence and the Quality tab: counts, then each criterion missed or unmeasured."""
    met = sum(c.met is True for c in criteria)
    missed = [c for c in criteria if c.met is False]
    unmeasured = [c for c in criteria if c.met is None]
    parts = [f"{met} of {len(criteria)} met"]
    parts += [f"{c.name} {c.measured.split(' on ')[0].split(' of ')[0]} needs {c.required}" for c in missed]
    parts += [f"{c.name} not measured" for c in unmeasured]
    return "; ".join(parts)
