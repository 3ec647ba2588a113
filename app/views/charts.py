"""What a chart shows, as plain data: views build these in worker threads, widgets.plot_chart draws them
on the main thread (plotext keeps module-level state and must not run in two threads)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LineChart:
    title: str
    labels: tuple[str, ...]  # one per point (window start, e.g. "14:00")
    values: tuple[float, ...]
    threshold: float | None = None  # a horizontal line (a drift threshold, a baseline median)
    extra: tuple[tuple[str, tuple[float, ...]], ...] = ()  # more series over the same points, (name, values)
    name: str = ""  # the main series in the legend line
    threshold_label: str = "threshold"  # what the horizontal line is, in the legend line


@dataclass(frozen=True)
class BarChart:
    title: str
    labels: tuple[str, ...]  # one per bin or category
    reference: tuple[float, ...]  # shares
    current: tuple[float, ...]
    categorical: bool = False  # every bar is a name to read (numeric bins are an axis: plotext thins their ticks)
