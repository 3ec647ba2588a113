"""The fleet table: one row per model, updated in place so a refresh neither flickers nor moves the cursor."""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from rich.cells import cell_len
from rich.text import Text
from textual.binding import Binding

from app.timeutil import age_text
from widgets.nav_table import NavTable
from app.text import clean, safe_text, truncate

COLUMNS = (("name", "Model"), ("version", "Ver"), ("health", "Health"), ("rpm", "Req/m"), ("p95", "p95ms"),
           ("errors", "Err%"), ("drift", "Drift"), ("ready", "Rdy"), ("alerts", "Alrt"))

if TYPE_CHECKING:  # app.views.fleet (pydantic models) is imported by the worker, off the first paint
    from app.views.fleet import FleetRow

from widgets.severity import BAD, HEALTH as _HEALTH_STYLE, QUIET, WARN

# Columns other than name take this many cells, padding included, with Drift at its narrowest
# (80 columns leave 14 for a name). Rdy holds "6/8!" (! = health review overdue).
FIXED_WIDTH = 66
DRIFT_MIN = 9
HEALTH_WORD = 8  # "degraded": the Health column's narrowest width (the state word alone)
# The other columns' widths (content, without padding), fixed: a rebuilt table never waits for the
# DataTable to measure its cells (a table rebuilt under a modal was drawn at its headers' widths).
WIDTHS = {"version": 8, "rpm": 5, "p95": 5, "errors": 5, "ready": 4, "alerts": 4}
OTHERS = FIXED_WIDTH - DRIFT_MIN - HEALTH_WORD  # every column but name, drift and health, padding included
NAME_FLOOR = 10  # a name column is cut below its longest name only when the table is too narrow for it
SHORT_NAME = 6  # a feature name cut shorter than this reads as noise ("la…"): the count is shown instead


def _number(value: float | None, *, digits: int = 0) -> str:
    if value is None:
        return "—"
    return f"{value:.{digits}f}" if value < 1000 else f"{value / 1000:.1f}k"


def column_widths(table_width: int) -> tuple[int, int]:
    """(name, drift) widths for a table this wide before the rows are known: 14 and 9 at 80 columns;
    what a wider terminal adds is shared between them (up to 40 each)."""
    fixed = FIXED_WIDTH
    extra = max(0, table_width - fixed - 14)
    name_width = max(10, min(40, table_width - fixed, 14 + extra // 2))
    drift_width = min(40, DRIFT_MIN + extra - (name_width - 14)) if extra else DRIFT_MIN
    return name_width, drift_width


def urgent_health(row: FleetRow) -> bool:
    """The endpoint is down or degraded, or its last check is too old: its age is what the operator
    needs before how many features drift."""
    return row.health_stale or row.health.value in ("down", "degraded")


def fitted_widths(table_width: int, rows: "Sequence[FleetRow]") -> tuple[int, int, int, int]:
    """(name, drift, health, version) widths fitted to the rows shown, in this order of need (issue 16
    item 5): every name whole; the Health state word and the Drift header; the age of each health check
    (``up 3s ago``); the worst drifting feature's name; then the run's age in the Drift cell. The Drift
    cell shrinks first (``2 feat``, then ``DRIFT``), so at 80 columns names stay whole beside it. When an
    endpoint is down (or degraded, or its check stale), the age of its check comes before the drift
    count: the Drift cells give way to their mark, the Version column lends the cells no version shown
    needs, and a name cut anyway (too long for the table) lends what the other names do not need, so
    ``down 2m ago`` shows whole beside a 15-character name at 80 columns."""
    version_width = WIDTHS["version"]
    if not rows:
        name_width, drift_width = column_widths(table_width)
        return name_width, drift_width, HEALTH_WORD, version_width
    room = max(0, table_width - OTHERS)  # cells for the three contents
    name_need = max(len("Model"), min(40, max(cell_len(clean(row.name)) for row in rows)))
    word_need = max(len("Health"), max(len(row.health_word) for row in rows))
    drift_floor = max(len("Drift"), max(len(drift_cell(row, 0)[0]) for row in rows))  # the count form
    drift_need = min(40, max([drift_floor] + [cell_len(drift_cell(row.model_copy(update={"drift_age_ms": None}),
                                                                  40)[0]) for row in rows]))
    age_need = max([word_need] + [len(health_text(row, compact=True)) for row in rows])
    full_age_need = max([word_need] + [len(health_text(row)) for row in rows])
    name_width = max(min(name_need, NAME_FLOOR), min(name_need, room - word_need - drift_floor))
    rest = room - name_width
    health_width = max(word_need, min(age_need, rest - drift_floor))
    drift_width = max(drift_floor, min(drift_need, rest - health_width))
    spare = rest - health_width - drift_width
    if spare > 0:  # room left: the long form of the health age, then the drift run's age
        grow = min(spare, max(0, full_age_need - health_width))
        health_width, spare = health_width + grow, spare - grow
        aged_need = min(40, max(cell_len(drift_cell(row, 40)[0]) for row in rows))
        drift_width += min(spare, max(0, aged_need - drift_width))
    urgent_need = max([0] + [len(health_text(row, compact=True)) for row in rows if urgent_health(row)])
    if urgent_need > health_width:
        lent = min(urgent_need - health_width, drift_width - len("Drift"))  # DRIFT: the mark still says it
        drift_width, health_width = drift_width - lent, health_width + lent
        version_need = max(len("Ver"), max(cell_len(clean(row.active_version or "—")) for row in rows))
        lent = max(0, min(urgent_need - health_width, version_width - version_need))
        version_width, health_width = version_width - lent, health_width + lent
        if name_need > name_width:  # a name too long for the table is cut anyway: the age is worth more
            whole = max([len("Model"), NAME_FLOOR] + [cell_len(clean(row.name)) for row in rows
                                                       if cell_len(clean(row.name)) <= name_width])
            lent = max(0, min(urgent_need - health_width, name_width - whole))  # the other names stay whole
            name_width, health_width = name_width - lent, health_width + lent
    return name_width, drift_width, health_width, version_width


def drift_cell(row: FleetRow, width: int) -> tuple[str, str]:
    """(text, style) of the Drift cell, counted as the drift screen counts: input features only, the
    worst one named, "+N" more drifting features, "+pred" when the prediction drifts too ("prediction"
    when only it does). Where the name does not fit whole, the marks stay and the name is cut, down to
    SHORT_NAME cells; narrower, the count ("2 feat+p", "2 feat"), then the mark alone ("DRIFT"). Width 0:
    the narrowest form short of the bare mark (what the column must hold)."""
    if row.drift_features == 0 and not row.prediction_drifted:
        return "—", "dim"
    if row.drifted_features == 0 and not row.prediction_drifted:
        return "ok", ""
    if row.drifted_features == 0:
        return ("prediction" if width >= len("prediction") else "pred"), BAD  # width 0: the short form
    count = f"{row.drifted_features} feat"
    if width == 0:
        return count, BAD
    marks = ([f"+{row.drifted_features - 1}"] if row.drifted_features > 1 else []) + (
        ["+pred"] if row.prediction_drifted else [])
    name = clean(row.drift_feature or "?")
    spaced = "".join(" " + mark for mark in marks)
    # Since when it drifts (its run's age, "·9h"), where the cell has room for it whole (wider terminals).
    since = f" ·{age_text(row.drift_age_ms)}" if row.drift_age_ms is not None else ""
    if since and cell_len(name) + len(spaced) + len(since) <= width:
        return name + spaced + since, BAD
    if cell_len(name) + len(spaced) <= width:
        return name + spaced, BAD
    tight = "".join(marks)  # "langu…+pred": a cell more for the name
    if width - len(tight) >= SHORT_NAME:
        return truncate(name, width - len(tight)) + tight, BAD
    for form in (count + ("+p" if row.prediction_drifted else ""), count):
        if len(form) <= width:
            return form, BAD
    return "DRIFT", BAD


def health_text(row: FleetRow, *, compact: bool = False, width: int | None = None) -> str:
    """State plus the age of the check: ``up · 3s ago`` (never ``up 3s``, which reads like uptime);
    ``compact``: ``up 3s ago``. With ``width``: the longest of the two (else the word alone) that fits."""
    if row.health_age_ms is None:
        return row.health_word
    age = age_text(max(0, row.health_age_ms))
    if width is not None:
        for form in (f"{row.health_word} · {age} ago", f"{row.health_word} {age} ago"):
            if len(form) <= width:
                return form
        return row.health_word
    return f"{row.health_word} {age} ago" if compact else f"{row.health_word} · {age} ago"


def error_text(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}"


def rate_text(per_min: float) -> str:
    return _number(per_min, digits=1 if per_min < 100 else 0)


def figures_line(row: FleetRow) -> Text:
    """The fleet row's traffic figures in words, with their source and window: the model screen shows
    exactly these (the same read, app.views.model.figures), so the two never disagree."""
    from app.views.fleet import ERROR_RATE_BAD, ERROR_RATE_WARN

    line = Text(no_wrap=True, overflow="ellipsis")
    line.append("Req/m ", style="dim")
    line.append(rate_text(row.requests_per_min))
    line.append(" · p95 ", style="dim")
    line.append(_number(row.p95_latency_ms) + (" ms" if row.p95_latency_ms is not None else ""))
    line.append(" · Err% ", style="dim")
    bad = row.error_rate is not None and row.error_rate >= ERROR_RATE_BAD
    warn = row.error_rate is not None and row.error_rate >= ERROR_RATE_WARN
    line.append(error_text(row.error_rate), style=BAD if bad else WARN if warn else "")
    line.append(f"  ({row.figures_source})", style="dim")
    return line




def cells(row: FleetRow, name_width: int, drift_width: int = 10, health_width: int = HEALTH_WORD,
          version_width: int = WIDTHS["version"]) -> tuple[Text, ...]:
    """How one model looks in the table (words carry the meaning; colour only repeats it). The Health
    cell is the state word (``stale`` when the check is too old) and the age of the check where it fits
    (``up 3s ago``, ``up · 3s ago``); the status line gives the highlighted row's age in any case."""
    from app.views.fleet import ERROR_RATE_BAD, ERROR_RATE_WARN

    health = health_text(row, width=health_width)
    error_style = ""
    if row.error_rate is not None and row.error_rate >= ERROR_RATE_BAD:
        error_style = BAD
    elif row.error_rate is not None and row.error_rate >= ERROR_RATE_WARN:
        error_style = WARN
    drift, drift_style = drift_cell(row, drift_width)
    return (
        safe_text(row.name, width=name_width, style="bold"),
        safe_text(row.active_version or "—", width=version_width),
        Text(health, style=WARN if row.health_stale else _HEALTH_STYLE.get(row.health.value, "")),
        Text(rate_text(row.requests_per_min), justify="right"),
        Text(_number(row.p95_latency_ms), justify="right"),
        Text(error_text(row.error_rate), style=error_style, justify="right"),
        Text(drift, style=drift_style, no_wrap=True, end=""),
        _ready_cell(row),
        Text(str(row.alerts_firing), style=BAD if row.alerts_firing else QUIET, justify="right"),
    )


def _ready_cell(row: FleetRow) -> Text:
    """"6/8", with "!" when the model's monthly health review is overdue (the status line says it in words)."""
    cell = Text(f"{row.readiness_passed}/{row.readiness_total}",
                style="green" if row.readiness_passed == row.readiness_total else "")
    if row.review_overdue:
        cell.append("!", style="bold yellow")
    return cell


def _look(cell: object) -> object:
    return (cell.plain, str(cell.style), cell.spans) if isinstance(cell, Text) else cell


class FleetTable(NavTable):
    """A table of ``FleetRow``s keyed by model name."""

    # Replaces DataTable's hidden enter (select_cursor -> RowSelected, which the screen turns into
    # "open"), so the key bar and help show it and the keymap can move it.
    BINDINGS = [Binding("enter", "select_cursor", "Open", id="fleet.open")]

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self._shown: list[str] = []
        self._cells: dict[str, tuple[Text, ...]] = {}
        self._widths: tuple[int, int, int, int] = (0, 0, 0, 0)

    def on_mount(self) -> None:
        for key, label in COLUMNS:
            self.add_column(label, key=key)

    @property
    def shown_models(self) -> list[str]:
        """Model names in the order shown (the row keys)."""
        return list(self._shown)

    @property
    def current_model(self) -> str | None:
        if not self._shown or self.cursor_row < 0 or self.cursor_row >= len(self._shown):
            return None
        return self._shown[self.cursor_row]

    def show(self, rows: Sequence[FleetRow], name_width: int, drift_width: int = 10,
             health_width: int = HEALTH_WORD, version_width: int = WIDTHS["version"]) -> None:
        """Show ``rows`` in this order, touching only cells that changed; the cursor stays on its model."""
        keys = [row.name for row in rows]
        widths = (name_width, drift_width, health_width, version_width)
        fresh = {row.name: cells(row, *widths) for row in rows}
        # New widths (a resize) rebuild the rows: an updated cell does not resize its column, so a name
        # widened in place would be clipped by the old column width, with no ellipsis.
        if keys == self._shown and widths == self._widths:
            for key in keys:
                old = self._cells.get(key)
                for (column, _), new_cell, old_cell in zip(COLUMNS, fresh[key], old or ((),) * len(COLUMNS)):
                    if _look(new_cell) != _look(old_cell):
                        self.update_cell(key, column, new_cell)  # fitted: the widths did not change
        else:
            current = self.current_model
            self.clear()
            by_column = {**WIDTHS, "name": name_width, "drift": drift_width, "health": health_width,
                         "version": version_width}
            for key, column in self.columns.items():
                # Fixed widths, set here: never the widest cell ever seen, never waiting to be measured.
                column.width, column.auto_width = by_column[str(key.value)], False
            self._clear_caches()
            for key in keys:
                self.add_row(*fresh[key], key=key)
            self._shown = keys
            self._widths = widths
            if current in keys:
                self.move_cursor(row=keys.index(current), animate=False)
        self._cells = fresh


def _source(live: int, total: int) -> str:
    if live >= total:
        return "endpoints (1 min)"
    if live == 0:
        return "log (15 min)"
    return f"endpoint (1 min) for {live}, log (15 min) for {total - live}"


def status_summary(count: str, live_rate: int, live: int, total: int, read: str, width: int) -> str:
    """The fleet's status line: ``count`` ("4 models"), where Req/m (``live_rate`` rows from endpoints) and
    p95 / Err% (``live`` rows) come from: the endpoints' metrics over their last minute, or the prediction
    log's last 15 minutes; the order; ``read`` (the time of the read, may be ""). The longest wording that
    fits ``width`` cells."""
    if live_rate == live == 0:
        sources = ["Req/m p95 Err% from the prediction log, last 15 min", "Req/m p95 Err%: log (15 min)"]
    elif live_rate == live == total:
        sources = ["Req/m p95 Err% from endpoint metrics, last minute", "Req/m p95 Err%: endpoints (1 min)"]
    elif live_rate == live:
        sources = [f"Req/m p95 Err% from endpoint metrics (last min) for {live}, the log (15 min) for the rest",
                   f"Req/m p95 Err%: {_source(live, total)}"]
    else:
        sources = [f"Req/m: {_source(live_rate, total)} · p95 Err%: {_source(live, total)}"]
        if live == 0:  # the usual reason, said where there is room
            sources.insert(0, f"Req/m: {_source(live_rate, total)} · p95 Err%: log (15 min), "
                              f"too few requests for endpoint figures")
        sources.append(f"endpoint (1 min): Req/m {live_rate}, p95 Err% {live}; rest: log (15 min)")
    # The time of the read says the screen is live: it is kept before the longer wordings.
    for tail in (f" · worst first{read}", read, ""):
        for source in sources:
            line = f"{count} · {source}"
            if cell_len(line + tail) <= width:
                return line + tail
    return f"{count} · {sources[-1]}"
