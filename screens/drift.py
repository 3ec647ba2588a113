"""The drift screen of one model: features sorted by drift, the metric over time, baseline vs current,
and the prediction's distribution over time.

A worker shows what is stored at once, then computes the windows that closed since the last look
(app.drift.windows.update), evaluates the model's alert rules and shows the result; it runs again every
``ui.refresh_s`` seconds, so windows appear as predictions arrive. A second worker reads the selected
feature's baseline and latest window for the histogram. Charts are drawn by widgets.plot_chart on the main
thread, at most once a second. At 80 columns the right-hand chart is the histogram or, with ``p``, the
prediction over time; from 120 columns both are shown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable, Static
from textual.worker import Worker, WorkerState

from widgets.key_bar import KeyBar
from widgets.nav_table import NavTable
from widgets.plot_chart import BarChart, LineChart, PlotChart, sparkline
from app.text import clean, safe_text

if TYPE_CHECKING:
    from app.config.settings import Settings
    from app.drift.windows import PredictionWindow

HOUR_MS = 3_600_000
DAY_MS = 86_400_000
SERIES_WINDOWS = 48  # windows shown in the line chart and kept for sparklines
COMPUTE_LOOKBACK_WINDOWS = SERIES_WINDOWS  # how far back the screen computes missing windows
HISTOGRAM_BINS = 8
WIDE = 120  # from this width the histogram and the prediction chart are shown side by side
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
    prediction: list["PredictionWindow"] = field(default_factory=list)
    baseline_median: float | None = None  # of the prediction, for the prediction chart
    n_current: int = 0  # current rows of the window shown
    min_rows: int = 100  # fewer current rows than this: the window is not judged
    judged: bool = True  # the window shown has enough rows (else no window has: shown as too few rows)
    newer: tuple[int, int] | None = None  # (start, rows) of a newer window with too few rows, not judged


def read_view(db_path: Path, settings: "Settings", model: str, now: int, window_ms: int, *,
              compute: bool = True, known: "list[PredictionWindow] | None" = None) -> DriftView:
    """Compute the missing windows (unless ``compute`` is false), then the latest window per feature, each
    feature's recent series and the prediction's distribution per window (``known`` closed windows are
    reused, not read again)."""
    from app.alerts.rules import evaluate_model
    from app.drift.windows import (min_rows_for, pending_windows, prediction_windows, stored_points,
                                   thresholds_for, update)
    from app.store import Store

    since = now - SERIES_WINDOWS * window_ms
    with Store.open(db_path, create=False) as store:
        new_windows, computing = 0, False
        if compute:
            outcome = update(store, model, window_ms=window_ms, since=now - COMPUTE_LOOKBACK_WINDOWS * window_ms,
                             thresholds=thresholds_for(settings, model), now=now)
            new_windows = outcome.windows
            evaluate_model(store, settings, model, now=now)  # alert rules see the new windows at once
        else:
            computing = bool(pending_windows(store, model, window_ms=window_ms,
                                             since=now - COMPUTE_LOOKBACK_WINDOWS * window_ms, now=now))
        points = stored_points(store, model, window_ms=window_ms, since=since)
        # Closed windows do not change: only the open one and those after the last known are read again.
        kept = [w for w in (known or []) if w.start + window_ms <= now and w.start >= since][:-1]
        start = kept[-1].start + window_ms if kept else since
        prediction = kept + prediction_windows(store, model, window_ms=window_ms, since=start, until=now + 1)
        view = _view(points, window_ms, new_windows, min_rows_for(settings, model))
        median = _baseline_median(store, model, view.version)
    view.computing, view.prediction, view.baseline_median = computing, prediction, median
    return view


def _baseline_median(store, model: str, version: str | None) -> float | None:  # type: ignore[no-untyped-def]
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
    from app.drift.stats import dataset_drift, drift_ratio, window_rows
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
    rows = [FeatureRow(feature=p.feature, method=p.method, value=p.value, threshold=p.threshold,
                       drifted=p.drifted and judged, psi=p.psi, n_current=p.n_current,
                       ratio=drift_ratio(p.method, p.value, p.threshold) if judged else 0.0,
                       starts=series[p.feature][0], values=series[p.feature][1]) for p in current]
    # Most drifted first, the prediction among the features by its own drift.
    rows.sort(key=lambda r: (not r.drifted, -r.ratio, r.feature))
    summary = dataset_drift(current)
    newer = (newest, rows_in[newest]) if judged and newest != shown else None
    return DriftView(rows, shown, window_ms, current[0].version, summary.n_drifted if judged else 0,
                     summary.n_features, summary.drifted and judged, new_windows, n_current=window_rows(current),
                     min_rows=min_rows, judged=judged, newer=newer)


def prediction_chart(view: DriftView, form) -> LineChart:  # type: ignore[no-untyped-def]
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


def read_histogram(db_path: Path, model: str, version: str, feature: str, start: int, window_ms: int) -> BarChart:
    """Baseline vs the window's values of one feature, as shares per bin (numeric) or category."""
    import numpy as np

    from app.drift.stats import Sample
    from app.drift.windows import WindowPlan, current_samples
    from app.store import Store

    with Store.open(db_path, create=False) as store:
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


def _number(value: float | None) -> str:
    from app.drift.stats import format_stat

    return format_stat(value)  # at most 6 cells: "<0.001", "0.121", "12.35", never a cut "7.5e-0"


def _count(rows: int) -> str:
    """A row count in at most 5 cells: 812, 12345, 123k, 1.2M."""
    if rows < 100_000:
        return str(rows)
    if rows < 1_000_000:
        return f"{rows // 1000}k"
    return f"{rows / 1e6:.1f}M"


class DriftScreen(Screen):
    """Which features of a model drift, since when, and how their distribution moved."""

    BINDINGS = [
        Binding("w", "toggle_window", "Hour/day", id="drift.window"),
        Binding("p", "toggle_chart", "Hist/pred", id="drift.chart"),
        Binding("ctrl+r", "refresh", "Refresh", id="drift.refresh"),
    ]

    DEFAULT_CSS = """
    DriftScreen #drift-table { height: 1fr; min-height: 4; }
    DriftScreen #drift-charts { height: 2fr; min-height: 8; }
    """

    class Loaded(Message):
        def __init__(self, view: DriftView) -> None:
            super().__init__()
            self.view = view

    class HistogramLoaded(Message):
        def __init__(self, feature: str, chart: BarChart) -> None:
            super().__init__()
            self.feature = feature
            self.chart = chart

    def __init__(self, model: str) -> None:
        super().__init__()
        self.model = model
        self.window_ms = HOUR_MS
        self.view: DriftView | None = None
        self.selected: str | None = None
        self.show_prediction = False  # at narrow widths: the prediction chart instead of the histogram
        self._timer: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="drift-title", classes="title-bar")
        yield NavTable(id="drift-table")
        with Horizontal(id="drift-charts"):
            yield PlotChart(id="metric-chart")
            yield PlotChart(id="hist-chart")
            yield PlotChart(id="pred-chart")
        yield Static(id="drift-status", classes="status-line")
        yield KeyBar()

    def on_mount(self) -> None:
        table = self.query_one("#drift-table", NavTable)
        # 76 cells with the padding: the trend's newest blocks (on its right) stay visible at 80 columns.
        # n: the window's current rows for that feature (a window with too few rows is not judged).
        for label, key, width in (("feature", "feature", 14), ("method", "method", 13), ("value", "value", 6),
                                  ("thresh", "threshold", 6), ("state", "status", 5), ("psi", "psi", 6),
                                  ("n", "n", 5), ("trend", "trend", 5)):
            table.add_column(label, key=key, width=width)
        self._show_title()
        self._layout_charts()
        self.query_one("#drift-status", Static).update(Text("reading drift windows…", style="dim"))
        table.focus()
        self.call_after_refresh(self.action_refresh)

    def on_resize(self) -> None:
        self._layout_charts()

    def _layout_charts(self) -> None:
        wide = self.size.width >= WIDE
        self.query_one("#hist-chart").display = wide or not self.show_prediction
        self.query_one("#pred-chart").display = wide or self.show_prediction

    def _show_title(self) -> None:
        size = "1h" if self.window_ms == HOUR_MS else "1d"
        title = Text.assemble(("drift", "bold"), " ", safe_text(self.model, width=20, style="bold"),
                              f" {size} windows" if self.view is None or self.view.window_start is None else f" {size}")
        if self.view and self.view.window_start is not None:
            from app.timeutil import ms_to_iso

            title.append(f" · {ms_to_iso(self.view.window_start)[5:16].replace('T', ' ')}Z ")
            title.append_text(safe_text(self.view.version or "-", width=10))
            if not self.view.judged:
                title.append(f" · too few rows ({self.view.n_current})", style="yellow")
            else:
                verdict = ("DATASET DRIFT", "bold red") if self.view.dataset_drifted else ("no dataset drift", "green")
                title.append(f" · {self.view.n_drifted}/{self.view.n_features} drifted, ", style="dim")
                title.append(*verdict)
        self.query_one("#drift-title", Static).update(title)

    # -- reading ---------------------------------------------------------------------------
    def action_refresh(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        app = self.app
        known = self.view.prediction if self.view is not None and self.view.window_ms == self.window_ms else []
        self.load(app.db_path, app.settings, self.model, app.now_ms(), self.window_ms,  # type: ignore[attr-defined]
                  known, self.view is None)

    @work(thread=True, exclusive=True, group="drift", exit_on_error=False, description="compute and read drift")
    def load(self, db_path: Path, settings: "Settings", model: str, now: int, window_ms: int,
             known: "list[PredictionWindow]", first: bool) -> None:
        if first:
            # What is stored, at once; computing a day of missing windows can take seconds.
            quick = read_view(db_path, settings, model, now, window_ms, compute=False, known=known)
            self.post_message(self.Loaded(quick))
            if not quick.computing:
                return
            known = quick.prediction
        self.post_message(self.Loaded(read_view(db_path, settings, model, now, window_ms, known=known)))

    @work(thread=True, exclusive=True, group="drift-histogram", exit_on_error=False, description="read histogram")
    def load_histogram(self, db_path: Path, model: str, version: str, feature: str, start: int,
                       window_ms: int) -> None:
        self.post_message(self.HistogramLoaded(feature, read_histogram(db_path, model, version, feature, start,
                                                                       window_ms)))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "drift" or event.state not in (WorkerState.SUCCESS, WorkerState.ERROR):
            return
        if event.state is WorkerState.ERROR:
            error = str(event.worker.error).splitlines()[0] if event.worker.error else "failed"
            self.query_one("#drift-status", Static).update(Text(f"cannot compute drift: {clean(error)}",
                                                                style="red"))
        if self.is_attached:
            # The next look is scheduled when this one is over: computations never overlap.
            self._timer = self.set_timer(self.app.settings.ui.refresh_s, self.action_refresh)  # type: ignore[attr-defined]

    def on_drift_screen_loaded(self, message: Loaded) -> None:
        if message.view.window_ms != self.window_ms:
            return  # a read for the window size before `w` was pressed
        self.view = message.view
        self._show_title()
        self._fill_table()
        self._show_prediction()
        status = self.query_one("#drift-status", Static)
        if not self.view.rows:
            status.update(Text("computing drift windows…" if self.view.computing else
                               "no drift windows yet: a baseline (modeldeck baseline) and closed windows of "
                               "traffic are needed", style="dim"))
            return
        progress = "computing new windows…" if self.view.computing else f"{self.view.new_windows} new window(s)"
        if not self.view.judged:
            note = f"n={self.view.n_current} < {self.view.min_rows} rows: not judged (drift_min_rows)"
        elif self.view.newer is not None:
            start, rows = self.view.newer
            note = f"{self._label()(start)} window: too few rows ({rows}), not judged"
        else:
            note = f"n={self.view.n_current} · most drifted first"
        status.update(Text(f"{note} · {len(self.view.rows)} features · {progress}", style="dim"))
        self._show_selected()

    def _fill_table(self) -> None:
        table = self.query_one("#drift-table", NavTable)
        assert self.view is not None
        keep = self.selected
        table.clear()
        for row in self.view.rows:
            name = "(prediction)" if row.feature == PREDICTION else row.feature
            if not self.view.judged:
                status = Text("few", style="yellow")  # too few rows in the window: not judged
            else:
                status = Text("DRIFT", style="bold red") if row.drifted else Text("ok", style="green")
            table.add_row(safe_text(name, width=14), row.method, _number(row.value), _number(row.threshold), status,
                          _number(row.psi), Text(_count(row.n_current), justify="right"),
                          sparkline(row.values, width=5), key=row.feature)
        features = [r.feature for r in self.view.rows]
        if keep in features:
            table.move_cursor(row=features.index(keep))
        elif features:
            self.selected = features[0]
            table.move_cursor(row=0)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key is None or event.row_key.value is None:
            return
        if event.cursor_row != event.data_table.cursor_row:
            return  # stale: the table was refilled and the cursor put back on the selected feature since
        if event.row_key.value != self.selected:
            self.selected = event.row_key.value
            self._show_selected()

    def _label(self):  # type: ignore[no-untyped-def]
        from app.timeutil import ms_to_iso

        if self.window_ms == HOUR_MS:
            return lambda ms: ms_to_iso(ms)[11:16]
        return lambda ms: ms_to_iso(ms)[5:10]

    def _show_prediction(self) -> None:
        if self.view is not None:
            self.query_one("#pred-chart", PlotChart).show(prediction_chart(self.view, self._label()))

    def _show_selected(self) -> None:
        if self.view is None or self.selected is None or self.view.window_start is None:
            return
        row = next((r for r in self.view.rows if r.feature == self.selected), None)
        if row is None:
            return
        form = self._label()
        name = "prediction" if row.feature == PREDICTION else row.feature
        self.query_one("#metric-chart", PlotChart).show(LineChart(
            f"{name} · {row.method}", tuple(form(s) for s in row.starts), tuple(row.values),
            row.threshold, name=row.method, threshold_label=f"threshold {_number(row.threshold)}"))
        self.load_histogram(self.app.db_path, self.model, self.view.version or "", row.feature,  # type: ignore[attr-defined]
                            self.view.window_start, self.window_ms)

    def on_drift_screen_histogram_loaded(self, message: HistogramLoaded) -> None:
        if message.feature == self.selected:
            self.query_one("#hist-chart", PlotChart).show(message.chart)

    # -- keys ------------------------------------------------------------------------------
    def action_toggle_window(self) -> None:
        self.window_ms = DAY_MS if self.window_ms == HOUR_MS else HOUR_MS
        self.view = None
        self._show_title()
        self.query_one("#drift-status", Static).update(Text("reading drift windows…", style="dim"))
        self.action_refresh()

    def action_toggle_chart(self) -> None:
        self.show_prediction = not self.show_prediction
        self._layout_charts()
