"""The drift screen of one model: features sorted by drift, the metric over time, baseline vs current.

A worker computes the windows that closed since the last look (app.drift_windows.update) and reads the
recent series; a second worker reads the selected feature's baseline and latest window for the histogram.
Charts are drawn by widgets.plot_chart on the main thread, at most once a second.
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
from textual.widgets import DataTable, Footer, Static
from textual.worker import Worker, WorkerState

from widgets.nav_table import NavTable
from widgets.plot_chart import BarChart, LineChart, PlotChart, sparkline
from widgets.safe_text import clean, safe_text

if TYPE_CHECKING:
    from app.config import Settings

HOUR_MS = 3_600_000
DAY_MS = 86_400_000
SERIES_WINDOWS = 48  # windows shown in the line chart and kept for sparklines
COMPUTE_LOOKBACK_WINDOWS = 24 * 7  # how far back the screen computes missing windows
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


def read_view(db_path: Path, settings: "Settings", model: str, now: int, window_ms: int) -> DriftView:
    """Compute the missing windows, then the latest window per feature and each feature's recent series."""
    from app.alerts import evaluate_model
    from app.drift import PREDICTION_FEATURE, dataset_drift, drift_ratio
    from app.drift_windows import stored_points, thresholds_for, update
    from app.store import Store

    with Store.open(db_path) as store:
        outcome = update(store, model, window_ms=window_ms, since=now - COMPUTE_LOOKBACK_WINDOWS * window_ms,
                         thresholds=thresholds_for(settings, model), now=now)
        evaluate_model(store, settings, model, now=now)  # alert rules see the new windows at once
        points = stored_points(store, model, window_ms=window_ms, since=now - SERIES_WINDOWS * window_ms)
    if not points:
        return DriftView([], None, window_ms, None, 0, 0, False, outcome.windows)
    latest = max(p.window_start for p in points)
    series: dict[str, tuple[list[int], list[float]]] = {}
    for p in points:
        starts, values = series.setdefault(p.feature, ([], []))
        starts.append(p.window_start)
        values.append(p.value)
    current = [p for p in points if p.window_start == latest]
    rows = [FeatureRow(feature=p.feature, method=p.method, value=p.value, threshold=p.threshold, drifted=p.drifted,
                       psi=p.psi, n_current=p.n_current, ratio=drift_ratio(p.method, p.value, p.threshold),
                       starts=series[p.feature][0], values=series[p.feature][1]) for p in current]
    # Most drifted first; the prediction's own row after the input features.
    rows.sort(key=lambda r: (r.feature == PREDICTION_FEATURE, -r.ratio, r.feature))
    summary = dataset_drift(current)
    return DriftView(rows, latest, window_ms, current[0].version, summary.n_drifted, summary.n_features,
                     summary.drifted, outcome.windows)


def read_histogram(db_path: Path, model: str, version: str, feature: str, start: int, window_ms: int) -> BarChart:
    """Baseline vs the window's values of one feature, as shares per bin (numeric) or category."""
    import numpy as np

    from app.drift import Sample
    from app.drift_windows import WindowPlan, current_samples
    from app.store import Store

    with Store.open(db_path) as store:
        baseline = next((b for b in store.baselines.for_version(model, version) if b.feature == feature), None)
        if baseline is None:
            return BarChart(f"{feature}: no baseline for {version}", (), (), ())
        reference = Sample.from_baseline(baseline)
        current = current_samples(store, model, WindowPlan(start, start + window_ms, version, 0), [baseline])[feature]
    title = f"{'prediction' if feature == PREDICTION else feature}  ▒ baseline █ current"
    if reference is None or reference.n == 0 or current.n == 0:
        return BarChart(title, (), (), ())
    if baseline.kind == "numeric":
        edges = np.histogram_bin_edges(np.concatenate((reference.values, current.values)), bins=8)
        ref = np.histogram(reference.values, edges)[0] / reference.n
        cur = np.histogram(current.values, edges)[0] / current.n
        labels = tuple(f"{(lo + hi) / 2:.3g}" for lo, hi in zip(edges[:-1], edges[1:]))
        return BarChart(title, labels, tuple(ref.tolist()), tuple(cur.tolist()))
    ref_counts, cur_counts = reference.value_counts(), current.value_counts()
    top = sorted(set(ref_counts) | set(cur_counts), key=lambda k: -(ref_counts.get(k, 0) + cur_counts.get(k, 0)))[:6]
    return BarChart(title, tuple(str(k) for k in top), tuple(ref_counts.get(k, 0) / reference.n for k in top),
                    tuple(cur_counts.get(k, 0) / current.n for k in top))


def _number(value: float | None) -> str:
    if value is None or value != value:
        return "-"
    return f"{value:.1e}" if 0 < abs(value) < 1e-3 else f"{value:.3f}"


class DriftScreen(Screen):
    """Which features of a model drift, since when, and how their distribution moved."""

    BINDINGS = [
        Binding("w", "toggle_window", "Hour/day", id="drift.window"),
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
        self._timer: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="drift-title", classes="title-bar")
        yield NavTable(id="drift-table")
        with Horizontal(id="drift-charts"):
            yield PlotChart(id="metric-chart")
            yield PlotChart(id="hist-chart")
        yield Static(id="drift-status", classes="status-line")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#drift-table", NavTable)
        for label, key, width in (("feature", "feature", 16), ("method", "method", 13), ("value", "value", 8),
                                  ("thresh", "threshold", 7), ("status", "status", 7), ("psi", "psi", 7),
                                  ("trend", "trend", 12)):
            table.add_column(label, key=key, width=width)
        self._show_title()
        self.query_one("#drift-status", Static).update(Text("computing drift windows…", style="dim"))
        table.focus()
        self.call_after_refresh(self.action_refresh)

    def _show_title(self) -> None:
        size = "1h" if self.window_ms == HOUR_MS else "1d"
        title = Text.assemble(("drift", "bold"), "  ", safe_text(self.model), f"  {size} windows")
        if self.view and self.view.window_start is not None:
            from app.timeutil import ms_to_iso

            verdict = ("DATASET DRIFT", "bold red") if self.view.dataset_drifted else ("no dataset drift", "green")
            title.append(f"  latest {ms_to_iso(self.view.window_start)[:16]}Z  {clean(self.view.version)}  ")
            title.append(f"{self.view.n_drifted}/{self.view.n_features} drifted ", style="dim")
            title.append(*verdict)
        self.query_one("#drift-title", Static).update(title)

    # -- reading ---------------------------------------------------------------------------
    def action_refresh(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        app = self.app
        self.load(app.db_path, app.settings, self.model, app.now_ms(), self.window_ms)  # type: ignore[attr-defined]

    @work(thread=True, exclusive=True, group="drift", exit_on_error=False, description="compute and read drift")
    def load(self, db_path: Path, settings: "Settings", model: str, now: int, window_ms: int) -> None:
        self.post_message(self.Loaded(read_view(db_path, settings, model, now, window_ms)))

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
        self.view = message.view
        self._show_title()
        self._fill_table()
        status = self.query_one("#drift-status", Static)
        if not self.view.rows:
            status.update(Text("no drift windows yet: a baseline (modeldeck baseline) and closed windows of "
                               "traffic are needed", style="dim"))
            return
        status.update(Text(f"{len(self.view.rows)} features · {self.view.new_windows} new window(s) · "
                           "w: hour/day · most drifted first", style="dim"))
        self._show_selected()

    def _fill_table(self) -> None:
        table = self.query_one("#drift-table", NavTable)
        assert self.view is not None
        keep = self.selected
        table.clear()
        for row in self.view.rows:
            name = "(prediction)" if row.feature == PREDICTION else row.feature
            status = Text("DRIFT", style="bold red") if row.drifted else Text("ok", style="green")
            table.add_row(safe_text(name), row.method, _number(row.value), _number(row.threshold), status,
                          _number(row.psi), sparkline(row.values), key=row.feature)
        features = [r.feature for r in self.view.rows]
        if keep in features:
            table.move_cursor(row=features.index(keep))
        elif features:
            self.selected = features[0]
            table.move_cursor(row=0)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key is None or event.row_key.value is None:
            return
        if event.row_key.value != self.selected:
            self.selected = event.row_key.value
            self._show_selected()

    def _show_selected(self) -> None:
        if self.view is None or self.selected is None or self.view.window_start is None:
            return
        row = next((r for r in self.view.rows if r.feature == self.selected), None)
        if row is None:
            return
        from app.timeutil import ms_to_iso

        form = (lambda ms: ms_to_iso(ms)[11:16]) if self.window_ms == HOUR_MS else (lambda ms: ms_to_iso(ms)[5:10])
        name = "prediction" if row.feature == PREDICTION else row.feature
        self.query_one("#metric-chart", PlotChart).show(LineChart(
            f"{name} · {row.method} (line: threshold)", tuple(form(s) for s in row.starts), tuple(row.values),
            row.threshold))
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
        self.query_one("#drift-status", Static).update(Text("computing drift windows…", style="dim"))
        self.action_refresh()
