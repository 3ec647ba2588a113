"""The fleet table: one row per model, updated in place so a refresh neither flickers nor moves the cursor."""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from rich.text import Text
from textual.binding import Binding

from app.timeutil import age_text
from widgets.nav_table import NavTable
from widgets.safe_text import safe_text

COLUMNS = (("name", "Model"), ("version", "Ver"), ("health", "Health"), ("rpm", "Req/m"), ("p95", "p95ms"),
           ("errors", "Err%"), ("drift", "Drift"), ("ready", "Rdy"), ("alerts", "Alrt"))

if TYPE_CHECKING:  # app.fleet (pydantic models) is imported by the worker, off the first paint
    from app.fleet import FleetRow

_HEALTH_STYLE = {"up": "green", "degraded": "yellow", "down": "bold red", "unknown": "dim"}

# Columns other than name and drift take this many cells, padding included (80 columns leave 14 for a name).
FIXED_WIDTH = 66


def _number(value: float | None, *, digits: int = 0) -> str:
    if value is None:
        return "—"
    return f"{value:.{digits}f}" if value < 1000 else f"{value / 1000:.1f}k"


def column_widths(table_width: int) -> tuple[int, int]:
    """(name, drift) widths for a table this wide: 14 and 10 at 80 columns; what a wider terminal
    adds is shared between them (up to 40 each), so long model and feature names are read whole."""
    extra = max(0, table_width - FIXED_WIDTH - 14)
    name_width = max(10, min(40, table_width - FIXED_WIDTH, 14 + extra // 2))
    drift_width = min(40, 10 + extra - (name_width - 14)) if extra else 10
    return name_width, drift_width


def cells(row: FleetRow, name_width: int, drift_width: int = 10) -> tuple[Text, ...]:
    """How one model looks in the table (words carry the meaning; colour only repeats it)."""
    from app.fleet import ERROR_RATE_BAD, ERROR_RATE_WARN

    health = row.health.value
    if row.health_age_ms is not None:
        health += f" {age_text(row.health_age_ms)}"
    error_style = ""
    if row.error_rate is not None and row.error_rate >= ERROR_RATE_BAD:
        error_style = "bold red"
    elif row.error_rate is not None and row.error_rate >= ERROR_RATE_WARN:
        error_style = "yellow"
    if row.drift_features == 0:
        drift, drift_style = "—", "dim"
    elif row.drifted_features == 0:
        drift, drift_style = "ok", ""
    else:
        more = f"+{row.drifted_features - 1}" if row.drifted_features > 1 else ""
        drift, drift_style = f"{row.drift_feature}{more}", "yellow"
    return (
        safe_text(row.name, width=name_width, style="bold"),
        safe_text(row.active_version or "—", width=8),
        Text(health, style=_HEALTH_STYLE.get(row.health.value, "")),
        Text(_number(row.requests_per_min, digits=1 if row.requests_per_min < 100 else 0), justify="right"),
        Text(_number(row.p95_latency_ms), justify="right"),
        Text("—" if row.error_rate is None else f"{row.error_rate * 100:.1f}", style=error_style, justify="right"),
        safe_text(drift, width=drift_width, style=drift_style),
        Text(f"{row.readiness_passed}/{row.readiness_total}",
             style="green" if row.readiness_passed == row.readiness_total else ""),
        Text(str(row.alerts_firing), style="bold red" if row.alerts_firing else "dim", justify="right"),
    )


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
        self._widths: tuple[int, int] = (0, 0)

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

    def show(self, rows: Sequence[FleetRow], name_width: int, drift_width: int = 10) -> None:
        """Show ``rows`` in this order, touching only cells that changed; the cursor stays on its model."""
        keys = [row.name for row in rows]
        fresh = {row.name: cells(row, name_width, drift_width) for row in rows}
        # New widths (a resize) rebuild the rows: an updated cell does not resize its column, so a name
        # widened in place would be clipped by the old column width, with no ellipsis.
        if keys == self._shown and (name_width, drift_width) == self._widths:
            for key in keys:
                old = self._cells.get(key)
                for (column, _), new_cell, old_cell in zip(COLUMNS, fresh[key], old or ((),) * len(COLUMNS)):
                    if _look(new_cell) != _look(old_cell):
                        self.update_cell(key, column, new_cell, update_width=True)  # e.g. "ok" -> a feature name
        else:
            current = self.current_model
            self.clear()
            for column in self.columns.values():  # clear() keeps the widest width ever seen: start over
                column.content_width = column.label.cell_len
            for key in keys:
                self.add_row(*fresh[key], key=key)
            self._shown = keys
            self._widths = (name_width, drift_width)
            if current in keys:
                self.move_cursor(row=keys.index(current), animate=False)
        self._cells = fresh
