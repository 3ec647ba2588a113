"""A plotext chart in a Static: drawn at most once a second, again on resize, off the UI thread.

The screen hands this widget plain data (a ``LineChart`` or a ``BarChart``) from its workers. The widget
builds the chart's text in a thread worker and shows it when it is ready: building one took 4-7 ms of the
UI thread's CPU, several charts a refresh, and on a busy machine each millisecond of the UI thread's own
work costs it several more waiting for a core (bench/console.py). plotext keeps module-level figure state,
so one chart is built at a time (``_PLOTEXT``). Bursts of updates (new windows, resizes) coalesce into one
draw a second.
"""

from __future__ import annotations

import math
import threading
import time

from rich.text import Text
from textual import work
from textual.widgets import Static
from textual.worker import get_current_worker

from app.text import clean
from app.views.charts import BarChart, LineChart

__all__ = ["BarChart", "LineChart", "PlotChart", "legend", "render_chart", "sparkline"]

SPARK_BLOCKS = "▁▂▃▄▅▆▇█"
# Each series and the horizontal line get their own glyph, named in a legend line under the chart: the
# chart reads the same without colour (NO_COLOR, a monochrome terminal).
MAIN_GLYPH = "▞"  # plotext's default line marker draws quarter blocks like this one
EXTRA_MARKERS = ("·", "+", "x")
LINE_GLYPH = "─"
_clock = time.monotonic  # a name of its own, so a test can move this widget's clock alone
_PLOTEXT = threading.Lock()  # plotext's figure is global: one chart is built at a time, whichever thread


def sparkline(values: list[float], width: int = 12) -> str:
    """The last ``width`` values as block characters, scaled to their own range."""
    tail = [v for v in values[-width:] if v == v]
    if not tail:
        return ""
    low, high = min(tail), max(tail)
    span = (high - low) or 1.0
    return "".join(SPARK_BLOCKS[min(len(SPARK_BLOCKS) - 1, int((v - low) / span * len(SPARK_BLOCKS)))]
                   for v in tail)


def _finite(xs: list[int], values: tuple[float, ...]) -> tuple[list[int], list[float]]:
    """The points whose value is a finite number: plotext never returns from a NaN or an infinity."""
    kept = [(x, v) for x, v in zip(xs, values) if math.isfinite(v)]
    return [x for x, _ in kept], [v for _, v in kept]


def _cut(label: str, room: int) -> str:
    return label if len(label) <= room else label[:room - 1] + "…"


def _or_zero(value: float) -> float:
    return value if math.isfinite(value) else 0.0


def legend(spec: LineChart | BarChart) -> str:
    """The line under a chart naming each glyph, e.g. ``▞ p50  · p10  + p90  ─ baseline median``."""
    if isinstance(spec, BarChart):
        return "▒ baseline  █ current window"
    parts = [f"{MAIN_GLYPH} {spec.name}"] if spec.name else []
    parts += [f"{marker} {name}" for marker, (name, _) in zip(EXTRA_MARKERS, spec.extra)]
    if spec.threshold is not None:
        parts.append(f"{LINE_GLYPH} {spec.threshold_label}")
    return "  ".join(parts)


def render_chart(spec: LineChart | BarChart, width: int, height: int) -> str:
    """The chart as text with ANSI colours, built under ``_PLOTEXT`` (plotext's state is global)."""
    with _PLOTEXT:
        return _render(spec, width, height)


def _render(spec: LineChart | BarChart, width: int, height: int) -> str:
    import plotext

    key = clean(legend(spec)) if (spec.values if isinstance(spec, LineChart) else spec.labels) else ""
    if key and height > 6:
        height -= 1  # the legend's line
    else:
        key = ""
    figure = plotext.figure
    figure.clear()
    figure.plot_size(width, height)
    figure.theme("simple")  # no background colour: the terminal's own, legible on dark and light, over SSH
    figure.title(clean(spec.title)[:max(1, width - 2)])  # plotext drops a title wider than the chart
    if isinstance(spec, LineChart):
        xs = list(range(1, len(spec.values) + 1))
        if xs:
            if spec.threshold is not None:
                # A series rather than figure.line(): plotext paints a line's cells on a white background.
                # Drawn first, so the data is drawn over it where they cross.
                marker = plotext.colorize(LINE_GLYPH, "red")
                figure.draw(figure.signal([xs[0], xs[-1]], [spec.threshold] * 2, marker=marker).lines())
            figure.draw(figure.signal(*_finite(xs, spec.values)).lines())
            for marker, (_, values) in zip(EXTRA_MARKERS, spec.extra):  # a colour from the theme, and a glyph
                figure.draw(figure.signal(*_finite(xs, values), marker=marker).lines())
            step = max(1, len(xs) // max(1, width // 12))
            ticks = xs[::step]
            figure.ruler("x").ticks(ticks, [clean(spec.labels[i - 1]) for i in ticks])
    else:
        count = len(spec.labels)
        if count:
            xs = list(range(1, count + 1))
            figure.draw(figure.bar([x - 0.2 for x in xs], [_or_zero(v) for v in spec.reference], width=0.4,
                                   marker="▒"))
            figure.draw(figure.bar([x + 0.2 for x in xs], [_or_zero(v) for v in spec.current], width=0.4))
            # A category's name within its bar's share of the plot (the y axis takes ~6 cells): plotext drops a
            # tick label that would overlap the one before, which left categories unnamed at 80 columns.
            room = max(2, min(8, (width - 6) // count - 1)) if spec.categorical else 8
            figure.ruler("x").ticks(xs, [_cut(clean(label), room) for label in spec.labels])
    figure.legend(active=False)
    chart = figure.build().string()
    if key:
        if len(key) > width:
            key = key[:max(1, width - 1)] + "…"
        chart = chart.rstrip("\n") + "\n" + key.center(width).rstrip()
    return chart


class PlotChart(Static):
    """Shows one chart spec; ``show()`` may be called as often as data arrives."""

    DEFAULT_CSS = """
    PlotChart {
        width: 1fr;
        height: 1fr;
        min-height: 5;
    }
    """

    MIN_INTERVAL_S = 1.0

    def __init__(self, **kwargs: object) -> None:
        super().__init__("", **kwargs)  # type: ignore[arg-type]
        self.spec: LineChart | BarChart | None = None
        self.draws = 0
        self._dirty = False
        self._last_draw = 0.0

    def on_mount(self) -> None:
        self.set_interval(self.MIN_INTERVAL_S / 4, self._tick)

    def show(self, spec: LineChart | BarChart | None) -> None:
        if spec == self.spec:
            return
        self.spec = spec
        self._request()

    def on_resize(self) -> None:
        self._request()

    def _request(self) -> None:
        self._dirty = True
        if _clock() - self._last_draw >= self.MIN_INTERVAL_S:
            self._draw()

    def _tick(self) -> None:
        if self._dirty and _clock() - self._last_draw >= self.MIN_INTERVAL_S:
            self._draw()

    def _draw(self) -> None:
        width, height = self.size.width, self.size.height
        if width < 16 or height < 5:
            return  # not laid out yet (or too small to say anything): try again on the next resize
        self._dirty = False
        if self.spec is None:
            self.update("")  # costs nothing: does not use up the second, so the first data draws at once
            return
        self._last_draw = _clock()
        self._build(self.spec, width, height)

    # Never cancelled: at most one a second starts (data newer than the one being built waits, marked dirty,
    # for the next second), and each shows what was asked when it started.
    @work(thread=True, group="chart", exit_on_error=False, description="draw a chart")
    def _build(self, spec: LineChart | BarChart, width: int, height: int) -> None:
        text = Text.from_ansi(render_chart(spec, width, height))
        if not get_current_worker().is_cancelled:  # cancelled: its screen is gone
            self.app.call_from_thread(self._built, text)

    def _built(self, text: Text) -> None:
        if self.is_attached:
            self.update(text)
            self.draws += 1
