"""The Compare tab: champion vs challenger (or shadow) on the same requests, and the gate verdict.

The widget asks its screen for a comparison (``ReloadRequested``) the first time it is shown (a
comparison over a week of traffic is real work, not worth doing for a tab nobody opened), again when
shown after ``STALE_S`` and on ctrl+r; the screen reads it (``app.views.compare``) in a thread worker
and posts it back as ``Loaded``. Keys: ``L`` asks for the logs screen on the disagreeing answers
(``DisagreementsRequested``); ``P`` asks the screen to promote the challenger (``PromoteRequested``:
the confirmation lives in a screen, not in a widget).
Versions, models and prediction values come from the store: rendered as plain text.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Static

from app.text import clean, safe_text
from app.timeutil import TimeFormat, format_ms
from widgets.plot_chart import LineChart, PlotChart

if TYPE_CHECKING:
    from app.compare.pairing import Comparison, Side
    from app.views.compare import CompareView
    from app.compare.gates import Verdict

STALE_S = 60.0
CONFUSION_CLASSES = 8


def _pct(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value * 100:.{digits}f}%"


def _ms(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "—"
    return f"{value:+.1f} ms" if signed else f"{value:.1f} ms"


def _num(value: float | None, fmt: str = ".4f") -> str:
    return "—" if value is None else format(value, fmt)


def _quality(side: "Side", metric: str) -> tuple[str, str]:
    """(value, 95% interval) as short texts."""
    q = side.quality
    if q is None:
        return "—", ""
    if metric == "accuracy":
        return f"{q.value * 100:.2f}%", f"[{q.low * 100:.2f}, {q.high * 100:.2f}]"
    return f"{q.value:.4g}", f"[{q.low:.4g}, {q.high:.4g}]"


def stats_table(c: "Comparison") -> Table:
    """Champion and challenger side by side (latency and errors over the paired requests)."""
    table = Table(box=None, padding=(0, 1), show_edge=False, expand=False)
    table.add_column("", style="dim", no_wrap=True)
    table.add_column(safe_text(c.champion.version, width=18, style="bold"), justify="right", no_wrap=True)
    table.add_column(safe_text(c.challenger.version, width=18, style="bold"), justify="right", no_wrap=True)
    # The percentile of the per-request difference (challenger - champion on the same request), which is
    # not the difference of the two percentiles beside it.
    table.add_column("per-request Δ", justify="right", no_wrap=True)
    a, b = c.champion, c.challenger
    table.add_row("requests", f"{a.requests:,}", f"{b.requests:,}", "")
    table.add_row("error rate", _pct(a.error_rate, 2), _pct(b.error_rate, 2), "")
    table.add_row("p50 latency", _ms(a.p50_latency_ms), _ms(b.p50_latency_ms), _ms(c.latency_diff_p50_ms, True))
    table.add_row("p95 latency", _ms(a.p95_latency_ms), _ms(b.p95_latency_ms), _ms(c.latency_diff_p95_ms, True))
    name = "accuracy" if c.quality_metric == "accuracy" else "MAE"
    (qa, ca), (qb, cb) = _quality(a, c.quality_metric), _quality(b, c.quality_metric)
    table.add_row(name, qa, qb, f"{c.labels:,} labels")
    table.add_row("  95% interval", ca, cb, "")
    return table


def agreement_text(c: "Comparison") -> Text:
    text = Text()
    if c.agreement_kind == "label":
        text.append("agreement ", style="dim")
        text.append(_pct(c.agreement, 2), style="bold")
        text.append(f"   scores within ±{c.tolerance:g} ", style="dim")
        text.append(_pct(c.within_tolerance))
    else:
        text.append(f"within ±{c.tolerance:g} ", style="dim")
        text.append(_pct(c.agreement, 2), style="bold")
    text.append("   mean diff ", style="dim")
    text.append(_num(c.mean_diff, "+.4g"))
    text.append("   p95 |diff| ", style="dim")
    text.append(_num(c.p95_abs_diff, ".4g"))
    return text


def confusion_table(c: "Comparison") -> Table | None:
    """Champion (rows) vs challenger (columns) for the commonest classes."""
    if not c.confusion:
        return None
    totals: dict[Any, int] = {}
    for cell in c.confusion:
        totals[cell.champion] = totals.get(cell.champion, 0) + cell.count
        totals[cell.challenger] = totals.get(cell.challenger, 0) + cell.count
    classes = sorted(totals, key=lambda k: -totals[k])[:CONFUSION_CLASSES]
    counts = {(cell.champion, cell.challenger): cell.count for cell in c.confusion}
    table = Table(box=None, padding=(0, 1), show_edge=False)
    table.add_column(Text("champion ↓ challenger →", style="dim"), no_wrap=True)
    for k in classes:
        table.add_column(safe_text(k, width=10), justify="right", no_wrap=True)
    for row in classes:
        cells = []
        for col in classes:
            n = counts.get((row, col), 0)
            cells.append(Text(f"{n:,}", style="bold" if row == col else ("red" if n else "dim")))
        table.add_row(safe_text(row, width=12), *cells)
    return table


def verdict_text(verdict: "Verdict | None", problem: str | None) -> Text:
    if verdict is None:
        return Text(f"gates: {clean(problem or 'not evaluated')}", style="dim")
    held = sum(r.passed for r in verdict.rules)
    text = Text()
    text.append(" PASS " if verdict.passed else " FAIL ", style="bold black on green" if verdict.passed
                else "bold white on red")
    text.append(f" promotion gates {held}/{len(verdict.rules)} hold ({verdict.window})")
    for rule in verdict.rules:
        text.append("\n")
        text.append("  ✓ " if rule.passed else "  ✗ ", style="green" if rule.passed else "bold red")
        text.append(f"{rule.name}: ")
        text.append(rule.measured, style="bold")
        # On a line of its own: a rule and its requirement together overflow 80 columns and wrap mid-expression.
        text.append(f"\n      needs {rule.required}", style="dim")
    return text


def timeline_charts(c: "Comparison") -> tuple[LineChart, LineChart]:
    """Agreement and the mean |difference| per bucket; buckets without pairs are left out
    (plotext cannot draw NaN gaps)."""
    def series(values: list[tuple[int, float | None]]) -> tuple[tuple[str, ...], tuple[float, ...]]:
        kept = [(start, value) for start, value in values if value is not None]
        return (tuple(format_ms(start, TimeFormat.DAY_MINUTE) for start, _ in kept),
                tuple(float(value) for _, value in kept))

    what = "agreement" if c.agreement_kind == "label" else f"share within ±{c.tolerance:g}"
    labels, values = series([(b.start, b.agreement) for b in c.timeline])
    agreement = LineChart(f"{what} over time", labels, values)
    labels, values = series([(b.start, b.mean_abs_diff) for b in c.timeline])
    diff = LineChart("mean |score difference| over time" if c.task != "regression" else
                     "mean |prediction difference| over time", labels, values)
    return agreement, diff


class ComparePanel(VerticalScroll):
    """Shows one ``CompareView``; focusable, so its keys work while the tab is open."""

    DEFAULT_CSS = """
    ComparePanel { height: 1fr; padding: 0 1; }
    ComparePanel > Static { height: auto; margin-bottom: 1; }
    ComparePanel > PlotChart { height: 12; min-height: 8; }
    """

    BINDINGS = [
        Binding("L", "disagreements", "Disagreements", id="compare.disagreements"),
        Binding("P", "promote", "Promote", id="compare.promote"),
        Binding("ctrl+r", "reload", "Reload", id="compare.reload", show=False),
    ]

    class PromoteRequested(Message):
        def __init__(self, view: "CompareView") -> None:
            super().__init__()
            self.view = view

    class ReloadRequested(Message):
        """Compare again now: the screen answers with ``Loaded`` (posted to this panel)."""

    class DisagreementsRequested(Message):
        def __init__(self, query: str) -> None:
            super().__init__()
            self.query = query

    class Loaded(Message):
        def __init__(self, view: "CompareView | None", error: str = "") -> None:
            super().__init__()
            self.view = view
            self.error = error

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.view: CompareView | None = None
        self.loading_since: float | None = None
        self.loaded_at = 0.0

    def compose(self) -> ComposeResult:
        yield Static(Text("opens when shown…", style="dim"), id="compare-head")
        yield Static(id="compare-gates")
        yield Static(id="compare-stats")
        yield Static(id="compare-confusion")
        yield PlotChart(id="compare-agreement-chart")
        yield PlotChart(id="compare-diff-chart")

    def on_show(self) -> None:
        if self.loading_since is None and time.monotonic() - self.loaded_at > STALE_S:
            self.action_reload()

    def action_reload(self) -> None:
        self.loading_since = time.monotonic()
        self.query_one("#compare-head", Static).update(Text("comparing on the logged traffic…", style="dim"))
        self.post_message(self.ReloadRequested())

    def on_compare_panel_loaded(self, message: Loaded) -> None:
        message.stop()
        took = time.monotonic() - (self.loading_since or time.monotonic())
        self.loading_since = None
        self.loaded_at = time.monotonic()
        self.show_view(message.view, message.error, took)

    def show_view(self, view: "CompareView | None", error: str = "", took: float = 0.0) -> None:
        self.view = view
        head = self.query_one("#compare-head", Static)
        parts = [self.query_one(f"#compare-{name}", Static) for name in ("gates", "stats", "confusion")]
        charts = [self.query_one("#compare-agreement-chart", PlotChart), self.query_one("#compare-diff-chart",
                                                                                         PlotChart)]
        if view is None or view.comparison is None:
            head.update(safe_text(error or (view.problem if view else "") or "nothing to compare", style="yellow",
                                  keep_newlines=True))
            # Only the reason is shown: the empty charts' frames would overflow 80x24 into a scrollbar.
            for part in parts:
                part.update("")
                part.display = False
            for chart in charts:
                chart.show(None)
                chart.display = False
            return
        for widget in (*parts[:2], *charts):
            widget.display = True
        c = view.comparison
        title = Text()
        title.append_text(safe_text(c.champion.version, width=20, style="bold"))
        title.append(" champion vs ", style="dim")
        title.append_text(safe_text(c.challenger.version, width=20, style="bold"))
        title.append(f"  last {view.window}  ", style="dim")
        title.append(f"{c.paired:,} paired", style="bold")
        title.append(f" ({_pct(c.share_paired)} of the champion's requests) on {c.join_key}", style="dim")
        title.append("\n")
        title.append_text(agreement_text(c))
        title.append(f"\nL: disagreements in the logs   P: promote   (computed in {took:.1f} s)", style="dim")
        head.update(title)
        parts[0].update(verdict_text(view.verdict, view.gates_problem))
        parts[1].update(stats_table(c))
        confusion = confusion_table(c)
        parts[2].update(Group(confusion) if confusion is not None else "")
        parts[2].display = confusion is not None
        agreement, diff = timeline_charts(c)
        charts[0].show(agreement)
        charts[1].show(diff)

    def action_disagreements(self) -> None:
        query = self.view.disagreement_query if self.view else None
        if query is None:
            self.notify("nothing compared yet", severity="warning")
            return
        self.post_message(self.DisagreementsRequested(query))

    def action_promote(self) -> None:
        if self.view is None or self.view.challenger is None:
            self.notify("no challenger to promote", severity="warning")
            return
        self.post_message(self.PromoteRequested(self.view))
