"""The drift screen of one model: features sorted by drift, the metric over time, baseline vs current,
and the prediction's distribution over time.

A worker shows what is stored at once, then computes the windows that closed since the last look
(app.views.drift.read_view), evaluates the model's alert rules and shows the result; it runs again every
``ui.refresh_s`` seconds, so windows appear as predictions arrive. A second worker reads the selected
feature's baseline and latest window for the histogram. Charts are drawn by widgets.plot_chart on the main
thread, at most once a second. At 80 columns the right-hand chart is the histogram or, with ``p``, the
prediction over time; from 120 columns both are shown.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Callable

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.coordinate import Coordinate
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable, Static
from textual.worker import Worker, WorkerState

from app.console.errors import worker_failure
from app.text import safe_text
from app.timeutil import TimeFormat, format_ms
from app.views.drift import DAY_MS, HOUR_MS, PREDICTION, DriftView, prediction_chart, read_histogram, read_view
from screens.base import OnConsole, OwnBackground
from widgets.key_bar import KeyBar
from widgets.nav_table import NavTable
from widgets.plot_chart import BarChart, LineChart, PlotChart, sparkline
from widgets.severity import BAD

if TYPE_CHECKING:
    from app.config.settings import Settings
    from app.drift.windows import PredictionWindow
    from app.store.location import StoreLocation

COMPUTE_BATCH = 12  # missing windows computed per step, newest first (the view is shown after each)
MAX_LOCK_WAITS, LOCK_WAIT_S = 20, 0.25  # another computing the model's windows: asked again this often
MAX_BATCHES = 8  # a look computes at most this many batches (COMPUTE_LOOKBACK_WINDOWS is 48: 4 are enough)
WIDE = 120  # from this width the histogram and the prediction chart are shown side by side


def _number(value: float | None) -> str:
    from app.drift.verdicts import format_stat

    return format_stat(value)  # at most 6 cells: "<0.001", "0.121", "12.35", never a cut "7.5e-0"


def _count(rows: int) -> str:
    """A row count in at most 5 cells: 812, 12345, 123k, 1.2M."""
    if rows < 100_000:
        return str(rows)
    if rows < 1_000_000:
        return f"{rows // 1000}k"
    return f"{rows / 1e6:.1f}M"


class DriftScreen(OwnBackground, OnConsole, Screen):
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
        self._charts_ready = "plotext" in sys.modules  # else imported by a worker first (see _warm_charts)

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
        self._warm_charts()
        self.call_after_refresh(self.action_refresh)

    @work(thread=True, group="drift-warm", exit_on_error=False, description="import the chart library")
    def _warm_charts(self) -> None:
        # plotext takes a second or more to import on a busy machine: imported here, while the first read
        # runs, the first chart is drawn without that freeze on the UI thread (drawing stays on the main
        # thread: plotext's figure state is global).
        import plotext  # noqa: F401

    def _charts_warm(self) -> None:
        self._charts_ready = True
        if self.view is not None:
            self._show_prediction()
            self._show_selected()

    def on_resize(self) -> None:
        self._layout_charts()

    def _layout_charts(self) -> None:
        wide = self.size.width >= WIDE
        self.query_one("#hist-chart").display = wide or not self.show_prediction
        self.query_one("#pred-chart").display = wide or self.show_prediction

    def _show_title(self) -> None:
        size = "1h" if self.window_ms == HOUR_MS else "1d"
        # The breadcrumb (where esc goes back to: fleet › fraud-scorer › drift), then the verdict before
        # the window it is about: at 80 columns a long title is cut at its end, never in DATASET DRIFT.
        title = self.breadcrumb("drift", self.model)
        title.append(f" {size} windows" if self.view is None or self.view.window_start is None else f" {size}")
        window = Text()
        if self.view and self.view.window_start is not None:
            if not self.view.judged:
                title.append(f" · too few rows ({self.view.n_current})", style="yellow")
            else:
                title.append(" · ")
                title.append(*(("DATASET DRIFT", BAD) if self.view.dataset_drifted else ("no dataset drift", "green")))
                title.append(f" {self.view.n_drifted}/{self.view.n_features}", style="dim")
            start = format_ms(self.view.window_start, TimeFormat.DAY_MINUTE if self.window_ms == HOUR_MS
                              else TimeFormat.MONTH_DAY)
            window = Text.assemble((f" · {start}{'Z' if self.window_ms == HOUR_MS else ''} ", "dim"),
                                   safe_text(self.view.version or "-", width=10, style="dim"))
        at = self.console_context.at_ms
        if at is not None:
            from screens.fleet import time_travel_banner

            title.append_text(time_travel_banner(at))
        title.append_text(window)
        self.query_one("#drift-title", Static).update(title)

    # -- reading ---------------------------------------------------------------------------
    def action_refresh(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        context = self.console_context
        past = context.at_ms is not None
        known = self.view.prediction if self.view is not None and self.view.window_ms == self.window_ms else []
        if past and self.view is not None and self.view.past_at != context.at_ms:
            known = []  # another time travelled to: the prediction windows are read again up to it
        self._show_title()
        self.load(context.store, context.settings, self.model, context.now_ms(), self.window_ms, known,
                  self.view is None, past)

    @work(thread=True, exclusive=True, group="drift", exit_on_error=False, description="compute and read drift")
    def load(self, location: "StoreLocation", settings: "Settings", model: str, now: int, window_ms: int,
             known: "list[PredictionWindow]", first: bool, past: bool = False) -> None:
        from textual.worker import get_current_worker

        worker = get_current_worker()

        def cancelled() -> bool:
            # Set when the screen is dismissed (Textual cancels a node's workers on unmount) or a newer
            # load replaces this one (exclusive group): the read stops between windows and chunks.
            return worker.is_cancelled

        if past:
            # The store as it stood: windows closed by then, nothing computed or stored.
            view = read_view(location, settings, model, now, window_ms, compute=False, past=True, known=known,
                             cancelled=cancelled)
            if view is not None:
                view.past_at = now
                self.post_message(self.Loaded(view))
            return
        if first:
            # What is stored, at once (stored windows, "since"); computing missing windows can take seconds.
            quick = read_view(location, settings, model, now, window_ms, compute=False, known=known,
                              cancelled=cancelled)
            if quick is None:
                return
            self.post_message(self.Loaded(quick))
            if not quick.computing:
                return
            known = quick.prediction
        # The newest missing windows first, a batch at a time: the chart fills in from the right and the
        # status line counts down what is left.
        waits = 0
        for _ in range(MAX_BATCHES + MAX_LOCK_WAITS):
            view = read_view(location, settings, model, now, window_ms, known=known, cancelled=cancelled,
                             max_windows=COMPUTE_BATCH)
            if view is None:
                return
            if view.new_windows == 0 and view.busy_with is not None and waits < MAX_LOCK_WAITS:
                # The console's monitor (or a watch) is computing this model's windows: ask again shortly,
                # not a refresh interval later.
                waits += 1
                time.sleep(LOCK_WAIT_S)
                if cancelled():
                    return
                continue
            if view.new_windows == 0:
                # Nothing more could be stored (windows with nothing to compare, or another process holds
                # the model's drift lock): not "computing" for ever; the next look tries again.
                view.computing, view.pending = False, 0
            self.post_message(self.Loaded(view))
            if not view.computing:
                return
            known = view.prediction

    @work(thread=True, exclusive=True, group="drift-histogram", exit_on_error=False, description="read histogram")
    def load_histogram(self, location: "StoreLocation", model: str, version: str, feature: str, start: int,
                       window_ms: int) -> None:
        self.post_message(self.HistogramLoaded(feature, read_histogram(location, model, version, feature, start,
                                                                       window_ms)))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group == "drift-warm" and event.state in (WorkerState.SUCCESS, WorkerState.ERROR):
            self._charts_warm()
            return
        if event.worker.group != "drift" or event.state not in (WorkerState.SUCCESS, WorkerState.ERROR):
            return
        failure = worker_failure(event)
        if failure is not None:
            self.query_one("#drift-status", Static).update(Text(f"cannot compute drift: {failure}", style="red"))
        if self.is_attached:
            # The next look is scheduled when this one is over: computations never overlap.
            self._timer = self.set_timer(self.console_context.settings.ui.refresh_s, self.action_refresh)

    def on_drift_screen_loaded(self, message: Loaded) -> None:
        if message.view.window_ms != self.window_ms:
            return  # a read for the window size before `w` was pressed
        self.view = message.view
        self._show_title()
        self._fill_table()
        self._show_prediction()
        status = self.query_one("#drift-status", Static)
        if not self.view.rows:
            status.update(Text(f"computing {self.view.pending} drift windows…" if self.view.computing else
                               # One status line: kept within 80 columns, where an SSH session often is.
                               "no drift windows yet: needs a baseline (modeldeck baseline) and traffic",
                               style="dim"))
            return
        if self.console_context.at_ms is not None:
            progress = f"as stood at {format_ms(self.console_context.at_ms, TimeFormat.DAY_MINUTE)}Z"
        elif self.view.computing:
            progress = f"computing {self.view.pending} new window{'s' if self.view.pending != 1 else ''}…"
        else:
            progress = f"{self.view.new_windows} new window(s)"
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
                status = Text("DRIFT", style=BAD) if row.drifted else Text("ok", style="green")
            table.add_row(safe_text(name, width=14), row.method, _number(row.value), _number(row.threshold), status,
                          _number(row.psi), Text(_count(row.n_current), justify="right"),
                          sparkline(row.values, width=5), key=row.feature)
        features = [r.feature for r in self.view.rows]
        if keep in features:
            table.move_cursor(row=features.index(keep), animate=False)
        elif features:
            table.move_cursor(row=0, animate=False)
        # The chart is always the highlighted row's: whatever the re-sort did, the two agree.
        self.selected = features[table.cursor_row] if 0 <= table.cursor_row < len(features) else None

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        # Read the table's cursor, not the event's row: an event queued before a refill names a row that
        # has moved since (the list re-sorts as windows are computed).
        table = self.query_one("#drift-table", NavTable)
        if self.view is None or not 0 <= table.cursor_row < table.row_count:
            return
        key = table.coordinate_to_cell_key(Coordinate(table.cursor_row, 0)).row_key.value
        if key is not None and key != self.selected:
            self.selected = key
            self._show_selected()

    def _label(self) -> Callable[[int], str]:
        form = TimeFormat.CLOCK if self.window_ms == HOUR_MS else TimeFormat.MONTH_DAY
        return lambda ms: format_ms(ms, form)

    def _show_prediction(self) -> None:
        if self.view is not None and self._charts_ready:
            self.query_one("#pred-chart", PlotChart).show(prediction_chart(self.view, self._label()))

    def _show_selected(self) -> None:
        if self.view is None or self.selected is None or self.view.window_start is None or not self._charts_ready:
            return  # charts wait for plotext's import (_charts_warm draws them then)
        row = next((r for r in self.view.rows if r.feature == self.selected), None)
        if row is None:
            return
        form = self._label()
        name = "prediction" if row.feature == PREDICTION else row.feature
        # "since" right after the name: at 80 columns the chart's title is cut after ~36 cells.
        since = "" if row.since is None else f" · since {form(row.since)} ({row.run_windows}w)"
        self.query_one("#metric-chart", PlotChart).show(LineChart(
            f"{name}{since} · {row.method}", tuple(form(s) for s in row.starts), tuple(row.values),
            row.threshold, name=row.method, threshold_label=f"threshold {_number(row.threshold)}"))
        self.load_histogram(self.console_context.store, self.model, self.view.version or "", row.feature,
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
