"""What the drift screen shows, read in blocking calls (from the screen's thread workers; no Textual).

``read_view`` computes the windows that closed since the last look (app.drift.windows.update), judges the
model's alert rules on them, then reads the latest window per feature, each feature's recent series and the
prediction's distribution per window. ``read_histogram`` bins one feature's baseline against a window.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from app.text import clean
from app.views.charts import BarChart, LineChart

if TYPE_CHECKING:
    from app.config.settings import Settings
    from app.drift.windows import PredictionWindow
    from app.store import Store
    from app.store.location import StoreLocation

HOUR_MS = 3_600_000
DAY_MS = 86_400_000
SERIES_WINDOWS = 48  # windows shown in the line chart and kept for sparklines
COMPUTE_LOOKBACK_WINDOWS = SERIES_WINDOWS  # how far back the screen computes missing windows
HISTOGRAM_BINS = 8
PREDICTION = "__prediction__"


@dataclass
class FeatureRow:
    feature: str
    method: str
    value: float
    threshold: float
    drifted: bool
    psi: float | None
    n_current: int
    ratio: float
    starts: list[int] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    since: int | None = None  # drifting since: the first window of the current run of drifting windows
    run_windows: int = 0  # windows in that run


@dataclass
class DriftView:
    rows: list[FeatureRow]
    window_start: int | None
    window_ms: int
    version: str | None
    n_drifted: int
    n_features: int
    dataset_drifted: bool
    new_windows: int
    computing: bool = False  # stored windows shown while the missing ones are computed
    pending: int = 0  # how many windows are still to compute (said while computing)
    past_at: int | None = None  # viewing the past: the time travelled to this view was read at
    busy_with: str | None = None  # who held the model's drift lock (the console's monitor, a watch): try again soon
    prediction: list["PredictionWindow"] = field(default_factory=list)
    baseline_median: float | None = None  # of the prediction, for the prediction chart
    n_current: int = 0  # current rows of the window shown
    min_rows: int = 100  # fewer current rows than this: the window is not judged
    judged: bool = True  # the window shown has enough rows (else no window has: shown as too few rows)
    newer: tuple[int, int] | None = None  # (start, rows) of a newer window with too few rows, not judged


def read_view(location: "StoreLocation", settings: "Settings", model: str, now: int, window_ms: int, *,
              compute: bool = True, known: "list[PredictionWindow] | None" = None,
              cancelled: Callable[[], bool] = lambda: False, max_windows: int | None = None,
              past: bool = False) -> DriftView | None:
    """Compute the missing windows (unless ``compute`` is false; the newest ``max_windows`` of them when
    given, the rest said as ``pending``), then the latest window per feature, each feature's recent series
    and the prediction's distribution per window (``known`` closed windows are reused, not read again).
    None when ``cancelled()`` turned true on the way (the screen is gone): the computing stops between
    windows and the reading between chunks.

    ``past``: ``now`` is a time the console travelled to. Only windows closed by then are shown, and
    nothing is computed or stored (viewing the past never writes)."""
    from app.alerts.monitor import refresh_model
    from app.drift.windows import min_rows_for, pending_windows, prediction_windows, stored_points
    from app.store.gc_pause import gc_paused

    since = now - SERIES_WINDOWS * window_ms
    lookback = now - COMPUTE_LOOKBACK_WINDOWS * window_ms
    # The windows' rows are hundreds of thousands of short-lived tuples, none in a cycle. A full collection
    # they trigger walks them all while holding the GIL: in the console (this runs in the drift screen's
    # worker) that froze the UI thread 150-200 ms each time, several times per day-window read at 10M rows.
    with gc_paused(), location.open() as store:
        new_windows, pending, busy_with = 0, 0, None
        if compute and not past:
            # The one monitor flow (console monitor, CLI, this screen): windows, then the model's rules.
            done = refresh_model(store, settings, model, now=now, window_ms=window_ms, since=lookback,
                                 max_windows=max_windows, cancelled=cancelled)
            new_windows, busy_with = done.windows, done.busy_with
        if not past and (not compute or max_windows is not None):
            pending = len(pending_windows(store, model, window_ms=window_ms, since=lookback, now=now))
        # Viewing the past: a window is shown once it had closed by then (its end at or before ``now``).
        points = stored_points(store, model, window_ms=window_ms, since=since,
                               until=now - window_ms + 1 if past else None)
        # Closed windows do not change: only the open one and those after the last known are read again.
        kept = [w for w in (known or []) if w.start + window_ms <= now and w.start >= since][:-1]
        start = kept[-1].start + window_ms if kept else since
        if cancelled():
            return None
        prediction = kept + prediction_windows(store, model, window_ms=window_ms, since=start, until=now + 1,
                                               cancelled=cancelled)
        if cancelled():
            return None
        view = _view(points, window_ms, new_windows, min_rows_for(settings, model))
        median = _baseline_median(store, model, view.version)
    view.computing, view.pending, view.prediction, view.baseline_median = pending > 0, pending, prediction, median
    view.busy_with = busy_with
    return view


def _baseline_median(store: "Store", model: str, version: str | None) -> float | None:
    if version is None:
        return None
    baseline = next((b for b in store.baselines.for_version(model, version, with_sample=False)
                     if b.feature == PREDICTION), None)
    if baseline is None or baseline.kind != "numeric" or not baseline.edges or len(baseline.edges) != 11:
        return None
    return baseline.edges[5]  # decile edges: the sixth is the median


def _view(points: list, window_ms: int, new_windows: int, min_rows: int = 100) -> DriftView:  # type: ignore[type-arg]
    """The window to judge by (the newest with at least ``min_rows`` current rows, as on the fleet and for
    the alert rules) and every feature's series, windows with too few rows left out of the series."""
    from app.drift.verdicts import dataset_drift, drift_ratio, window_rows
    from app.drift.windows import verdict_window

    if not points:
        return DriftView([], None, window_ms, None, 0, 0, False, new_windows, min_rows=min_rows)
    rows_in: dict[int, int] = {}
    for p in points:
        rows_in[p.window_start] = max(rows_in.get(p.window_start, 0), p.n_current)
    newest = max(rows_in)
    current = verdict_window(points, min_rows)
    judged = bool(current)
    if not judged:
        current = [p for p in points if p.window_start == newest]  # shown, marked as too few rows
    shown = current[0].window_start
    series: dict[str, tuple[list[int], list[float]]] = {}
    for p in points:
        starts, values = series.setdefault(p.feature, ([], []))
        starts.append(p.window_start)
        # A handful of rows gives wild values (PSI 7 from 3 rows): a gap in the series, not a spike.
        values.append(p.value if rows_in[p.window_start] >= min_rows else float("nan"))
    from app.drift.windows import drifting_since

    runs = drifting_since(points, min_rows)
    rows = [FeatureRow(feature=p.feature, method=p.method, value=p.value, threshold=p.threshold,
                       drifted=p.drifted and judged, psi=p.psi, n_current=p.n_current,
                       ratio=drift_ratio(p.method, p.value, p.threshold) if judged else 0.0,
                       starts=series[p.feature][0], values=series[p.feature][1],
                       since=runs[p.feature].since if judged and p.feature in runs else None,
                       run_windows=runs[p.feature].windows if judged and p.feature in runs else 0) for p in current]
    # Most drifted first, the prediction among the features by its own drift.
    rows.sort(key=lambda r: (not r.drifted, -r.ratio, r.feature))
    summary = dataset_drift(current)
    newer = (newest, rows_in[newest]) if judged and newest != shown else None
    return DriftView(rows, shown, window_ms, current[0].version, summary.n_drifted if judged else 0,
                     summary.n_features, summary.drifted and judged, new_windows, n_current=window_rows(current),
                     min_rows=min_rows, judged=judged, newer=newer)


def prediction_chart(view: DriftView, form: Callable[[int], str]) -> LineChart:
    """The prediction per window: p10/p50/p90 of a score (line: the baseline median), or class shares."""
    windows = view.prediction
    labels = tuple(form(w.start) for w in windows)
    if not windows:
        return LineChart("prediction over time: no predictions in range", (), ())
    if windows[0].quantiles is not None:
        p10, p50, p90 = (tuple(w.quantiles[i] for w in windows if w.quantiles) for i in range(3))
        return LineChart("prediction p10/p50/p90", labels, p50, view.baseline_median,
                         extra=(("p10", p10), ("p90", p90)), name="p50", threshold_label="baseline median")
    totals: dict[str, float] = {}
    for w in windows:
        for name, share in (w.shares or {}).items():
            totals[name] = totals.get(name, 0.0) + share
    top = sorted(totals, key=lambda name: -totals[name])[:3]
    series = [tuple((w.shares or {}).get(name, 0.0) for w in windows) for name in top]
    return LineChart("prediction share per class", labels, series[0],
                     extra=tuple((clean(name)[:12], values) for name, values in zip(top[1:], series[1:])),
                     name=clean(top[0])[:12])


def read_histogram(location: "StoreLocation", model: str, version: str, feature: str, start: int, window_ms: int) -> BarChart:
    """Baseline vs the window's values of one feature, as shares per bin (numeric) or category."""
    import numpy as np

    from app.drift.stats import Sample
    from app.drift.windows import WindowPlan, current_samples

    with location.open() as store:
        baseline = next((b for b in store.baselines.for_version(model, version) if b.feature == feature), None)
        if baseline is None:
            return BarChart(f"{feature}: no baseline for {version}", (), (), ())
        reference = Sample.from_baseline(baseline)
        current = current_samples(store, model, WindowPlan(start, start + window_ms, version, 0), [baseline])[feature]
    title = f"{'prediction' if feature == PREDICTION else feature}: baseline vs current"  # glyphs: legend line
    if reference is None or reference.n == 0 or current.n == 0:
        return BarChart(title, (), (), ())
    if baseline.kind == "numeric":
        # Equal-width bins over the bulk of both sides (1st to 99th percentile), the tails counted in the end
        # bins: a few outliers would otherwise squeeze the whole distribution into one bar.
        both = np.concatenate((reference.values, current.values))
        low, high = np.percentile(both, (1, 99))
        if high <= low:
            low, high = float(both.min()), float(both.max()) or 1.0
        edges = np.linspace(low, high, HISTOGRAM_BINS + 1)
        ref = np.histogram(np.clip(reference.values, low, high), edges)[0] / reference.n
        cur = np.histogram(np.clip(current.values, low, high), edges)[0] / current.n
        labels = tuple(_short((lo + hi) / 2) for lo, hi in zip(edges[:-1], edges[1:]))
        return BarChart(title, labels, tuple(ref.tolist()), tuple(cur.tolist()))
    ref_counts, cur_counts = reference.value_counts(), current.value_counts()
    top = sorted(set(ref_counts) | set(cur_counts), key=lambda k: -(ref_counts.get(k, 0) + cur_counts.get(k, 0)))[:6]
    return BarChart(title, tuple(str(k) for k in top), tuple(ref_counts.get(k, 0) / reference.n for k in top),
                    tuple(cur_counts.get(k, 0) / current.n for k in top), categorical=True)


def _short(value: float) -> str:
    """A bin label in at most 5 characters: 0.25, 12.5, 1.2k, 3.4M."""
    size = abs(value)
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if size >= limit:
            return f"{value / limit:.3g}{suffix}"
    return f"{value:.3g}" if size >= 0.01 or value == 0 else f"{value:.0e}"
