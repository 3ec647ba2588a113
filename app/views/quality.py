"""The model screen's Quality tab: the model's production quality over the last days, read in one call
(app/quality/production.py) in the panel's thread worker."""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.timeutil import now_ms

if TYPE_CHECKING:
    from app.config.settings import SuccessConfig
    from app.quality.production import QualityReport
    from app.store.location import StoreLocation

DAY_MS = 86_400_000
SINCE_MS = 14 * DAY_MS  # late labels: two weeks, a window a day
WINDOW_MS = DAY_MS


def quality_view(location: "StoreLocation", model: str, now: int | None = None, *, since_ms: int = SINCE_MS,
                 window_ms: int = WINDOW_MS, success: "SuccessConfig | None" = None) -> "QualityReport":
    """The report; with ``success`` (the model's ``[models.NAME.success]``), its criteria judged over their
    own window too, as ``modeldeck quality`` and the readiness Performance benchmarks area judge them."""
    from dataclasses import replace

    from app.quality.production import quality_report
    from app.quality.success import judge_window

    until = now_ms() if now is None else now
    with location.open() as store:
        report = quality_report(store, model, until - since_ms, until, window_ms)
        if success is not None:
            report = replace(report, success=judge_window(store, success, model, until),
                             success_window=success.window)
        return report


def reliability_spec(report: "QualityReport"):  # -> app.views.charts.LineChart
    """The reliability diagram as chart data: the observed positive rate per score bin, against the bin's
    mean score (where a perfectly calibrated model's points lie)."""
    from app.views.charts import LineChart

    bins = report.reliability
    return LineChart(title=f"reliability (ECE {report.ece:.3f})" if report.ece is not None else "reliability",
                     name="observed positive rate", labels=tuple(f"{b.low:.1f}-{b.high:.1f}" for b in bins),
                     values=tuple(b.positive_rate for b in bins),
                     extra=(("mean score (perfect calibration)", tuple(b.mean_score for b in bins)),))
