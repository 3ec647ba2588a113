"""The model screen's Quality tab: production quality from late labels per day, with 95% intervals, the
correlation of the score with business outcomes, and the reliability chart (issue 17 item 2).

The screen hands the panel a ``load`` function (an ``app.views.quality`` read bound to its store and
model); the panel calls it in a thread worker the first time it is shown, again when shown after
``STALE_S`` and on ctrl+r, so a tab nobody opens costs nothing. Version names and outcome names come
from the store: rendered as plain text.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Callable

from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from app.text import clean
from app.timeutil import TimeFormat, format_ms
from widgets.plot_chart import PlotChart

if TYPE_CHECKING:
    from app.quality.production import QualityReport
    from app.quality.stats import Estimate

STALE_S = 60.0


def _estimate(e: "Estimate | None", digits: int = 3) -> str:
    if e is None:
        return "—"
    if e.low is None or e.high is None:
        return f"{e.value:.{digits}f}"
    return f"{e.value:.{digits}f} [{e.low:.{digits}f},{e.high:.{digits}f}]"


def quality_table(report: "QualityReport") -> Table:
    """One row per window with labels (newest first), the metrics with their intervals, and r per outcome."""
    names = report.metric_names[:2] if report.outcomes_named() else report.metric_names
    outcomes = report.outcomes_named()[:1]  # 80 columns: one outcome beside the metrics
    table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
    table.add_column("day")
    table.add_column("n", justify="right")
    for name in names:
        table.add_column(name)
    for name in outcomes:
        table.add_column(Text(f"r({clean(name)[:14]})"))
    for w in sorted((w for w in report.windows if w.labelled or w.outcomes), key=lambda w: -w.start):
        table.add_row(format_ms(w.start, TimeFormat.MONTH_DAY), f"{w.labelled:,}",
                      *[_estimate(w.metrics.get(n)) for n in names],
                      *[_estimate(w.outcomes.get(n), 2) for n in outcomes])
    return table


_WORDS = {True: ("MET", "green"), False: ("NOT MET", "bold red"), None: ("NOT MEASURED", "yellow")}


def success_text(report: "QualityReport") -> Text:
    """The declared success criteria ([models.NAME.success]), one line each, a missed one first in the eye:
    empty when none are declared. Built from trusted words and numbers (no markup is parsed)."""
    if not report.success:
        return Text("")
    met = sum(c.met is True for c in report.success)
    window = f" ({clean(report.success_window)})" if report.success_window else ""
    text = Text(f"success criteria{window}: {met} of {len(report.success)} met", style="bold")
    for c in report.success:
        word, style = _WORDS[c.met]
        text.append("\n  ")
        text.append(f"{word:<12}", style=style)
        text.append(f" {c.name} {c.required}: {c.measured}")
    return text


class QualityPanel(VerticalScroll):
    DEFAULT_CSS = """
    QualityPanel > PlotChart { height: 14; min-height: 8; }
    """
    BINDINGS = [Binding("ctrl+r", "reload", "Reload", show=False)]

    def __init__(self, load: "Callable[[], QualityReport]", **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._load = load
        self.report: "QualityReport | None" = None
        self._loaded_at: float | None = None

    def compose(self) -> ComposeResult:
        yield Static(Text("quality: reading…", style="dim"), id="quality-summary")
        yield Static(id="quality-success")
        yield Static(id="quality-table")
        yield PlotChart(id="quality-reliability")

    def on_show(self) -> None:
        if self._loaded_at is None or time.monotonic() - self._loaded_at > STALE_S:
            self.action_reload()

    def action_reload(self) -> None:
        self._loaded_at = time.monotonic()
        self._read()

    @work(thread=True, exclusive=True, group="quality-panel", exit_on_error=False, description="model quality")
    def _read(self) -> None:
        try:
            report = self._load()
        except Exception as exc:  # a broken store: said in the tab, the console stays alive
            message = " ".join(str(exc).split())[:200] or type(exc).__name__
            self.app.call_from_thread(self._show_error, message)
            return
        self.app.call_from_thread(self.show_report, report)

    def _show_error(self, message: str) -> None:
        self.query_one("#quality-summary", Static).update(Text(f"quality: {clean(message)}", style="bold"))

    def show_report(self, report: "QualityReport") -> None:
        from app.views.quality import reliability_spec

        self.report = report
        overall = report.overall
        summary = Text(f"{report.task}: {overall.labelled:,} labelled answers in the last "
                       f"{(report.until - report.since) // 86_400_000} days")
        if report.ece is not None:
            summary.append(f"; ECE {report.ece:.3f}")
        for name, r in sorted(overall.outcomes.items()):
            summary.append(f"; r(score, {clean(name)}) {_estimate(r, 2)}")
        if not overall.labelled:
            summary.append(" — labels arrive as later records with the same request_id", style="dim")
        self.query_one("#quality-summary", Static).update(summary)
        self.query_one("#quality-success", Static).update(success_text(report))
        self.query_one("#quality-table", Static).update(quality_table(report) if overall.labelled else "")
        self.query_one("#quality-reliability", PlotChart).show(reliability_spec(report) if report.reliability else None)
